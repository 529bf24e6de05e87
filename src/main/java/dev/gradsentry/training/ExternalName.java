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

import java.io.IOException;
import java.util.Arrays;
import java.util.Locale;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * How an enum constant is spelled outside Java: in REST bodies, configuration values, metric labels, log lines and
 * saved files. Lower case, words joined by {@code -}: {@code FASHION_MLP} is {@code fashion-mlp}, {@code LR_BACKOFF}
 * is {@code lr-backoff}, the spelling SmallRye Config's enum converter reads too. Reading ignores case and takes
 * {@code _} for {@code -}, so files written before this spelling ({@code FASHION_MLP}) still read.
 */
public final class ExternalName {

    private ExternalName() {
    }

    public static String of(Enum<?> constant) {
        return constant.name().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    /** The constant spelled {@code name}, if there is one. */
    public static <E extends Enum<E>> Optional<E> find(Class<E> type, String name) {
        String wanted = name.replace('_', '-');
        return Arrays.stream(type.getEnumConstants()).filter(c -> of(c).equalsIgnoreCase(wanted)).findFirst();
    }

    /** Every constant's name, in declaration order, for messages that say what is valid. */
    public static String valid(Class<? extends Enum<?>> type) {
        return Arrays.stream(type.getEnumConstants()).map(ExternalName::of).collect(Collectors.joining(", "));
    }

    /** Writes and reads every enum with this spelling; an unknown name is an error that lists the valid ones. */
    public static Module jackson() {
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
            out.writeString(of(value));
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
            Optional<Enum<?>> found = find(type, text);
            if (found.isEmpty()) {
                throw context.weirdStringException(text, type, "not one of " + valid(type));
            }
            return found.get();
        }
    }
}
