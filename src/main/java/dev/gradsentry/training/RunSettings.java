package dev.gradsentry.training;

import java.nio.file.Path;
import java.time.Duration;

/**
 * Service-wide settings every run uses, as opposed to the per-run {@link RunSpec}.
 *
 * @param progressInterval how often a run logs a progress line
 * @param updateRatioEvery the probe computes update/parameter ratios on every n-th step (0 never)
 * @param dataDir          where each run keeps its files ({@code runs/<id>/interventions.jsonl} and checkpoints);
 *                         null keeps nothing on disk
 * @param checkpointEvery  steps between checkpoints (a run also writes one at its start, after every step with an
 *                         intervention, and at its end)
 * @param checkpointKeep   checkpoint files kept per run, newest first
 * @param stepsKeepBytes   the most a run's per-step history ({@link StepHistory}) may take on disk; the oldest steps
 *                         go first
 */
public record RunSettings(Duration progressInterval, int updateRatioEvery, Path dataDir, int checkpointEvery,
                          int checkpointKeep, long stepsKeepBytes) {

    public static final int DEFAULT_CHECKPOINT_EVERY = 500;
    public static final int DEFAULT_CHECKPOINT_KEEP = 3;
    /**
     * 256 MiB: 210,000 to 300,000 steps of a 100-layer network (876 to 1,276 bytes a step, docs/rest-api.md),
     * 3.6 million of the 3-layer demo MLP.
     */
    public static final int DEFAULT_STEPS_KEEP_MIB = 256;

    /** With the default retention of the step history. */
    public RunSettings(Duration progressInterval, int updateRatioEvery, Path dataDir, int checkpointEvery,
                       int checkpointKeep) {
        this(progressInterval, updateRatioEvery, dataDir, checkpointEvery, checkpointKeep,
                DEFAULT_STEPS_KEEP_MIB * 1024L * 1024L);
    }

    public RunSettings {
        if (checkpointEvery < 1) {
            throw new IllegalArgumentException("checkpointEvery must be >= 1");
        }
        if (checkpointKeep < 1) {
            throw new IllegalArgumentException("checkpointKeep must be >= 1");
        }
        if (progressInterval.isNegative() || progressInterval.isZero()) {
            throw new IllegalArgumentException("progressInterval must be positive");
        }
        if (stepsKeepBytes < 1024 * 1024) {
            throw new IllegalArgumentException("stepsKeepBytes must be >= 1 MiB");
        }
        if (updateRatioEvery < 0) {
            throw new IllegalArgumentException("updateRatioEvery must be >= 0");
        }
    }
}
