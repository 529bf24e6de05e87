package dev.gradsentry.core.clip;

import dev.gradsentry.core.detect.Signal;
import dev.gradsentry.core.probe.StepStats;

import dev.gradsentry.core.state.SavedState;

import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * AutoClip (Seetharaman, Wichern, Pardo, Le Roux 2020, "AutoClip: Adaptive Gradient Clipping for Source Separation
 * Networks"): clips the global norm to a percentile of the global norms seen so far.
 *
 * <p>Rule, each step: append the step's unclipped global norm to the history (keeping only the last {@code window}
 * norms, or all of them when {@code window} is 0, the paper's choice); threshold = the {@code percentile}-th
 * percentile of the history, by linear interpolation between closest ranks (numpy's default: rank
 * {@code p / 100 * (n - 1)} in the sorted history); decision {@code GlobalNorm(threshold)}, or {@code None} when the
 * threshold is 0 or not finite. The paper's default percentile is 10.
 *
 * <p>The history is kept sorted, so a step costs one binary search and one array shift: O(window), or O(steps so
 * far) with an unbounded window.
 */
public final class AutoClip implements ClipPolicy {

    public static final String NAME = "autoclip";
    public static final double DEFAULT_PERCENTILE = 10;
    public static final int DEFAULT_WINDOW = 0;

    private final double percentile;
    private final int window;
    /** The history in ascending order; the first {@code size} entries are used. */
    private double[] sorted = new double[16];
    private int size;
    /** The history in arrival order, as a ring, to know which norm leaves a bounded window; null when unbounded. */
    private final double[] arrivals;
    private int oldest;

    public AutoClip(double percentile, int window) {
        this.percentile = Setting.inRange("percentile", percentile, 0, 100);
        this.window = Setting.atLeast("window", window, 0);
        this.arrivals = window > 0 ? new double[window] : null;
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public ClipDecision decide(StepStats step, Signal signal) {
        double norm = step.globalNorm();
        // The guard never passes a non-finite step; should one slip through it must not sit in the history forever.
        if (Double.isFinite(norm)) {
            record(norm);
        }
        if (size == 0) {
            return new ClipDecision.None();
        }
        double threshold = percentile();
        return threshold > 0 && Double.isFinite(threshold)
                ? new ClipDecision.GlobalNorm(threshold)
                : new ClipDecision.None();
    }

    private void record(double norm) {
        if (arrivals != null) {
            if (size == window) {
                remove(arrivals[oldest]);
            }
            arrivals[oldest] = norm;
            oldest = (oldest + 1) % window;
        }
        insert(norm);
    }

    private void insert(double norm) {
        int at = Arrays.binarySearch(sorted, 0, size, norm);
        if (at < 0) {
            at = -at - 1;
        }
        if (size == sorted.length) {
            sorted = Arrays.copyOf(sorted, sorted.length * 2);
        }
        System.arraycopy(sorted, at, sorted, at + 1, size - at);
        sorted[at] = norm;
        size++;
    }

    private void remove(double norm) {
        // Equal norms are interchangeable, so removing whichever copy the search finds is right.
        int at = Arrays.binarySearch(sorted, 0, size, norm);
        System.arraycopy(sorted, at + 1, sorted, at, size - at - 1);
        size--;
    }

    private double percentile() {
        return interpolated(sorted, size, percentile);
    }

    /**
     * The {@code percentile}-th percentile of the first {@code size} values of {@code sorted} (ascending), linear
     * between closest ranks as numpy computes it by default; shared with {@link AdaptiveClip}.
     */
    static double interpolated(double[] sorted, int size, double percentile) {
        double rank = percentile / 100 * (size - 1);
        int below = (int) Math.floor(rank);
        int above = Math.min(below + 1, size - 1);
        double fraction = rank - below;
        return sorted[below] + fraction * (sorted[above] - sorted[below]);
    }

    @Override
    public Map<String, Double> settings() {
        Map<String, Double> settings = new LinkedHashMap<>();
        settings.put("percentile", percentile);
        settings.put("window", (double) window);
        return Collections.unmodifiableMap(settings);
    }

    @Override
    public SavedState saveState() {
        SavedState s = new SavedState().put("sorted", Arrays.copyOf(sorted, size)).put("oldest", oldest);
        if (arrivals != null) {
            s.put("arrivals", arrivals);
        }
        return s;
    }

    @Override
    public void restoreState(SavedState s) {
        double[] history = s.get("sorted");
        if (arrivals != null) {
            double[] ring = s.get("arrivals");
            if (ring.length != window || history.length > window) {
                throw new IllegalArgumentException("saved autoclip window has " + ring.length
                        + " entries, the policy's window is " + window);
            }
            System.arraycopy(ring, 0, arrivals, 0, window);
        }
        sorted = Arrays.copyOf(history, Math.max(16, history.length));
        size = history.length;
        oldest = (int) s.number("oldest", 0);
    }

    @Override
    public String toString() {
        return NAME + settings();
    }
}
