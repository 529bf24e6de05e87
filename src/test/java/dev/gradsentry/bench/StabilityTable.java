package dev.gradsentry.bench;

import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.function.ToDoubleFunction;
import java.util.stream.Collectors;

/**
 * The stability benchmark's results over seeds: one {@link Cell} per configuration and contender, rendered as a
 * Markdown table and CSVs. The per-item verdicts are {@link StabilityVerdicts}.
 */
final class StabilityTable {

    /** Median with min and max over seeds. */
    record Spread(double median, double min, double max) {

        static Spread of(List<StabilityRun.Outcome> runs, ToDoubleFunction<StabilityRun.Outcome> measure) {
            double[] v = runs.stream().mapToDouble(measure).toArray();
            Arrays.sort(v); // NaN sorts last, so a NaN run pulls the median only when it is the middle one
            int n = v.length;
            double median = n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
            return new Spread(median, v[0], v[n - 1]);
        }
    }

    /** One configuration and contender over all seeds. */
    record Cell(StabilityConfig config, Contender contender, List<StabilityRun.Outcome> runs, Spread metric,
                Spread bestMetric, Spread finalLoss, Spread bestLoss, Spread stepsToTarget, Spread stepsLost,
                Spread nonFiniteSteps, Spread skippedShare, Spread interventions, Spread firstIntervention,
                Spread clippedSteps, Spread wallSeconds, Map<String, Long> endings) {

        static Cell of(List<StabilityRun.Outcome> runs) {
            StabilityRun.Outcome first = runs.get(0);
            return new Cell(first.config(), first.contender(), List.copyOf(runs),
                    Spread.of(runs, StabilityRun.Outcome::finalMetric),
                    Spread.of(runs, StabilityRun.Outcome::bestMetric),
                    Spread.of(runs, StabilityRun.Outcome::finalLoss), Spread.of(runs, StabilityRun.Outcome::bestLoss),
                    // never reaching the target ranks after any step count
                    Spread.of(runs, o -> o.stepsToTarget() < 0 ? Double.POSITIVE_INFINITY : o.stepsToTarget()),
                    Spread.of(runs, o -> o.stepsLost() < 0 ? Double.NaN : o.stepsLost()),
                    Spread.of(runs, StabilityRun.Outcome::nonFiniteSteps),
                    Spread.of(runs, StabilityRun.Outcome::skippedShare),
                    Spread.of(runs, StabilityRun.Outcome::interventions),
                    // never acting ranks after any step
                    Spread.of(runs, o -> o.firstIntervention() < 0 ? Double.POSITIVE_INFINITY
                            : o.firstIntervention()),
                    Spread.of(runs, StabilityRun.Outcome::clippedSteps),
                    Spread.of(runs, StabilityRun.Outcome::wallSeconds),
                    runs.stream().collect(Collectors.groupingBy(StabilityRun.Outcome::ending, LinkedHashMap::new,
                            Collectors.counting())));
        }

        int seeds() {
            return runs.size();
        }

        boolean everNonFinite() {
            return endings.getOrDefault("non-finite", 0L) > 0 || runs.stream()
                    .anyMatch(o -> Double.isNaN(o.finalMetric()));
        }
    }

    private final List<Cell> cells;

    StabilityTable(List<StabilityRun.Outcome> outcomes) {
        Map<String, List<StabilityRun.Outcome>> grouped = outcomes.stream().collect(Collectors.groupingBy(
                o -> o.config().name() + "\u0000" + o.contender().label(), LinkedHashMap::new, Collectors.toList()));
        cells = grouped.values().stream().map(Cell::of).toList();
    }

    List<Cell> cells() {
        return cells;
    }

    List<StabilityConfig> configs() {
        return cells.stream().map(Cell::config).distinct().toList();
    }

    List<Cell> cellsOf(StabilityConfig config) {
        return cells.stream().filter(c -> c.config().name().equals(config.name())).toList();
    }

    /** The best cell of a fixed-threshold grid ({@code value}, {@code norm}, {@code global-norm}), if it was run. */
    Optional<Cell> bestOfGrid(StabilityConfig config, String grid) {
        return cellsOf(config).stream().filter(c -> grid.equals(c.contender().grid())).min(byMetric(config));
    }

    /** The best fixed threshold of all grids by median final metric: the hand-tuned reference. */
    Optional<Cell> bestFixed(StabilityConfig config) {
        return cellsOf(config).stream().filter(c -> c.contender().grid() != null).min(byMetric(config));
    }

    Optional<Cell> cell(StabilityConfig config, String label) {
        return cellsOf(config).stream().filter(c -> c.contender().label().equals(label)).findFirst();
    }

    static Comparator<Cell> byMetric(StabilityConfig config) {
        return (x, y) -> config.compare(x.metric().median(), y.metric().median());
    }

    /**
     * For a guarded run of a healthy control: whether its final parameters are bitwise equal to those of the run
     * without a guard on the same seed; empty when there is no such pair.
     */
    static Optional<Boolean> identicalToNone(List<StabilityRun.Outcome> all, StabilityRun.Outcome run) {
        if (run.finalParams() == null || !run.contender().guarded()) {
            return Optional.empty();
        }
        return all.stream().filter(o -> o.config() == run.config() && o.seed() == run.seed()
                        && o.contender().kind() == Contender.Kind.PLAIN && o.finalParams() != null)
                .findFirst().map(none -> Arrays.equals(none.finalParams(), run.finalParams()));
    }

    static final String MARKDOWN_HEADER = "| configuration | half | policy | final metric | best metric "
            + "| steps to target | steps lost | non-finite steps | skipped share | interventions | clipped steps "
            + "| final loss | wall s | ended |";

    /** Every cell; bold: the best member of each fixed grid. */
    String markdown() {
        StringBuilder out = new StringBuilder(MARKDOWN_HEADER).append('\n')
                .append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
        for (Cell c : cells) {
            StabilityConfig k = c.config();
            boolean best = c.contender().grid() != null
                    && bestOfGrid(k, c.contender().grid()).map(b -> b == c).orElse(false);
            String fmt = metricFormat(k);
            out.append("| ").append(k.name())
                    .append(" | ").append(k.half().label())
                    .append(" | ").append(best ? "**" + c.contender().label() + "**" : c.contender().label())
                    .append(" | ").append(k.metric()).append(' ').append(spread(c.metric(), fmt))
                    .append(" | ").append(spread(c.bestMetric(), fmt))
                    .append(" | ").append(spread(c.stepsToTarget(), "%.0f"))
                    .append(" | ").append(k.trouble() == null ? "-" : spread(c.stepsLost(), "%.0f"))
                    .append(" | ").append(spread(c.nonFiniteSteps(), "%.0f"))
                    .append(" | ").append(c.contender().guarded() ? spread(c.skippedShare(), "%.3f") : "-")
                    .append(" | ").append(c.contender().guarded() ? spread(c.interventions(), "%.0f") : "-")
                    .append(" | ").append(spread(c.clippedSteps(), "%.0f"))
                    .append(" | ").append(spread(c.finalLoss(), "%.4g"))
                    .append(" | ").append(spread(c.wallSeconds(), "%.1f"))
                    .append(" | ").append(endings(c))
                    .append(" |\n");
        }
        return out.toString();
    }

    static final String CSV_HEADER = "workload,row,half,policy,guarded,grid,seeds,metric,"
            + "metric_median,metric_min,metric_max,best_metric_median,best_metric_min,best_metric_max,"
            + "final_loss_median,final_loss_min,final_loss_max,best_loss_median,best_loss_min,best_loss_max,"
            + "steps_to_target_median,steps_to_target_min,steps_to_target_max,"
            + "steps_lost_median,steps_lost_min,steps_lost_max,"
            + "non_finite_steps_median,non_finite_steps_min,non_finite_steps_max,"
            + "skipped_share_median,skipped_share_min,skipped_share_max,"
            + "interventions_median,interventions_min,interventions_max,"
            + "first_intervention_median,first_intervention_min,first_intervention_max,"
            + "clipped_steps_median,clipped_steps_min,clipped_steps_max,wall_seconds_median,wall_seconds_min,"
            + "wall_seconds_max,ended_finite,ended_non_finite,ended_paused,ended_failed";

    String csv() {
        StringBuilder out = new StringBuilder(CSV_HEADER).append('\n');
        for (Cell c : cells) {
            out.append(String.join(",", csvText(c.config().name()), csvText(c.config().row().label()),
                    c.config().half().label(), csvText(c.contender().label()),
                    String.valueOf(c.contender().guarded()), c.contender().grid() == null ? "" : c.contender().grid(),
                    String.valueOf(c.seeds()), c.config().metric()));
            for (Spread s : List.of(c.metric(), c.bestMetric(), c.finalLoss(), c.bestLoss(), c.stepsToTarget(),
                    c.stepsLost(), c.nonFiniteSteps(), c.skippedShare(), c.interventions(), c.firstIntervention(),
                    c.clippedSteps(), c.wallSeconds())) {
                out.append(',').append(csvNumber(s.median())).append(',').append(csvNumber(s.min())).append(',')
                        .append(csvNumber(s.max()));
            }
            for (String ending : List.of("finite", "non-finite", "paused", "failed")) {
                out.append(',').append(c.endings().getOrDefault(ending, 0L));
            }
            out.append('\n');
        }
        return out.toString();
    }

    static final String RUNS_CSV_HEADER = "workload,row,half,policy,guarded,seed,metric,final_metric,best_metric,"
            + "final_loss,best_loss,steps_to_target,steps_lost,non_finite_steps,first_non_finite_step,steps_done,"
            + "skipped_steps,skipped_share,interventions,first_intervention_step,clipped_steps,wall_seconds,ended,"
            + "params_identical_to_none,intervention_list,failure";

    /**
     * One line per run. Empty fields mean "never" or "not measured here": no step reached the target, no step was
     * non-finite, the guard never acted, steps lost outside late-trouble rows, bitwise identity outside healthy
     * controls. The intervention list is {@code step kind (reason)} joined by {@code ; }.
     */
    static String runsCsv(List<StabilityRun.Outcome> outcomes) {
        StringBuilder out = new StringBuilder(RUNS_CSV_HEADER).append('\n');
        for (StabilityRun.Outcome o : outcomes) {
            out.append(String.join(",", csvText(o.config().name()), csvText(o.config().row().label()),
                    o.config().half().label(), csvText(o.contender().label()),
                    String.valueOf(o.contender().guarded()), String.valueOf(o.seed()), o.config().metric(),
                    csvNumber(o.finalMetric()), csvNumber(o.bestMetric()), csvNumber(o.finalLoss()),
                    csvNumber(o.bestLoss()), whenever(o.stepsToTarget()),
                    o.stepsLost() == StabilityRun.NO_REFERENCE ? "NaN" : whenever(o.stepsLost()),
                    String.valueOf(o.nonFiniteSteps()), whenever(o.firstNonFinite()), String.valueOf(o.stepsDone()),
                    String.valueOf(o.lostSteps()), csvNumber(o.skippedShare()), String.valueOf(o.interventions()),
                    whenever(o.firstIntervention()), String.valueOf(o.clippedSteps()), csvNumber(o.wallSeconds()),
                    o.ending(), identicalToNone(outcomes, o).map(b -> b ? "yes" : "no").orElse(""),
                    csvText(o.events().stream().map(StabilityRun.Event::toString)
                            .collect(Collectors.joining("; "))),
                    o.failure() == null ? "" : csvText(o.failure()))).append('\n');
        }
        return out.toString();
    }

    private static String whenever(long step) {
        return step < 0 ? "" : String.valueOf(step);
    }

    /** A label as one CSV field: quoted (RFC 4180) when it holds a comma or a quote, as "guard, no clipping" does. */
    static String csvText(String text) {
        return text.contains(",") || text.contains("\"") ? "\"" + text.replace("\"", "\"\"") + "\"" : text;
    }

    /** Empty for "never", so that a spreadsheet reads the column as numbers. */
    static String csvNumber(double v) {
        return Double.isFinite(v) ? String.format(Locale.ROOT, "%.6g", v) : Double.isNaN(v) ? "NaN" : "";
    }

    static String metricFormat(StabilityConfig config) {
        return config.higherIsBetter() ? "%.4f" : "%.4g";
    }

    static String spread(Spread s, String fmt) {
        String median = number(s.median(), fmt);
        if (s.min() == s.max() || (Double.isNaN(s.min()) && Double.isNaN(s.max()))) {
            return median;
        }
        return median + " (" + number(s.min(), fmt) + "–" + number(s.max(), fmt) + ")";
    }

    static String number(double v, String fmt) {
        if (Double.isNaN(v)) {
            return "NaN";
        }
        if (Double.isInfinite(v)) {
            return "never";
        }
        return String.format(Locale.ROOT, fmt, v);
    }

    private static String endings(Cell c) {
        return c.endings().entrySet().stream().map(e -> e.getValue() + " " + e.getKey())
                .collect(Collectors.joining(", "));
    }
}
