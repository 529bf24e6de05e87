package dev.gradsentry.bench;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code ./bench unseen} runs each network kind and contender kind it names, and says what happened. */
class UnseenBenchTest {

    @Test
    void aGuardedGraphAndAClippedConvolutionTrainAndReport() {
        String guarded = UnseenBench.run(new String[] {"cg-residual", "sgd", "1", "3", "42", "guard"});
        // SGD lr 1 moves this graph's weights far more than a tenth in one step: the cap engages at step 0
        assertTrue(guarded.startsWith("RESULT cg-residual sgd 1 42 guard acc "), guarded);
        assertTrue(guarded.contains(" 0:CLIP_ENABLE/update-ratio"), guarded);
        String clipped = UnseenBench.run(new String[] {"conv1d", "nesterov", "0.01", "3", "42", "global-norm:0.1"});
        assertTrue(clipped.matches("RESULT conv1d nesterov 0.01 42 global-norm:0.1 acc 0\\.\\d{4} events 0 end ok hash "
                + "-?\\d+"), clipped);
    }

    @Test
    void theRegressionReportsItsSquaredErrorAndTheImageConvolutionTrainsOnAdam() {
        String regression = UnseenBench.run(new String[] {"regression", "sgd", "0.3", "3", "42", "guard"});
        // a target of variance ~40 at SGD 0.3: the first step would move the weights by far more than a tenth
        assertTrue(regression.startsWith("RESULT regression sgd 0.3 42 guard mse "), regression);
        assertTrue(regression.contains(" 0:CLIP_ENABLE/update-ratio"), regression);
        String cnn = UnseenBench.run(new String[] {"cnn2d", "adam", "0.001", "2", "42", "norm:1"});
        assertTrue(cnn.matches("RESULT cnn2d adam 0.001 42 norm:1 acc 0\\.\\d{4} events 0 end ok hash -?\\d+"), cnn);
    }

    @Test
    void theSameSeedGivesTheSameParameters() {
        String[] args = {"lstm", "sgd", "0.5", "2", "43", "none"};
        assertEquals(UnseenBench.run(args), UnseenBench.run(args));
    }
}
