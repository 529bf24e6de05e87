package dev.gradsentry.core.intervene;

import dev.gradsentry.core.state.SavedState;

import java.util.ArrayDeque;
import java.util.Deque;

/**
 * The guard's ledger of lost steps (skipped or rolled back), which makes every path escalate: skips for any reason
 * lead to a rollback, rollbacks to a pause, and no run goes on with a large share of its steps thrown away.
 *
 * <ul>
 *   <li>The {@value #SKIPS_BEFORE_ROLLBACK}rd skip within {@value #SKIP_SPAN} steps, whatever its reason (a non-finite
 *   gradient, an extreme spike), is a rollback instead: batch after batch going wrong means the weights, not the
 *   batches, are broken, and skipping more would only stall the run.</li>
 *   <li>A step skipped because its batch held NaN or infinite values, while the weights were finite, counts toward
 *   the share below but not toward that rollback: the weights are not what went wrong, and rolling them back (and
 *   backing the learning rate off) for every bad record of a dataset lost a run all its progress (8 such rollbacks
 *   in 400 steps, then a pause, for a NaN every 50th batch).</li>
 *   <li>Once more than {@code maxShare} of the steps seen (counted as at least {@value #SHARE_GRACE}, so that a rescue
 *   at the start of a run may lose a few steps) were lost, the guard pauses and says so.</li>
 * </ul>
 */
final class LostSteps {

    static final int SKIPS_BEFORE_ROLLBACK = 3;
    static final int SKIP_SPAN = 20;
    static final int SHARE_GRACE = 200;

    private final Deque<Long> recentSkips = new ArrayDeque<>();
    private long lost;
    /** Of {@link #lost}, the steps skipped for their batch's own NaN or infinite values. */
    private long badBatches;

    /** Whether skipping at {@code step} would be the skip that calls for a rollback instead. */
    boolean skipEscalates(long step) {
        while (!recentSkips.isEmpty() && recentSkips.peekFirst() <= step - SKIP_SPAN) {
            recentSkips.removeFirst();
        }
        return recentSkips.size() + 1 >= SKIPS_BEFORE_ROLLBACK;
    }

    void skipped(long step) {
        recentSkips.addLast(step);
        lost++;
    }

    /** A step skipped for its batch's own NaN or infinite values: lost, but no sign of broken weights. */
    void skippedBatch() {
        lost++;
        badBatches++;
    }

    void rolledBack() {
        recentSkips.clear();
        lost++;
    }

    long lost() {
        return lost;
    }

    long badBatches() {
        return badBatches;
    }

    /** Whether the lost steps exceed {@code maxShare} of {@code stepsSeen} (at least {@value #SHARE_GRACE}). */
    boolean overShare(long stepsSeen, double maxShare) {
        return lost > maxShare * Math.max(stepsSeen, SHARE_GRACE);
    }

    SavedState saveState() {
        return new SavedState().put("lost", lost).put("badBatches", badBatches)
                .put("recentSkips", recentSkips.stream().mapToDouble(Long::doubleValue).toArray());
    }

    void restoreState(SavedState s) {
        lost = (long) s.number("lost", 0);
        badBatches = s.has("badBatches") ? (long) s.number("badBatches", 0) : 0; // absent before the sixth session
        recentSkips.clear();
        for (double v : s.get("recentSkips")) {
            recentSkips.addLast((long) v);
        }
    }
}
