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

class ParamNormClipTest {

    @Test
    void clipsEveryParameterToTheThresholdOnEveryStep() {
        ParamNormClip policy = new ParamNormClip(0.75);
        double[] norms = {0.0, 0.3, 0.75, 2.5, 1e9};
        for (int i = 0; i < norms.length; i++) {
            assertEquals(new ClipDecision.ParamNorm(0.75), policy.decide(Steps.step(i, norms[i]), Signal.QUIET));
        }
        assertEquals(new ClipDecision.ParamNorm(0.75),
                policy.decide(Steps.step(5, 1e9), new Signal(false, true, 40, "global", true)));
    }

    @Test
    void nameSettingsAndCopy() {
        ParamNormClip policy = new ParamNormClip(0.75);
        assertEquals("param-norm", policy.name());
        assertEquals(Map.of("threshold", 0.75), policy.settings());
        assertThrows(UnsupportedOperationException.class, () -> policy.settings().put("threshold", 1.0));
        ClipPolicy copy = policy.copy();
        assertNotSame(policy, copy);
        assertInstanceOf(ParamNormClip.class, copy);
        assertEquals(policy.settings(), copy.settings());
    }

    @ParameterizedTest
    @ValueSource(doubles = {Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, 0.0, -0.0, -1.0})
    void rejectsThresholdsThatAreNotFinitePositive(double bad) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new ParamNormClip(bad));
        assertEquals("threshold must be a finite number > 0, was " + bad, e.getMessage());
    }
}
