package dev.gradsentry.training;

import java.nio.file.Path;
import java.time.Duration;

/**
 * Service-wide settings every run uses, as opposed to the per-run {@link RunSpec}.
 *
 * @param progressInterval how often a run logs a progress line
 * @param updateRatioEvery the probe computes update/parameter ratios on every n-th step (0 never)
 * @param dataDir          where each run keeps its files ({@code runs/<id>/interventions.jsonl}); null keeps
 *                         nothing on disk
 */
public record RunSettings(Duration progressInterval, int updateRatioEvery, Path dataDir) {
    public RunSettings {
        if (progressInterval.isNegative() || progressInterval.isZero()) {
            throw new IllegalArgumentException("progressInterval must be positive");
        }
        if (updateRatioEvery < 0) {
            throw new IllegalArgumentException("updateRatioEvery must be >= 0");
        }
    }
}
