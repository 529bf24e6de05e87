package dev.gradsentry.core.detect;

import dev.gradsentry.core.state.SavedState;

/**
 * Flags a diverging loss: the loss stayed at least {@code factor} times the mean of its recent healthy window for
 * {@code patience} consecutive steps. A single noisy minibatch does not trip it; a loss that blew up and stays up
 * does. Diverging steps do not enter the window. It judges from the first loss on: an SGD step that is far too large
 * wrecks a network on its very first update.
 *
 * <p>The window mean is floored at {@value #FLOOR_FRACTION} of the run's first loss: a run that converged to a loss
 * near zero (a task solved to 100%) has batches at three or ten times that tiny mean all the time, and none of them is
 * a blow-up; a real blow-up from there climbs back towards the first loss.
 */
public final class DivergenceDetector {

    /** The window mean counts as at least this fraction of the first loss seen. */
    static final double FLOOR_FRACTION = 0.1;

    private final double factor;
    private final int patience;
    private final double[] window;
    private int size;
    private int next;
    private double sum;
    private int above;
    private double first = Double.NaN;

    /**
     * @param factor   how many times the window mean counts as diverging
     * @param patience consecutive steps above it before the verdict
     * @param window   healthy losses remembered
     */
    public DivergenceDetector(double factor, int patience, int window) {
        if (!(factor > 1) || patience < 1 || window < 1) {
            throw new IllegalArgumentException("divergence detector needs factor > 1, patience >= 1, window >= 1; got "
                    + factor + ", " + patience + ", " + window);
        }
        this.factor = factor;
        this.patience = patience;
        this.window = new double[window];
    }

    /** The guard's detector: it remembers 50 healthy losses. */
    public DivergenceDetector(double factor, int patience) {
        this(factor, patience, 50);
    }

    /** Whether the run is diverging as of this (finite) loss. */
    public boolean observe(double loss) {
        if (Double.isNaN(first)) {
            first = loss;
        }
        if (size >= 1 && loss >= factor * Math.max(sum / size, FLOOR_FRACTION * first)) {
            above++;
            return above >= patience;
        }
        above = 0;
        if (size == window.length) {
            sum -= window[next];
        } else {
            size++;
        }
        window[next] = loss;
        sum += loss;
        next = (next + 1) % window.length;
        return false;
    }

    /** The healthy window and the streak, for a checkpoint. */
    public SavedState saveState() {
        return new SavedState().put("window", window).put("counters", size, next, sum, above, first);
    }

    /** Takes over what {@link #saveState()} of a detector with the same window length saved. */
    public void restoreState(SavedState s) {
        double[] saved = s.get("window");
        if (saved.length != window.length) {
            throw new IllegalArgumentException("saved loss window has " + saved.length + " entries, expected "
                    + window.length);
        }
        System.arraycopy(saved, 0, window, 0, window.length);
        size = (int) s.number("counters", 0);
        next = (int) s.number("counters", 1);
        sum = s.number("counters", 2);
        above = (int) s.number("counters", 3);
        // a state saved before the floor existed has no first loss: its window's mean stands in
        first = s.get("counters").length > 4 ? s.number("counters", 4) : windowMean();
    }

    /** Mean of the healthy window, NaN before any loss was seen. */
    public double windowMean() {
        return size == 0 ? Double.NaN : sum / size;
    }

    /** Consecutive steps above the window so far; 0 on a healthy step. */
    public int streak() {
        return above;
    }

    /**
     * Forgets the window and the streak after a rollback: the losses to come are those of an earlier state, often
     * higher than the ones the window holds, and judging them against it would call the restored state diverging and
     * roll back again at once, until the guard gives up. The first loss, the floor's scale, is kept.
     */
    public void restart() {
        size = 0;
        next = 0;
        sum = 0;
        above = 0;
    }

    /** Clears the count of steps above the window; the healthy window is kept. */
    public void clearStreak() {
        above = 0;
    }
}
