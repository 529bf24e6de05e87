package dev.gradsentry.core.clip;

import dev.gradsentry.core.detect.Signal;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotSame;

class NoClipTest {

    @Test
    void neverClipsWhateverTheNormOrSignal() {
        NoClip policy = new NoClip();
        double[] norms = {0.0, 0.3, 1.0, 2.5, 1e9};
        for (int i = 0; i < norms.length; i++) {
            assertEquals(new ClipDecision.None(), policy.decide(Steps.step(i, norms[i]), Signal.QUIET));
        }
        assertEquals(new ClipDecision.None(),
                policy.decide(Steps.step(5, 1e9), new Signal(false, true, 40, "global", true)));
    }

    @Test
    void nameSettingsAndCopy() {
        NoClip policy = new NoClip();
        assertEquals("none", policy.name());
        assertEquals(Map.of(), policy.settings());
        ClipPolicy copy = ClipPolicies.create(policy.name(), policy.settings());
        assertNotSame(policy, copy);
        assertInstanceOf(NoClip.class, copy);
        assertEquals(Map.of(), copy.settings());
    }
}
