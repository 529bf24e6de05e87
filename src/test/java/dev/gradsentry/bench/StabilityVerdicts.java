package dev.gradsentry.bench;

import dev.gradsentry.bench.StabilityConfig.Half;
import dev.gradsentry.bench.StabilityConfig.Row;
import dev.gradsentry.bench.StabilityTable.Cell;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.stream.Collectors;

import static dev.gradsentry.bench.StabilityTable.number;
import static dev.gradsentry.bench.StabilityTable.spread;

/**
 * The verdict tables, one per item of issue 10's "What must be true", each computed from a {@link StabilityTable}
 * and its runs. Each table says which half every row belongs to; rows whose contenders were not run are left out.
 */
final class StabilityVerdicts {

    /** Item 3: a run that skipped or rolled back more than this share of its steps should have paused. */
    static final double SKIP_SHARE_LIMIT = 0.10;
    /** Item 1: the guard "acts from step 0" on a run when its first applied action comes within these steps. */
    static final long EARLY_STEPS = 5;

    /**
     * Item 5 on one row: the default guard against the best member of the fixed grids, on the median.
     *
     * @param gap        how much worse the guard is: accuracy points, or relative MSE in percent (negative: better;
     *                   negative infinity: every fixed threshold's median was NaN and the guard's was not)
     * @param withinBar  gap within 1 accuracy point or 5% relative MSE
     * @param stuck      the guard's median is at chance while the best fixed threshold's is not
     * @param nonFinite  some guard run ended with non-finite weights or metric
     */
    record Bar(StabilityConfig config, Cell none, Cell bestFixed, Cell guard, double gap, boolean withinBar,
               boolean stuck, boolean nonFinite) {

        boolean passes() {
            return withinBar && !stuck && !nonFinite;
        }
    }

    private final StabilityTable table;
    private final List<StabilityRun.Outcome> outcomes;

    StabilityVerdicts(StabilityTable table, List<StabilityRun.Outcome> outcomes) {
        this.table = table;
        this.outcomes = outcomes;
    }

    /** Item 5 (and the late-trouble rows' bar): every row of {@code row} with none, a fixed grid and the guard. */
    List<Bar> bars(Row row) {
        List<Bar> bars = new ArrayList<>();
        for (StabilityConfig config : configs(row)) {
            Optional<Cell> none = table.cell(config, Contender.none().label());
            Optional<Cell> guard = table.cell(config, Contender.protect().label());
            Optional<Cell> best = table.bestFixed(config);
            if (none.isEmpty() || guard.isEmpty() || best.isEmpty()) {
                continue;
            }
            double a = guard.get().metric().median();
            double b = best.get().metric().median();
            // A guard that stays finite where every fixed threshold ended NaN is better than the best of them.
            double gap = Double.isNaN(b) && !Double.isNaN(a) ? Double.NEGATIVE_INFINITY
                    : config.higherIsBetter() ? (b - a) * 100 : (a - b) / b * 100;
            boolean within = !Double.isNaN(gap) && (config.higherIsBetter() ? gap <= 1 : gap <= 5);
            boolean stuck = config.atChance(a) && !config.atChance(b);
            bars.add(new Bar(config, none.get(), best.get(), guard.get(), gap, within, stuck,
                    guard.get().everNonFinite()));
        }
        return bars;
    }

    String markdown() {
        return "### Item 1: does the guard act from step 0?\n\n" + item1() + "\n"
                + "### Item 3: does anything loop on skips?\n\n" + item3() + "\n"
                + "### Item 4: are healthy runs untouched?\n\n" + item4() + "\n"
                + "### Item 5: default guard vs the best fixed threshold, exploding rows\n\n" + barTable(Row.EXPLODING)
                + "\n### Late trouble: default guard vs no guard vs the best fixed threshold\n\n" + lateTable() + "\n"
                + "### Per half\n\n" + perHalf() + "\n";
    }

    /** Item 1, exploding rows: when the guard first acted, and when training without it first went non-finite. */
    String item1() {
        StringBuilder out = new StringBuilder("| configuration | half | none: first non-finite step | none: final "
                + "metric | guard: first applied action, step | acted within the first " + EARLY_STEPS + " steps "
                + "| guard's first actions, first seed |\n|---|---|---|---|---|---|---|\n");
        for (StabilityConfig config : configs(Row.EXPLODING)) {
            Optional<Cell> none = table.cell(config, Contender.none().label());
            Optional<Cell> guard = table.cell(config, Contender.protect().label());
            if (guard.isEmpty()) {
                continue;
            }
            List<StabilityRun.Outcome> runs = guard.get().runs();
            long early = runs.stream().filter(o -> o.firstIntervention() >= 0 && o.firstIntervention() < EARLY_STEPS)
                    .count();
            out.append("| ").append(config.name()).append(" | ").append(config.half().label())
                    .append(" | ").append(none.map(n -> spread(StabilityTable.Spread.of(n.runs(),
                            o -> o.firstNonFinite() < 0 ? Double.POSITIVE_INFINITY : o.firstNonFinite()), "%.0f"))
                            .orElse("-"))
                    .append(" | ").append(none.map(n -> spread(n.metric(), StabilityTable.metricFormat(config)))
                            .orElse("-"))
                    .append(" | ").append(spread(guard.get().firstIntervention(), "%.0f"))
                    .append(" | ").append(early).append('/').append(runs.size())
                    .append(" | ").append(firstEvents(runs.get(0), 3))
                    .append(" |\n");
        }
        return out.toString();
    }

    /** Item 3, exploding and late-trouble rows: the guard's skipped share, and runs that skipped a lot unpaused. */
    String item3() {
        StringBuilder out = new StringBuilder("| configuration | row | half | guard: skipped share | max skipped share "
                + "| runs paused | runs above " + percent(SKIP_SHARE_LIMIT) + " skipped without pausing |\n"
                + "|---|---|---|---|---|---|---|\n");
        List<String> offenders = new ArrayList<>();
        for (StabilityConfig config : table.configs()) {
            if (config.row() != Row.EXPLODING && config.row() != Row.LATE) {
                continue;
            }
            Optional<Cell> guard = table.cell(config, Contender.protect().label());
            if (guard.isEmpty()) {
                continue;
            }
            List<StabilityRun.Outcome> runs = guard.get().runs();
            List<StabilityRun.Outcome> looping = runs.stream()
                    .filter(o -> o.skippedShare() > SKIP_SHARE_LIMIT && !o.ending().equals("paused")).toList();
            looping.forEach(o -> offenders.add(config.name() + " seed " + o.seed() + " ("
                    + o.lostSteps() + " of " + o.stepsDone() + " steps)"));
            out.append("| ").append(config.name()).append(" | ").append(config.row().label())
                    .append(" | ").append(config.half().label())
                    .append(" | ").append(spread(guard.get().skippedShare(), "%.3f"))
                    .append(" | ").append(String.format(Locale.ROOT, "%.3f", guard.get().skippedShare().max()))
                    .append(" | ").append(guard.get().endings().getOrDefault("paused", 0L)).append('/')
                    .append(runs.size())
                    .append(" | ").append(looping.size()).append('/').append(runs.size())
                    .append(" |\n");
        }
        out.append("\nAny run ended with more than ").append(percent(SKIP_SHARE_LIMIT))
                .append(" of its steps skipped or rolled back without the guard pausing: ")
                .append(offenders.isEmpty() ? "no" : "yes, " + String.join(", ", offenders)).append(".\n");
        return out.toString();
    }

    /**
     * Item 4, healthy controls: every applied guard action, and whether the guarded run's final parameters are
     * bitwise those of the run without a guard on the same seed.
     */
    String item4() {
        StringBuilder out = new StringBuilder("| configuration | seeds | none: final metric | guard: final metric "
                + "| runs the guard acted on | bitwise identical to none, runs where nothing fired | bitwise identical, "
                + "runs where it acted | every action (seed: step kind (reason)) |\n|---|---|---|---|---|---|---|---|\n");
        for (StabilityConfig config : configs(Row.HEALTHY)) {
            Optional<Cell> none = table.cell(config, Contender.none().label());
            Optional<Cell> guard = table.cell(config, Contender.protect().label());
            if (none.isEmpty() || guard.isEmpty()) {
                continue;
            }
            List<StabilityRun.Outcome> runs = guard.get().runs();
            List<StabilityRun.Outcome> quiet = runs.stream().filter(o -> o.events().isEmpty()).toList();
            List<StabilityRun.Outcome> acted = runs.stream().filter(o -> !o.events().isEmpty()).toList();
            String fmt = StabilityTable.metricFormat(config);
            out.append("| ").append(config.name())
                    .append(" | ").append(runs.size())
                    .append(" | ").append(spread(none.get().metric(), fmt))
                    .append(" | ").append(spread(guard.get().metric(), fmt))
                    .append(" | ").append(acted.size()).append('/').append(runs.size())
                    .append(" | ").append(identical(quiet))
                    .append(" | ").append(identical(acted))
                    .append(" | ").append(acted.isEmpty() ? "none" : acted.stream()
                            .map(o -> "seed " + o.seed() + ": " + o.events().stream().map(StabilityRun.Event::toString)
                                    .collect(Collectors.joining(", ")))
                            .collect(Collectors.joining("; ")))
                    .append(" |\n");
        }
        return out.toString();
    }

    private String identical(List<StabilityRun.Outcome> runs) {
        if (runs.isEmpty()) {
            return "-";
        }
        long same = runs.stream().filter(o -> StabilityTable.identicalToNone(outcomes, o).orElse(false)).count();
        return same + "/" + runs.size();
    }

    /** Item 5 on the rows of {@code row}. */
    String barTable(Row row) {
        StringBuilder out = new StringBuilder("| configuration | half | none | best fixed threshold | guard (defaults) "
                + "| guard vs best fixed | within bar | guard ever non-finite | guard at chance where the best fixed "
                + "learns | passes | ranking of the guard, autoclip, zclip, agc |\n"
                + "|---|---|---|---|---|---|---|---|---|---|---|\n");
        for (Bar v : bars(row)) {
            String fmt = StabilityTable.metricFormat(v.config());
            out.append("| ").append(v.config().name()).append(" (").append(v.config().metric()).append(')')
                    .append(" | ").append(v.config().half().label())
                    .append(" | ").append(number(v.none().metric().median(), fmt))
                    .append(" | ").append(v.bestFixed().contender().label()).append(": ")
                    .append(number(v.bestFixed().metric().median(), fmt))
                    .append(" | ").append(number(v.guard().metric().median(), fmt))
                    .append(" | ").append(gap(v))
                    .append(" | ").append(yes(v.withinBar()))
                    .append(" | ").append(yes(v.nonFinite()))
                    .append(" | ").append(yes(v.stuck()))
                    .append(" | ").append(yes(v.passes()))
                    .append(" | ").append(ranking(v.config()))
                    .append(" |\n");
        }
        return out.toString();
    }

    /** Late-trouble rows: final metric, best metric and steps lost for none, the best fixed threshold and the guard. */
    String lateTable() {
        StringBuilder out = new StringBuilder("| configuration | half | trouble | none: final / best / steps lost "
                + "| best fixed threshold: final / best / steps lost | guard (defaults): final / best / steps lost "
                + "| guard vs best fixed | passes |\n|---|---|---|---|---|---|---|---|\n");
        for (Bar v : bars(Row.LATE)) {
            out.append("| ").append(v.config().name()).append(" (").append(v.config().metric()).append(')')
                    .append(" | ").append(v.config().half().label())
                    .append(" | ").append(v.config().trouble().describe())
                    .append(" | ").append(late(v.none()))
                    .append(" | ").append(v.bestFixed().contender().label()).append(": ").append(late(v.bestFixed()))
                    .append(" | ").append(late(v.guard()))
                    .append(" | ").append(gap(v))
                    .append(" | ").append(yes(v.passes()))
                    .append(" |\n");
        }
        return out.toString();
    }

    /** How many rows of each half pass the bar. */
    String perHalf() {
        StringBuilder out = new StringBuilder("| half | exploding rows passing | late-trouble rows passing |\n"
                + "|---|---|---|\n");
        for (Half half : List.of(Half.TUNING, Half.VALIDATION)) {
            out.append("| ").append(half.label())
                    .append(" | ").append(passing(bars(Row.EXPLODING), half))
                    .append(" | ").append(passing(bars(Row.LATE), half))
                    .append(" |\n");
        }
        return out.toString();
    }

    private static String passing(List<Bar> bars, Half half) {
        List<Bar> of = bars.stream().filter(b -> b.config().half() == half).toList();
        if (of.isEmpty()) {
            return "-";
        }
        List<String> failing = of.stream().filter(b -> !b.passes()).map(b -> b.config().name()).toList();
        return of.size() - failing.size() + "/" + of.size()
                + (failing.isEmpty() ? "" : " (not: " + String.join(", ", failing) + ")");
    }

    private String ranking(StabilityConfig config) {
        List<String> ranked = List.of("autoclip", "zclip", "agc", Contender.protect().label());
        List<Cell> cells = table.cellsOf(config).stream().filter(c -> ranked.contains(c.contender().label()))
                .sorted(StabilityTable.byMetric(config)).toList();
        if (cells.size() < 2) {
            return "-";
        }
        String fmt = StabilityTable.metricFormat(config);
        return cells.stream().map(c -> c.contender().label() + " " + number(c.metric().median(), fmt))
                .collect(Collectors.joining(" > "));
    }

    private static String late(Cell c) {
        String fmt = StabilityTable.metricFormat(c.config());
        return number(c.metric().median(), fmt) + " / " + number(c.bestMetric().median(), fmt) + " / "
                + spread(c.stepsLost(), "%.0f");
    }

    /** Signed as a difference of the metric: fewer accuracy points, or a higher MSE. */
    private static String gap(Bar v) {
        if (v.gap() == Double.NEGATIVE_INFINITY) {
            return "better (best fixed NaN)";
        }
        return v.config().higherIsBetter() ? String.format(Locale.ROOT, "%+.2f points", -v.gap())
                : String.format(Locale.ROOT, "%+.1f%% MSE", v.gap());
    }

    private List<StabilityConfig> configs(Row row) {
        return table.configs().stream().filter(c -> c.row() == row).toList();
    }

    private static String firstEvents(StabilityRun.Outcome run, int n) {
        if (run.events().isEmpty()) {
            return "none";
        }
        String shown = run.events().stream().limit(n).map(StabilityRun.Event::toString)
                .collect(Collectors.joining(", "));
        return run.events().size() > n ? shown + ", ... (" + run.events().size() + " in all)" : shown;
    }

    private static String yes(boolean b) {
        return b ? "yes" : "no";
    }

    private static String percent(double share) {
        return String.format(Locale.ROOT, "%.0f%%", share * 100);
    }
}
