package dev.gradsentry.training;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.BeanDescription;
import com.fasterxml.jackson.databind.DeserializationConfig;
import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.JsonDeserializer;
import com.fasterxml.jackson.databind.Module;
import com.fasterxml.jackson.databind.SerializerProvider;
import com.fasterxml.jackson.databind.deser.std.StdDeserializer;
import com.fasterxml.jackson.databind.module.SimpleDeserializers;
import com.fasterxml.jackson.databind.module.SimpleModule;
import com.fasterxml.jackson.databind.ser.std.StdSerializer;
import dev.gradsentry.core.ExternalName;

import java.io.IOException;
import java.util.Optional;

/** Every enum in JSON as {@link ExternalName} spells it: REST bodies, configuration overlays and saved files. */
public final class EnumJson {

    private EnumJson() {
    }

    /** Writes and reads every enum with that spelling; an unknown name is an error that lists the valid ones. */
    public static Module module() {
        SimpleModule module = new SimpleModule("ExternalName");
        module.addSerializer(Enum.class, new Writer());
        module.setDeserializers(new SimpleDeserializers() {
            @Override
            public JsonDeserializer<?> findEnumDeserializer(Class<?> type, DeserializationConfig config,
                                                            BeanDescription description) {
                return new Reader(type);
            }
        });
        return module;
    }

    @SuppressWarnings("rawtypes")
    private static final class Writer extends StdSerializer<Enum> {
        Writer() {
            super(Enum.class);
        }

        @Override
        public void serialize(Enum value, JsonGenerator out, SerializerProvider provider) throws IOException {
            out.writeString(ExternalName.of(value));
        }
    }

    private static final class Reader extends StdDeserializer<Enum<?>> {
        Reader(Class<?> type) {
            super(type);
        }

        @Override
        @SuppressWarnings({"unchecked", "rawtypes"})
        public Enum<?> deserialize(JsonParser in, DeserializationContext context) throws IOException {
            Class type = handledType();
            if (in.currentToken() != JsonToken.VALUE_STRING) {
                // Not Jackson's default, which takes a number as the constant's position.
                return (Enum<?>) context.handleUnexpectedToken(type, in);
            }
            String text = in.getText();
            Optional<Enum<?>> found = ExternalName.find(type, text);
            if (found.isEmpty()) {
                throw context.weirdStringException(text, type, "not one of " + ExternalName.valid(type));
            }
            return found.get();
        }
    }
}
