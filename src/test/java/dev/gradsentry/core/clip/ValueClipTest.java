package dev.gradsentry.core.clip;

import dev.gradsentry.core.detect.Signal;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

class ValueClipTest {

    @Test
    void clipsEveryValueToTheThresholdOnEveryStep() {
        ValueClip policy = new ValueClip(0.75);
        double[] norms = {0.0, 0.3, 0.75, 2.5, 1e9};
        for (int i = 0; i < norms.length; i++) {
            assertEquals(new ClipDecision.Value(0.75), policy.decide(Steps.step(i, norms[i]), Signal.QUIET));
        }
        assertEquals(new ClipDecision.Value(0.75),
                policy.decide(Steps.step(5, 1e9), new Signal(false, true, 40, "global", true)));
    }

    @Test
    void nameSettingsAndCopy() {
        ValueClip policy = new ValueClip(0.75);
        assertEquals("value", policy.name());
        assertEquals(Map.of("threshold", 0.75), policy.settings());
        assertThrows(UnsupportedOperationException.class, () -> policy.settings().put("threshold", 1.0));
        ClipPolicy copy = policy.copy();
        assertNotSame(policy, copy);
        assertInstanceOf(ValueClip.class, copy);
        assertEquals(policy.settings(), copy.settings());
    }

    @ParameterizedTest
    @ValueSource(doubles = {Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, 0.0, -0.0, -1.0})
    void rejectsThresholdsThatAreNotFinitePositive(double bad) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new ValueClip(bad));
        assertEquals("threshold must be a finite number > 0, was " + bad, e.getMessage());
    }
}
