package dev.gradsentry.core.clip;

import dev.gradsentry.core.detect.Signal;
import dev.gradsentry.core.probe.StepStats;

import dev.gradsentry.core.state.SavedState;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * ZClip (Kumar, Owen, Roy Chowdhury, Güra 2025, "ZClip: Adaptive Spike Mitigation for LLM Pre-Training",
 * arXiv:2504.02507): clips the global norm when its z-score against an exponential moving average of past norms
 * exceeds a threshold, with the paper's "reciprocal" clipping that clips harder the larger the spike.
 *
 * <p>Rule: during the first {@code warmup} steps decide {@code None} and collect the global norms; at the end of
 * warm-up set mean = their average and var = their population variance. After warm-up, for a step with norm g:
 * std = sqrt(var), z = (g - mean) / std (0 when std is 0); if z &gt; zThreshold, clipped =
 * mean + zThreshold&sup2; / z * std and the decision is {@code GlobalNorm(clipped)}, else clipped = g and the
 * decision is {@code None}. Then the EMA is updated with the clipped value:
 * mean' = alpha * mean + (1 - alpha) * clipped, var' = alpha * var + (1 - alpha) * (clipped - mean')&sup2;.
 *
 * <p>Defaults are the paper's: alpha 0.97, zThreshold 2.5, warm-up 25 steps.
 */
public final class ZClip implements ClipPolicy {

    public static final String NAME = "zclip";
    public static final double DEFAULT_ALPHA = 0.97;
    public static final double DEFAULT_Z_THRESHOLD = 2.5;
    public static final int DEFAULT_WARMUP = 25;

    private final double alpha;
    private final double zThreshold;
    private final int warmup;
    /** Norms seen so far while warming up; once it reaches {@code warmup} the EMA below is in use. */
    private int warmupSeen;
    /** During warm-up the running average and sum of squared deviations (Welford), afterwards the EMA. */
    private double mean;
    private double squaredDeviations;
    private double var;

    public ZClip(double alpha, double zThreshold, int warmup) {
        this.alpha = Setting.fraction("alpha", alpha);
        this.zThreshold = Setting.positive("zThreshold", zThreshold);
        this.warmup = Setting.atLeast("warmup", warmup, 1);
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public ClipDecision decide(StepStats step, Signal signal) {
        double norm = step.globalNorm();
        // The guard never passes a non-finite step; should one slip through it must not poison the statistics.
        if (!Double.isFinite(norm)) {
            return new ClipDecision.None();
        }
        if (warmupSeen < warmup) {
            warmUp(norm);
            return new ClipDecision.None();
        }
        double std = Math.sqrt(var);
        double z = std == 0 ? 0 : (norm - mean) / std;
        double clipped = norm;
        ClipDecision decision = new ClipDecision.None();
        if (z > zThreshold) {
            clipped = mean + zThreshold * zThreshold / z * std;
            decision = new ClipDecision.GlobalNorm(clipped);
        }
        mean = alpha * mean + (1 - alpha) * clipped;
        // The deviation is taken from the updated mean, as in the authors' reference implementation
        // (github.com/bluorion-com/ZClip, zclip/zclip.py, ZClip._update_ema).
        var = alpha * var + (1 - alpha) * (clipped - mean) * (clipped - mean);
        return decision;
    }

    /** Welford's update: the warm-up can be long, and it needs no buffer and no cancellation-prone sum of squares. */
    private void warmUp(double norm) {
        warmupSeen++;
        double before = mean;
        mean += (norm - before) / warmupSeen;
        squaredDeviations += (norm - before) * (norm - mean);
        if (warmupSeen == warmup) {
            var = squaredDeviations / warmup;
        }
    }

    @Override
    public Map<String, Double> settings() {
        Map<String, Double> settings = new LinkedHashMap<>();
        settings.put("alpha", alpha);
        settings.put("zThreshold", zThreshold);
        settings.put("warmup", (double) warmup);
        return Collections.unmodifiableMap(settings);
    }

    @Override
    public SavedState saveState() {
        return new SavedState().put("moments", warmupSeen, mean, squaredDeviations, var);
    }

    @Override
    public void restoreState(SavedState s) {
        warmupSeen = (int) s.number("moments", 0);
        mean = s.number("moments", 1);
        squaredDeviations = s.number("moments", 2);
        var = s.number("moments", 3);
    }

    @Override
    public String toString() {
        return NAME + settings();
    }
}
