package dev.gradsentry.core.clip;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ClipPoliciesTest {

    @Test
    void namesListEveryPolicy() {
        assertEquals(List.of("none", "value", "norm", "param-norm", "global-norm", "autoclip", "zclip", "agc",
                        "adaptive"),
                ClipPolicies.names());
    }

    @Test
    void everyNameCreatesItsPolicy() {
        Map<String, Class<? extends ClipPolicy>> classes = Map.of("none", NoClip.class, "value", FixedClip.class,
                "norm", FixedClip.class, "param-norm", FixedClip.class, "global-norm", FixedClip.class,
                "autoclip", AutoClip.class, "zclip", ZClip.class, "agc", Agc.class, "adaptive", AdaptiveClip.class);
        assertEquals(classes.keySet(), Set.copyOf(ClipPolicies.names()));
        for (String name : ClipPolicies.names()) {
            ClipPolicy policy = ClipPolicies.create(name, Map.of());
            assertInstanceOf(classes.get(name), policy);
            assertEquals(name, policy.name());
            assertEquals(ClipPolicies.defaults(name), policy.settings());
        }
    }

    @Test
    void defaults() {
        assertEquals(Map.of(), ClipPolicies.defaults("none"));
        for (String name : List.of("value", "norm", "param-norm", "global-norm")) {
            assertEquals(Map.of("threshold", 1.0), ClipPolicies.defaults(name));
        }
        assertEquals(Map.of("percentile", 10.0, "window", 0.0), ClipPolicies.defaults("autoclip"));
        assertEquals(Map.of("alpha", 0.97, "zThreshold", 2.5, "warmup", 25.0), ClipPolicies.defaults("zclip"));
        assertEquals(List.of("alpha", "zThreshold", "warmup"), List.copyOf(ClipPolicies.defaults("zclip").keySet()));
        assertEquals(Map.of("lambda", 0.01, "eps", 1e-3), ClipPolicies.defaults("agc"));
    }

    @Test
    void givenSettingsOverrideTheDefaultsAndMissingOnesKeepThem() {
        assertEquals(Map.of("threshold", 0.5), ClipPolicies.create("value", Map.of("threshold", 0.5)).settings());
        assertEquals(Map.of("percentile", 10.0, "window", 200.0),
                ClipPolicies.create("autoclip", Map.of("window", 200.0)).settings());
        assertEquals(Map.of("alpha", 0.9, "zThreshold", 3.0, "warmup", 10.0),
                ClipPolicies.create("zclip", Map.of("alpha", 0.9, "zThreshold", 3.0, "warmup", 10.0)).settings());
        assertEquals(Map.of("lambda", 0.05, "eps", 1e-3),
                ClipPolicies.create("agc", Map.of("lambda", 0.05)).settings());
        assertEquals(Map.of("threshold", 1.0), ClipPolicies.create("global-norm", null).settings());
    }

    @Test
    void aPolicysSettingsRecreateIt() {
        List<ClipPolicy> policies = List.of(new NoClip(), FixedClip.value(0.3), FixedClip.norm(2),
                FixedClip.paramNorm(4), FixedClip.globalNorm(8), new AutoClip(37.5, 64), new ZClip(0.8, 3, 7),
                new Agc(0.02, 1e-4));
        for (ClipPolicy policy : policies) {
            ClipPolicy again = ClipPolicies.create(policy.name(), policy.settings());
            assertEquals(policy.getClass(), again.getClass());
            // FixedClip serves four policies, so the class alone does not tell them apart.
            assertEquals(policy.name(), again.name());
            assertEquals(policy.settings(), again.settings());
        }
    }

    @Test
    void anUnknownNameIsNamedWithTheValidNames() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ClipPolicies.create("clipall", Map.of()));
        assertTrue(e.getMessage().contains("'clipall'"), e.getMessage());
        assertTrue(e.getMessage().contains(ClipPolicies.names().toString()), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> ClipPolicies.defaults("clipall"));
        assertThrows(IllegalArgumentException.class, () -> ClipPolicies.create(null, Map.of()));
        assertThrows(IllegalArgumentException.class, () -> ClipPolicies.create("adaptive",
                Map.of("tightenFactor", 1.5)));
    }

    @Test
    void anUnknownKeyIsNamedWithTheValidKeys() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ClipPolicies.create("zclip", Map.of("alpha", 0.9, "threshold", 1.0)));
        assertEquals("unknown setting 'threshold' for clip policy 'zclip', valid settings: [alpha, zThreshold, warmup]",
                e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> ClipPolicies.create("none", Map.of("threshold", 1.0)));
        assertEquals("unknown setting 'threshold' for clip policy 'none', valid settings: []", e.getMessage());
    }

    @Test
    void invalidValuesAreRejectedByTheirPolicy() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ClipPolicies.create("global-norm", Map.of("threshold", -1.0)));
        assertEquals("threshold must be a finite number > 0, was -1.0", e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> ClipPolicies.create("autoclip", Map.of("percentile", Double.NaN)));
        assertTrue(e.getMessage().startsWith("percentile must be"), e.getMessage());
        Map<String, Double> nullValue = new HashMap<>();
        nullValue.put("threshold", null);
        e = assertThrows(IllegalArgumentException.class, () -> ClipPolicies.create("value", nullValue));
        assertEquals("threshold must be a number, was null", e.getMessage());
    }

    @ParameterizedTest
    @ValueSource(doubles = {-1, 2.5, Double.NaN, Double.POSITIVE_INFINITY, 3e9})
    void windowMustBeAWholeNumberAtLeastZero(double bad) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ClipPolicies.create("autoclip", Map.of("window", bad)));
        assertEquals("window must be a whole number >= 0, was " + bad, e.getMessage());
    }

    @ParameterizedTest
    @ValueSource(doubles = {0, -3, 0.5, Double.NaN})
    void warmupMustBeAWholeNumberAtLeastOne(double bad) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ClipPolicies.create("zclip", Map.of("warmup", bad)));
        assertEquals("warmup must be a whole number >= 1, was " + bad, e.getMessage());
    }

    @Test
    void wholeNumbersAreAccepted() {
        assertEquals(0.0, ClipPolicies.create("autoclip", Map.of("window", 0.0)).settings().get("window"));
        assertEquals(1.0, ClipPolicies.create("zclip", Map.of("warmup", 1.0)).settings().get("warmup"));
    }
}
