package dev.gradsentry.core.intervene;

import dev.gradsentry.core.InvalidSettingException;

/**
 * The guard's knobs besides its clipping policy, validated.
 *
 * @param mode              auto, observe or off
 * @param snapshotEvery     keep the network's state as the last good one every this many healthy steps
 * @param lrBackoffFactor   multiply the learning rate by this after a rollback, in (0, 1)
 * @param lrRestoreAfter    healthy steps after which a backed-off learning rate is divided by the factor again, up to
 *                          the original; 0 never restores
 * @param maxRecoveries     rollbacks within {@code recoveryWindow} steps after which the guard gives up and pauses
 * @param recoveryWindow    the window, in steps, for {@code maxRecoveries}
 * @param extremeSpikeRatio a spike this many times above the norm's recent scale is skipped, not just clipped
 * @param spikeZ            z-score of the log norm that counts as a spike
 * @param spikeWarmup       steps before z-scores are used
 * @param divergenceFactor  a loss this many times its recent mean counts as diverging...
 * @param divergencePatience ...for this many consecutive steps
 * @param maxSkippedShare   the guard pauses once more than this share of the steps seen (at least 200) were skipped
 *                          or rolled back, in (0, 1]
 */
public record GuardSettings(GuardMode mode, int snapshotEvery, double lrBackoffFactor, int lrRestoreAfter,
                            int maxRecoveries, int recoveryWindow, double extremeSpikeRatio, double spikeZ,
                            int spikeWarmup, double divergenceFactor, int divergencePatience,
                            double maxSkippedShare) {

    public GuardSettings {
        require(mode != null, "mode", "is required (auto, observe, off)");
        require(snapshotEvery >= 1, "snapshotEvery", "must be >= 1");
        require(lrBackoffFactor > 0 && lrBackoffFactor < 1, "lrBackoffFactor", "must be in (0, 1)");
        require(lrRestoreAfter >= 0, "lrRestoreAfter", "must be >= 0 (0 never restores)");
        require(maxRecoveries >= 1, "maxRecoveries", "must be >= 1");
        require(recoveryWindow >= 1, "recoveryWindow", "must be >= 1");
        require(extremeSpikeRatio > 1 && Double.isFinite(extremeSpikeRatio), "extremeSpikeRatio", "must be > 1");
        require(spikeZ > 0 && Double.isFinite(spikeZ), "spikeZ", "must be > 0");
        require(spikeWarmup >= 2, "spikeWarmup", "must be >= 2");
        require(divergenceFactor > 1 && Double.isFinite(divergenceFactor), "divergenceFactor", "must be > 1");
        require(divergencePatience >= 1, "divergencePatience", "must be >= 1");
        require(maxSkippedShare > 0 && maxSkippedShare <= 1, "maxSkippedShare", "must be in (0, 1]");
    }

    public static GuardSettings defaults() {
        return new GuardSettings(GuardMode.AUTO, 50, 0.5, 0, 8, 1000, 1000, 4.0, 20, 3.0, 3, 0.05);
    }

    public GuardSettings withMode(GuardMode m) {
        return new GuardSettings(m, snapshotEvery, lrBackoffFactor, lrRestoreAfter, maxRecoveries, recoveryWindow,
                extremeSpikeRatio, spikeZ, spikeWarmup, divergenceFactor, divergencePatience, maxSkippedShare);
    }

    private static void require(boolean ok, String field, String rule) {
        if (!ok) {
            throw new InvalidSettingException(field, field + " " + rule);
        }
    }
}
