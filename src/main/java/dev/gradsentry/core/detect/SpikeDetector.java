package dev.gradsentry.core.detect;

import dev.gradsentry.core.probe.LayerStats;
import dev.gradsentry.core.probe.StepStats;

import dev.gradsentry.core.state.SavedState;

import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/**
 * Flags a gradient-norm spike: a step whose global norm, or the norm of any layer, is far above its own recent range.
 *
 * <p>The rule follows ZClip and OLMo-core: an exponential moving mean and variance of the <em>log</em> norm (norms
 * span orders of magnitude, so their logs are closer to normal), a z-score against them, and a threshold. A spike
 * must also be at least {@code minRatio} times the moving (geometric) mean, so that a very steady run does not flag a
 * 10% wobble as many sigmas. Until {@code warmup} steps have been seen, a step is a spike when it is
 * {@value #WARMUP_FACTOR} times {@code minRatio} times the median of the steps before it (from the second step on):
 * gradients of a healthy run often grow tenfold while it leaves its initialisation, so only a jump of two orders of
 * magnitude counts that early (explosions in the first steps of an SGD run are the update-ratio cap's to catch).
 * Spikes do not update the statistics, so one explosion cannot teach the detector that explosions are normal; but
 * a level held for {@value #SUSTAINED} steps in a row is the run's new scale, and the detector takes it in (the verdict
 * of those steps is still a spike), so that it cannot freeze and call every later step a spike.
 */
public final class SpikeDetector {

    public static final String GLOBAL = "global";
    /** During warm-up a spike is this many times {@code minRatio} times the median so far. */
    static final int WARMUP_FACTOR = 50;
    /** Spikes in a row after which their level is taken in as the run's new scale. */
    static final int SUSTAINED = 3;
    /** The key of the consecutive-spike count in the saved state; no layer is named so. */
    private static final String CONSECUTIVE = "#consecutive";

    private final double zThreshold;
    private final double minRatio;
    private final int warmup;
    private final double alpha;
    private final Map<String, Moments> moments = new HashMap<>();
    private int consecutive;

    /**
     * @param zThreshold z-score of the log norm above which a step is a spike
     * @param minRatio   a spike must also exceed the moving geometric mean by this factor
     * @param warmup     steps before z-scores are used
     * @param alpha      EMA decay of the statistics
     */
    public SpikeDetector(double zThreshold, double minRatio, int warmup, double alpha) {
        if (!(zThreshold > 0) || !(minRatio >= 1) || warmup < 2 || !(alpha > 0 && alpha < 1)) {
            throw new IllegalArgumentException("spike detector needs zThreshold > 0, minRatio >= 1, warmup >= 2, "
                    + "0 < alpha < 1; got " + zThreshold + ", " + minRatio + ", " + warmup + ", " + alpha);
        }
        this.zThreshold = zThreshold;
        this.minRatio = minRatio;
        this.warmup = warmup;
        this.alpha = alpha;
    }

    /** The guard's detector: a spike exceeds the moving geometric mean twice over, statistics decay by 0.95. */
    public SpikeDetector(double zThreshold, int warmup) {
        this(zThreshold, 2.0, warmup, 0.95);
    }

    /** The verdict for one finite step: the largest score and where it was. Updates the statistics unless spiking. */
    public Result observe(StepStats step) {
        Result worst = score(GLOBAL, step.globalNorm());
        for (LayerStats l : step.layers()) {
            Result r = score(l.layer(), l.norm());
            if (r.spike() && (!worst.spike() || r.score() > worst.score())) {
                worst = r;
            } else if (!worst.spike() && r.score() > worst.score()) {
                worst = r;
            }
        }
        consecutive = worst.spike() ? consecutive + 1 : 0;
        if (!worst.spike() || consecutive >= SUSTAINED) {
            moments.get(GLOBAL).add(step.globalNorm());
            for (LayerStats l : step.layers()) {
                moments.get(l.layer()).add(l.norm());
            }
        }
        return worst;
    }

    private Result score(String key, double norm) {
        Moments m = moments.computeIfAbsent(key, k -> new Moments());
        if (!(norm > 0) || !Double.isFinite(norm)) {
            return new Result(false, Double.NaN, key, Double.NaN);
        }
        double log = Math.log(norm);
        if (m.count < warmup) {
            if (m.count == 0) {
                return new Result(false, Double.NaN, key, Double.NaN);
            }
            double median = m.warmupMedian();
            boolean spike = norm > minRatio * WARMUP_FACTOR * median;
            return new Result(spike, norm / median, key, norm / median);
        }
        double std = Math.sqrt(m.var);
        double z = std > 0 ? (log - m.mean) / std : 0;
        boolean spike = z > zThreshold && log - m.mean > Math.log(minRatio);
        return new Result(spike, z, key, Math.exp(log - m.mean));
    }

    /** Forgets everything seen, e.g. after a rollback to an earlier state. */
    public void reset() {
        moments.clear();
        consecutive = 0;
    }

    /** The statistics per layer (and {@link #GLOBAL}), for a checkpoint. */
    public SavedState saveState() {
        SavedState s = new SavedState().put(CONSECUTIVE, consecutive);
        moments.forEach((key, m) -> {
            double[] v = new double[3 + m.count];
            v[0] = m.count;
            v[1] = m.mean;
            v[2] = m.var;
            System.arraycopy(m.warm, 0, v, 3, Math.min(m.count, warmup));
            s.put(key, Arrays.copyOf(v, 3 + Math.min(m.count, warmup)));
        });
        return s;
    }

    /** Takes over statistics saved by {@link #saveState()} of a detector with the same settings. */
    public void restoreState(SavedState s) {
        moments.clear();
        consecutive = s.has(CONSECUTIVE) ? (int) s.number(CONSECUTIVE, 0) : 0;
        for (String key : s.suffixes("")) {
            if (key.equals(CONSECUTIVE)) {
                continue;
            }
            double[] v = s.get(key);
            Moments m = new Moments();
            m.count = (int) v[0];
            m.mean = v[1];
            m.var = v[2];
            if (v.length - 3 != Math.min(m.count, warmup)) {
                throw new IllegalArgumentException("saved spike statistics of " + key + " do not match a warm-up of "
                        + warmup);
            }
            System.arraycopy(v, 3, m.warm, 0, v.length - 3);
            moments.put(key, m);
        }
    }

    /**
     * @param spike whether the step is a spike
     * @param score z-score of the log norm (during warm-up: the ratio to the median), NaN when unknown
     * @param where the layer name, or {@link #GLOBAL}
     * @param ratio the norm divided by its recent scale (geometric mean, or the warm-up median)
     */
    public record Result(boolean spike, double score, String where, double ratio) {
    }

    private final class Moments {
        private final double[] warm = new double[warmup];
        private int count;
        private double mean;
        private double var;

        void add(double norm) {
            if (!(norm > 0) || !Double.isFinite(norm)) {
                return;
            }
            double log = Math.log(norm);
            if (count < warmup) {
                warm[count++] = norm;
                if (count == warmup) {
                    double sum = 0;
                    for (double v : warm) {
                        sum += Math.log(v);
                    }
                    mean = sum / warmup;
                    double sq = 0;
                    for (double v : warm) {
                        sq += (Math.log(v) - mean) * (Math.log(v) - mean);
                    }
                    var = sq / warmup;
                }
                return;
            }
            double delta = log - mean;
            mean += (1 - alpha) * delta;
            var = alpha * (var + (1 - alpha) * delta * delta);
            count++;
        }

        double warmupMedian() {
            double[] sorted = Arrays.copyOf(warm, count);
            Arrays.sort(sorted);
            int n = sorted.length;
            return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
        }
    }
}
