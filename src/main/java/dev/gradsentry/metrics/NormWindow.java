package dev.gradsentry.metrics;

import java.time.Duration;
import java.util.Arrays;

/**
 * The largest and smallest value of a few series (the global norm and each layer's) over a sliding window of time,
 * so that a scrape sees every step since the window began, not only the last one.
 *
 * <p>The window is a ring of {@link #SLICES} + 1 time slices of {@code window / SLICES} each. A step only updates the
 * slice of its time: one comparison per series, no allocation. A reader takes every slice no older than the window,
 * so what it reports covers at least the last {@code window} (and at most {@code window / SLICES} more). Reading
 * changes nothing, so any number of scrapers see the same values; unlike Micrometer's {@code TimeWindowMax} it keeps
 * the minimum too and does not depend on who reads when.
 *
 * <p>One thread writes (the training thread), any thread reads. A reader racing with the reuse of the oldest slice
 * at worst misses that slice's values, which have already left the window.
 */
final class NormWindow {

    /** Slices per window: more means a tighter upper bound on the time covered, and more work per read. */
    static final int SLICES = 3;

    private final long sliceNanos;
    private final int series;
    /** {@code max[slice * series + s]}; NaN where a slice saw no finite value of series {@code s}. */
    private final double[] max;
    private final double[] min;
    /** The slice number ({@code nanos / sliceNanos}) each ring slot holds; Long.MIN_VALUE while empty. */
    private final long[] sliceOf = new long[SLICES + 1];
    /** Written after each step's values, read before a read's: the JMM's edge between the two threads. */
    private volatile long published = Long.MIN_VALUE;

    NormWindow(Duration window, int series) {
        if (window.toNanos() < SLICES) {
            throw new IllegalArgumentException("window must be positive, was " + window);
        }
        this.sliceNanos = window.toNanos() / SLICES;
        this.series = series;
        max = new double[(SLICES + 1) * series];
        min = new double[(SLICES + 1) * series];
        Arrays.fill(max, Double.NaN);
        Arrays.fill(min, Double.NaN);
        Arrays.fill(sliceOf, Long.MIN_VALUE);
    }

    int series() {
        return series;
    }

    /** The slot of the slice at {@code nanos}, cleared first if it held an older slice. Training thread only. */
    int slot(long nanos) {
        long slice = Math.floorDiv(nanos, sliceNanos);
        int slot = (int) Math.floorMod(slice, (long) sliceOf.length);
        if (sliceOf[slot] != slice) {
            sliceOf[slot] = Long.MIN_VALUE;
            Arrays.fill(max, slot * series, (slot + 1) * series, Double.NaN);
            Arrays.fill(min, slot * series, (slot + 1) * series, Double.NaN);
            sliceOf[slot] = slice;
        }
        return slot;
    }

    /** Takes {@code value} into series {@code s} of the slot {@link #slot} returned; NaN is ignored. */
    void observe(int slot, int s, double value) {
        int i = slot * series + s;
        // NaN fails both comparisons, and an empty slot holds NaN: the first finite (or infinite) value replaces it.
        if (value > max[i] || (max[i] != max[i] && value == value)) {
            max[i] = value;
        }
        if (value < min[i] || (min[i] != min[i] && value == value)) {
            min[i] = value;
        }
    }

    /** Makes the step's values visible to readers. Training thread only, once per step. */
    void publish(long nanos) {
        published = nanos;
    }

    double max(int s, long nanos) {
        return extreme(max, s, nanos, true);
    }

    double min(int s, long nanos) {
        return extreme(min, s, nanos, false);
    }

    private double extreme(double[] values, int s, long nanos, boolean largest) {
        long now = Math.floorDiv(nanos, sliceNanos);
        double out = Double.NaN;
        if (published == Long.MIN_VALUE) {
            return out; // no step yet; reading the volatile also makes the values published before it visible
        }
        for (int slot = 0; slot < sliceOf.length; slot++) {
            long slice = sliceOf[slot];
            if (slice == Long.MIN_VALUE || now - slice > SLICES || slice > now) {
                continue;
            }
            double v = values[slot * series + s];
            if (v == v && (out != out || (largest ? v > out : v < out))) {
                out = v;
            }
        }
        return out;
    }
}
