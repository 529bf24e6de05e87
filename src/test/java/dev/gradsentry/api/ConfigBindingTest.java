package dev.gradsentry.api;

import dev.gradsentry.config.GradSentryConfig;
import dev.gradsentry.core.intervene.GuardMode;
import dev.gradsentry.core.intervene.GuardSettings;
import dev.gradsentry.core.ExternalName;
import dev.gradsentry.training.GuardPolicy;
import dev.gradsentry.training.RunSpec;
import dev.gradsentry.training.WorkloadKind;
import io.smallrye.config.ConfigMapping;
import org.junit.jupiter.api.Test;

import java.lang.reflect.RecordComponent;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The configuration keys of the guard and the demo run are their records' fields in kebab case, spelled as SmallRye
 * Config spells the mapping's own keys; what a record refuses is reported under its key. Plain Java: the keys are
 * handed in as SmallRye would hand them.
 */
class ConfigBindingTest {

    /** Unknown keys are refused, so a key that is accepted reached its field. */
    @Test
    void everyFieldOfGuardSettingsIsAKeyOfTheGuard() {
        GuardSettings defaults = GuardSettings.defaults();
        Map<String, String> keys = new LinkedHashMap<>();
        for (RecordComponent field : GuardSettings.class.getRecordComponents()) {
            Object value = component(defaults, field);
            keys.put(ConfigMapping.NamingStrategy.KEBAB_CASE.apply(field.getName()),
                    value instanceof Enum<?> e ? ExternalName.of(e) : String.valueOf(value));
        }
        assertEquals(defaults, ConfigBinding.guardPolicy(guard(keys)).guard());
        keys.put("mode", "observe");
        assertEquals(GuardMode.OBSERVE, ConfigBinding.guardPolicy(guard(keys)).guard().mode());
    }

    @Test
    void keysLeftOutKeepTheDefaults() {
        assertEquals(GuardPolicy.defaults(), ConfigBinding.guardPolicy(guard(Map.of())));
    }

    @Test
    void anUnknownKeyIsNamedWithTheValidOnes() {
        InvalidConfigException e = assertThrows(InvalidConfigException.class,
                () -> ConfigBinding.guardPolicy(guard(Map.of("spike-zz", "4"))));
        assertTrue(e.getMessage().startsWith("invalid configuration: gradsentry.guard.spike-zz: "), e.getMessage());
        assertTrue(e.getMessage().contains("; valid: ") && e.getMessage().contains("lr-backoff-factor"),
                e.getMessage());
    }

    @Test
    void aValueTheRecordRefusesIsReportedUnderItsKey() {
        InvalidConfigException e = assertThrows(InvalidConfigException.class,
                () -> ConfigBinding.guardPolicy(guard(Map.of("lr-backoff-factor", "2"))));
        assertTrue(e.getMessage().startsWith("invalid configuration: gradsentry.guard.lr-backoff-factor: "),
                e.getMessage());
        InvalidConfigException wrongType = assertThrows(InvalidConfigException.class,
                () -> ConfigBinding.guardPolicy(guard(Map.of("spike-warmup", "many"))));
        assertTrue(wrongType.getMessage().contains("gradsentry.guard.spike-warmup: the value 'many' is not a whole "
                + "number"), wrongType.getMessage());
    }

    @Test
    void theDemoIsItsWorkloadsDefaultsWithTheKeysGiven() {
        RunSpec spec = ConfigBinding.demoSpec(demo(Map.of("enabled", "true", "workload", "adding",
                "learning-rate", "0.01", "sequence-length", "20")));
        RunSpec defaults = RunSpec.defaults(WorkloadKind.ADDING);
        assertEquals(new RunSpec(defaults.workload(), defaults.cell(), defaults.activation(),
                defaults.recurrentGain(), defaults.hidden(), defaults.optimizer(), 0.01, defaults.batchSize(),
                defaults.steps(), defaults.seed(), defaults.evalInterval(), defaults.evalExamples(), 20), spec);
        InvalidConfigException noWorkload = assertThrows(InvalidConfigException.class,
                () -> ConfigBinding.demoSpec(demo(Map.of("steps", "5"))));
        assertTrue(noWorkload.getMessage().contains("gradsentry.demo.workload: workload is required"),
                noWorkload.getMessage());
    }

    private static Object component(Record r, RecordComponent field) {
        try {
            return field.getAccessor().invoke(r);
        } catch (ReflectiveOperationException e) {
            throw new AssertionError(e);
        }
    }

    private static GradSentryConfig.Guard guard(Map<String, String> keys) {
        return new GradSentryConfig.Guard() {
            @Override
            public Optional<String> policy() {
                return Optional.empty();
            }

            @Override
            public Map<String, Double> policySettings() {
                return Map.of();
            }

            @Override
            public Map<String, String> keys() {
                return keys;
            }
        };
    }

    private static GradSentryConfig.Demo demo(Map<String, String> keys) {
        Map<String, String> all = new LinkedHashMap<>(keys);
        return new GradSentryConfig.Demo() {
            @Override
            public boolean enabled() {
                return true;
            }

            @Override
            public Map<String, String> keys() {
                return all;
            }
        };
    }
}
