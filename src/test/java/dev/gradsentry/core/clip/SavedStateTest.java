package dev.gradsentry.core.clip;

import dev.gradsentry.core.detect.Signal;
import dev.gradsentry.core.state.SavedState;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * A policy restored from its saved state into a fresh copy decides exactly as the original from then on: what a
 * checkpoint needs to continue a run's clipping after a crash.
 */
class SavedStateTest {

    private static final Signal CALM = new Signal(false, false, 0, null, false);
    private static final Signal SPIKE = new Signal(false, true, 9, "global", false);

    @Test
    void everyStatefulPolicyContinuesIdenticallyFromItsSavedState() {
        for (ClipPolicy original : new ClipPolicy[] {new AutoClip(10, 0), new AutoClip(25, 7),
                new ZClip(0.97, 2.5, 5), new AdaptiveClip(50, 8, 0.5, 0.1, 2, 6, 0.02, 0.1, 1, 100)}) {
            Random random = new Random(3);
            for (int i = 0; i < 40; i++) {
                original.decide(Steps.step(i, 1 + random.nextDouble() * (i % 9 == 8 ? 50 : 1)),
                        i % 9 == 8 ? SPIKE : CALM);
            }
            SavedState saved = original.saveState();
            assertFalse(saved.isEmpty(), original.name());
            ClipPolicy restored = ClipPolicies.create(original.name(), original.settings());
            restored.restoreState(new SavedState(saved.values()));
            for (int i = 40; i < 100; i++) {
                double norm = 1 + random.nextDouble() * (i % 7 == 6 ? 80 : 1);
                Signal signal = i % 7 == 6 ? SPIKE : CALM;
                assertEquals(original.decide(Steps.step(i, norm), signal),
                        restored.decide(Steps.step(i, norm), signal), original.name() + " step " + i);
                assertEquals(original.lastChange(), restored.lastChange(), original.name() + " step " + i);
            }
        }
    }

    @Test
    void aStateThatDoesNotFitIsRefusedWithItsName() {
        AdaptiveClip wide = new AdaptiveClip(50, 8, 0.5, 0.1, 2, 6, 0.02, 0.1, 1, 100);
        wide.decide(Steps.step(0, 2), CALM);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new AdaptiveClip(50, 4, 0.5, 0.1, 2, 6, 0.02, 0.1, 1, 100).restoreState(wide.saveState()));
        assertEquals("saved window of layer 0_dense has 8 entries, the policy's window is 4", e.getMessage());
        IllegalArgumentException missing = assertThrows(IllegalArgumentException.class,
                () -> new ZClip(0.97, 2.5, 5).restoreState(SavedState.empty()));
        assertEquals("saved state lacks 'moments'", missing.getMessage());
    }
}
