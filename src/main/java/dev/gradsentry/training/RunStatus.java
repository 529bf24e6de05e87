package dev.gradsentry.training;

import java.time.Instant;

/**
 * A consistent snapshot of one run, safe to hand to other threads.
 *
 * @param step           training steps completed
 * @param epoch          passes over the training data completed
 * @param loss           minibatch loss of the last step, NaN before the first
 * @param globalNorm     global L2 norm of the last step's batch-averaged gradient, NaN before the first
 * @param evaluation     the latest evaluation on held-out data, null before the first
 * @param stepsPerSecond average training speed since the run started
 * @param error          why a failed run failed, null otherwise
 */
public record RunStatus(String id, RunSpec spec, RunState state, long step, int epoch, double loss, double globalNorm,
                        Evaluation evaluation, double stepsPerSecond, Instant startedAt, Instant endedAt,
                        String error) {
}
