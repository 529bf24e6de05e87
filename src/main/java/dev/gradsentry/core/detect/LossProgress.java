package dev.gradsentry.core.detect;

import dev.gradsentry.core.state.SavedState;

/**
 * Whether training makes progress, judged from the loss over windows of {@value #WINDOW} steps: the signal that
 * gradient statistics alone miss. A network whose ReLUs died after a blow-up has calm, small gradients and a loss
 * stuck at the chance level; clipping that lets too much through keeps the loss from coming down. Both look healthy
 * to a spike detector.
 *
 * <p>Two verdicts, each given once a window closes:
 * <ul>
 *   <li>{@link Verdict#CHANCE}: a classifier's loss sat at the chance level, at least {@value #CHANCE_FRACTION} of
 *   {@code ln(classes)} (the cross-entropy of a uniform guess), for {@value #CHANCE_WINDOWS} windows in a row, none of
 *   them a new low (more than {@value #MIN_IMPROVEMENT} below every window since the windows started). A loss still
 *   coming down is being rescued, however far above the chance level: a relu RNN rescued from a blow-up on the
 *   recall task starts at 17 (ln 4 = 1.39) and takes hundreds of steps to learn; judged at chance after 100 steps,
 *   it was rolled back to its start every 100 steps until the run ended there.</li>
 *   <li>{@link Verdict#NO_PROGRESS}: the loss stayed above {@value #STUCK_FACTOR} times the best window of the run for
 *   {@value #STUCK_WINDOWS} windows in a row without improving.</li>
 * </ul>
 * A healthy run at initialisation sits at the chance level too, so the guard asks only while it is intervening (after
 * a blow-up, while clipping binds): then a loss that does not come down means the run is not being rescued.
 */
public final class LossProgress {

    /** Steps per window. */
    public static final int WINDOW = 50;
    static final double CHANCE_FRACTION = 0.97;
    public static final int CHANCE_WINDOWS = 2;
    static final double STUCK_FACTOR = 1.5;
    static final int STUCK_WINDOWS = 4;
    /** A window counts as better than the best only when it improves on it by more than this fraction. */
    static final double MIN_IMPROVEMENT = 0.01;

    public enum Verdict { NONE, CHANCE, NO_PROGRESS }

    private final double chanceLoss;
    private double sum;
    private int count;
    private double best = Double.POSITIVE_INFINITY;
    private double last = Double.NaN;
    /** The lowest window since the windows (re)started: a loss that comes down keeps setting new lows. */
    private double low = Double.POSITIVE_INFINITY;
    private int chanceWindows;
    private int stuckWindows;
    /** The loss of the kept state's candidate: the first window that closed after it was taken. */
    private double candidate = Double.NaN;
    /** A candidate was taken and no window has closed since. */
    private boolean candidatePending;

    /** @param chanceLoss {@code ln(classes)} for a softmax classifier with cross-entropy loss, NaN otherwise */
    public LossProgress(double chanceLoss) {
        this.chanceLoss = chanceLoss;
    }

    /** Adds one finite loss; returns a verdict when this loss closes a window, {@link Verdict#NONE} otherwise. */
    public Verdict observe(double loss) {
        if (!Double.isFinite(loss)) {
            return Verdict.NONE;
        }
        sum += loss;
        if (++count < WINDOW) {
            return Verdict.NONE;
        }
        double mean = sum / count;
        sum = 0;
        count = 0;
        // A loss still coming down is being rescued, however far above the chance level it still is. Coming down
        // means a new low since the windows started: a dip below the window before is noise when the next window
        // is back up (a relu RNN held at chance after a rollback wobbled 1.4-1.9 around ln 4 for 400 steps, and
        // every other window "fell").
        boolean falling = Double.isFinite(low) && mean < low * (1 - MIN_IMPROVEMENT);
        low = Math.min(low, mean);
        last = mean;
        if (candidatePending) {
            candidate = mean;
            candidatePending = false;
        }
        chanceWindows = mean >= CHANCE_FRACTION * chanceLoss && !falling ? chanceWindows + 1 : 0;
        if (mean < best * (1 - MIN_IMPROVEMENT)) {
            best = mean;
            stuckWindows = 0;
        } else {
            stuckWindows = mean > STUCK_FACTOR * best ? stuckWindows + 1 : 0;
        }
        if (chanceWindows >= CHANCE_WINDOWS) {
            return Verdict.CHANCE;
        }
        return stuckWindows >= STUCK_WINDOWS ? Verdict.NO_PROGRESS : Verdict.NONE;
    }

    /** Whether a loss is at the chance level (false when the chance level is unknown). */
    public boolean atChance(double loss) {
        return loss >= CHANCE_FRACTION * chanceLoss;
    }

    /** Mean of the last closed window; NaN before the first. */
    public double lastWindow() {
        return last;
    }

    /** The lowest window mean so far; infinite before the first window. */
    public double best() {
        return best;
    }

    public double chanceLoss() {
        return chanceLoss;
    }

    /**
     * A state was kept as a rollback candidate now: the next window to close, the losses of the steps that follow
     * it, is its loss. The window before it is not: in a run that learns fast it still holds the steep descent from
     * the start (a healthy MLP's first snapshot, at step 50, stood above 1.5 times the run's best window by that
     * measure, was thrown away, and a later rollback took the run back to its start).
     */
    public void markCandidate() {
        candidate = Double.NaN;
        candidatePending = true;
    }

    /**
     * Whether the marked candidate may become the state rollbacks return to: not when the steps that followed it sat
     * at the chance level or far above the run's best (a dead or diverged network is no state to go back to, and
     * stays dead or diverged). A candidate no window has closed after is accepted: nothing speaks against it.
     */
    public boolean candidateGood() {
        return Double.isNaN(candidate) || (!atChance(candidate) && candidate <= STUCK_FACTOR * best);
    }

    /** Starts the windows again after a rollback; the best window of the run is kept. */
    public void restart() {
        sum = 0;
        count = 0;
        chanceWindows = 0;
        stuckWindows = 0;
        candidate = Double.NaN;
        candidatePending = false;
        low = Double.POSITIVE_INFINITY;
    }

    public SavedState saveState() {
        return new SavedState().put("counters", sum, count, best, last, chanceWindows, stuckWindows,
                candidate).put("low", low).put("candidatePending", candidatePending ? 1 : 0);
    }

    public void restoreState(SavedState s) {
        sum = s.number("counters", 0);
        count = (int) s.number("counters", 1);
        best = s.number("counters", 2);
        last = s.number("counters", 3);
        chanceWindows = (int) s.number("counters", 4);
        stuckWindows = (int) s.number("counters", 5);
        candidate = s.number("counters", 6);
        // absent from checkpoints written before the low was kept: the last window stands in for it
        low = s.has("low") ? s.number("low", 0) : Double.isNaN(last) ? Double.POSITIVE_INFINITY : last;
        // absent from checkpoints written while a candidate was judged by the window before it: that judgement stands
        candidatePending = s.has("candidatePending") && s.number("candidatePending", 0) != 0;
    }
}
