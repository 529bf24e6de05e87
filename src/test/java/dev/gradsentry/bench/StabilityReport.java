package dev.gradsentry.bench;

import dev.gradsentry.bench.StabilityBench.Entry;
import dev.gradsentry.bench.StabilityBench.Plan;

import java.util.stream.Collectors;

/** The parts of {@code stability.md} that describe the plan rather than its results. */
final class StabilityReport {

    private StabilityReport() {
    }

    /** What each column means. */
    static String legend(Plan plan) {
        return """
                Medians over seeds, min–max in brackets. Seeds 42, 43, ...: each gives every contender the same initial \
                weights and the same data order.

                - **final metric**: the held-out metric after the last step (Fashion-MNIST: accuracy on all 10,000 test \
                images; the sequence tasks: their held-out sequences).
                - **best metric**: the best periodic evaluation (every "eval every" steps, on the same held-out examples \
                throughout: the first 1,000 test images for Fashion-MNIST).
                - **steps to target**: steps done at the first periodic evaluation that reached the target; "never" if \
                none did.
                - **steps lost** (late-trouble rows): the pre-trouble level is the periodic evaluation at the onset; the \
                run is back at the first later evaluation within 1 accuracy point (or 5% relative MSE) of it; steps lost \
                = that evaluation's step - onset - one evaluation interval, so 0 means already back at the first \
                evaluation after the onset (the resolution is one interval). Never back (or stopped): the rest of the \
                run, steps - onset. NaN: the pre-trouble metric itself was not finite.
                - **non-finite steps**: steps with a NaN or infinite loss or gradient; a run without a guard whose \
                weights became NaN is stopped there and its remaining steps are counted as non-finite.
                - **skipped share**: steps the guard skipped or rolled back (its applied `skip` and `rollback` \
                actions) divided by the steps run.
                - **interventions**: applied guard actions of every kind.
                - **clipped steps**: steps whose gradient the clipping changed (AGC counts every step).
                - **wall s**: training and periodic evaluations, without the final evaluation.
                - **half**: `tuning` rows may be used to tune the guard, `validation` rows are held out from tuning; \
                `control` are the healthy controls (and the seed article). The split was fixed before any guard \
                result on these rows was seen (see `Plans`).
                """ + "\n" + plan.runs() + " runs.\n";
    }

    static String configurations(Plan plan) {
        StringBuilder out = new StringBuilder("| configuration | row | half | model and optimizer | trouble | steps "
                + "| eval every | seeds | contenders | target | chance |\n|---|---|---|---|---|---|---|---|---|---|---|\n");
        for (Entry e : plan.entries()) {
            StabilityConfig c = e.config();
            out.append("| ").append(c.name())
                    .append(" | ").append(c.row().label())
                    .append(" | ").append(c.half().label())
                    .append(" | ").append(c.model())
                    .append(" | ").append(c.trouble() == null ? "-" : c.trouble().describe())
                    .append(" | ").append(c.steps())
                    .append(" | ").append(c.evalEvery())
                    .append(" | ").append(e.seeds())
                    .append(" | ").append(contenders(e))
                    .append(" | ").append(c.metric()).append(c.higherIsBetter() ? " ≥ " : " ≤ ")
                    .append(StabilityTable.number(c.target(), "%.3g"))
                    .append(" | ").append(StabilityTable.number(c.chance(), "%.3g"))
                    .append(" |\n");
        }
        return out.toString();
    }

    private static String contenders(Entry e) {
        long fixed = e.contenders().stream().filter(c -> c.grid() != null).count();
        String others = e.contenders().stream().filter(c -> c.grid() == null).map(Contender::label)
                .collect(Collectors.joining(", "));
        return fixed == 0 ? others : others + " and " + fixed + " fixed thresholds";
    }
}
