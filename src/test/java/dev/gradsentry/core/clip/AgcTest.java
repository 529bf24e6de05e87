package dev.gradsentry.core.clip;

import dev.gradsentry.core.detect.Signal;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

class AgcTest {

    @Test
    void asksForUnitWiseClippingOnEveryStep() {
        Agc policy = new Agc(0.02, 1e-4);
        double[] norms = {0.0, 0.3, 1.0, 2.5, 1e9};
        for (int i = 0; i < norms.length; i++) {
            assertEquals(new ClipDecision.UnitWise(0.02, 1e-4), policy.decide(Steps.step(i, norms[i]), Signal.QUIET));
        }
    }

    @Test
    void nameSettingsInOrderAndCopy() {
        Agc policy = new Agc(0.02, 1e-4);
        assertEquals("agc", policy.name());
        assertEquals(Map.of("lambda", 0.02, "eps", 1e-4), policy.settings());
        assertEquals(List.of("lambda", "eps"), List.copyOf(policy.settings().keySet()));
        assertThrows(UnsupportedOperationException.class, () -> policy.settings().put("eps", 1.0));
        ClipPolicy copy = ClipPolicies.create(policy.name(), policy.settings());
        assertNotSame(policy, copy);
        assertInstanceOf(Agc.class, copy);
        assertEquals(policy.settings(), copy.settings());
    }

    @ParameterizedTest
    @ValueSource(doubles = {Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, 0.0, -0.01})
    void rejectsSettingsThatAreNotFinitePositive(double bad) {
        assertEquals("lambda must be a finite number > 0, was " + bad,
                assertThrows(IllegalArgumentException.class, () -> new Agc(bad, 1e-3)).getMessage());
        assertEquals("eps must be a finite number > 0, was " + bad,
                assertThrows(IllegalArgumentException.class, () -> new Agc(0.01, bad)).getMessage());
    }
}
