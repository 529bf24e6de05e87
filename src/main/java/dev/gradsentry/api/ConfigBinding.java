package dev.gradsentry.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.exc.InvalidFormatException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.gradsentry.config.GradSentryConfig;
import dev.gradsentry.core.InvalidSettingException;
import dev.gradsentry.core.intervene.GuardSettings;
import dev.gradsentry.core.ExternalName;
import dev.gradsentry.training.EnumJson;
import dev.gradsentry.training.GuardPolicy;
import dev.gradsentry.training.RunSpec;

import java.util.Map;
import java.util.function.Predicate;
import java.util.stream.Collectors;

/**
 * Where the configuration groups that mirror a record become that record: {@code gradsentry.guard.*} a
 * {@link GuardPolicy}, {@code gradsentry.demo.*} the demo's {@link RunSpec}. Their keys are the records' fields in
 * kebab case ({@code spike-z} is {@link GuardSettings#spikeZ()}), so a field added to a record is a key at once, with
 * the record's default and rule; only the keys that are not fields of the record are named here. A key the record
 * lacks, a value of the wrong type or one the record refuses is an {@link InvalidConfigException} naming the key.
 */
final class ConfigBinding {

    private static final PropertyNamingStrategies.NamingBase KEBAB = new PropertyNamingStrategies.KebabCaseStrategy();
    /** Values arrive as text, so unlike a REST body "4" may be the number 4. */
    private static final Overlay OVERLAY = new Overlay(new ObjectMapper()
            .setPropertyNamingStrategy(KEBAB)
            .registerModule(EnumJson.module()));

    private static final String GUARD = "gradsentry.guard";
    private static final String DEMO = "gradsentry.demo";

    private ConfigBinding() {
    }

    static GuardPolicy guardPolicy(GradSentryConfig.Guard guard) {
        // policy and policy-settings.<name> are GradSentryConfig.Guard's own keys; the others are GuardSettings'.
        ObjectNode settings = fields(guard.keys(), key -> !key.equals("policy") && !key.startsWith("policy-settings."));
        return bound(GUARD, () -> {
            GuardPolicy defaults = GuardPolicy.defaults();
            return new GuardPolicy(guard.policy().orElse(defaults.policy()), guard.policySettings(),
                    OVERLAY.apply(defaults.guard(), settings));
        });
    }

    static RunSpec demoSpec(GradSentryConfig.Demo demo) {
        // enabled is GradSentryConfig.Demo's own key; the others are RunSpec's.
        return bound(DEMO, () -> OVERLAY.runSpec(fields(demo.keys(), key -> !key.equals("enabled"))));
    }

    private static ObjectNode fields(Map<String, String> keys, Predicate<String> wanted) {
        ObjectNode fields = new ObjectMapper().createObjectNode();
        keys.forEach((key, value) -> {
            if (wanted.test(key)) {
                fields.put(key, value);
            }
        });
        return fields;
    }

    private interface Binding<T> {
        T bind() throws JsonProcessingException;
    }

    private static <T> T bound(String group, Binding<T> binding) {
        try {
            return binding.bind();
        } catch (InvalidSettingException e) {
            throw new InvalidConfigException(key(group, e.field()), e.getMessage());
        } catch (UnrecognizedPropertyException e) {
            throw new InvalidConfigException(key(group, e.getPropertyName()), "is not a key of " + group + "; valid: "
                    + e.getKnownPropertyIds().stream().map(Object::toString).sorted()
                    .collect(Collectors.joining(", ")));
        } catch (InvalidFormatException e) {
            throw new InvalidConfigException(key(group, FieldPath.of(e)), "the value '" + e.getValue() + "' is not "
                    + (e.getTargetType().isEnum() ? "valid; valid: " + ExternalName.valid(enumType(e))
                    : expected(e.getTargetType())));
        } catch (JsonMappingException e) {
            throw new InvalidConfigException(key(group, FieldPath.of(e)), e.getOriginalMessage());
        } catch (JsonProcessingException e) {
            throw new InvalidConfigException(group, e.getOriginalMessage());
        }
    }

    /** The configuration key of a record field: {@code spikeZ} of the guard is {@code gradsentry.guard.spike-z}. */
    private static String key(String group, String field) {
        return field == null || field.isEmpty() ? group : group + "." + KEBAB.translate(field);
    }

    private static String expected(Class<?> type) {
        if (type == int.class || type == long.class || type == Integer.class || type == Long.class) {
            return "a whole number";
        }
        if (type == double.class || type == Double.class) {
            return "a number";
        }
        return type == boolean.class || type == Boolean.class ? "true or false" : "a " + type.getSimpleName();
    }

    @SuppressWarnings("unchecked")
    private static Class<? extends Enum<?>> enumType(InvalidFormatException e) {
        return (Class<? extends Enum<?>>) e.getTargetType();
    }
}
