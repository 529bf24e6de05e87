package dev.gradsentry.bench;

import java.util.ArrayList;
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
 * Markdown table, a CSV and a per-configuration verdict.
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
    record Cell(ExplodingConfig config, Contender contender, int seeds, Spread metric, Spread finalLoss,
                Spread bestLoss, Spread stepsToTarget, Spread nonFiniteSteps, Spread interventions,
                Spread clippedSteps, Spread wallSeconds, Map<String, Long> endings) {

        static Cell of(List<StabilityRun.Outcome> runs) {
            StabilityRun.Outcome first = runs.get(0);
            return new Cell(first.config(), first.contender(), runs.size(),
                    Spread.of(runs, StabilityRun.Outcome::finalMetric), Spread.of(runs, StabilityRun.Outcome::finalLoss),
                    Spread.of(runs, StabilityRun.Outcome::bestLoss),
                    // never reaching the target ranks after any step count
                    Spread.of(runs, o -> o.stepsToTarget() < 0 ? Double.POSITIVE_INFINITY : o.stepsToTarget()),
                    Spread.of(runs, StabilityRun.Outcome::nonFiniteSteps),
                    Spread.of(runs, StabilityRun.Outcome::interventions),
                    Spread.of(runs, StabilityRun.Outcome::clippedSteps), Spread.of(runs, StabilityRun.Outcome::wallSeconds),
                    runs.stream().collect(Collectors.groupingBy(StabilityRun.Outcome::ending, LinkedHashMap::new,
                            Collectors.counting())));
        }

        boolean everNonFinite() {
            return endings.keySet().stream().anyMatch(e -> !e.equals("finite"));
        }
    }

    /**
     * What the bar asks of one configuration.
     *
     * @param none          training without clipping
     * @param bestFixed     the best fixed threshold of all three grids, by median metric
     * @param adaptive      GradSentry with defaults
     * @param gap           how much worse adaptive is than the best fixed: accuracy points, or relative MSE in percent
     * @param withinBar     gap within 1 accuracy point or 5% relative MSE
     * @param ranking       adaptive, autoclip, zclip and agc, best median metric first
     */
    record Verdict(ExplodingConfig config, Cell none, Cell bestFixed, Cell adaptive, double gap, boolean withinBar,
                   List<Cell> ranking) {
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

    List<ExplodingConfig> configs() {
        return cells.stream().map(Cell::config).distinct().toList();
    }

    /** The best cell of a fixed-threshold grid ({@code value}, {@code norm}, {@code global-norm}), if it was run. */
    Optional<Cell> bestOfGrid(ExplodingConfig config, String grid) {
        return cellsOf(config).stream().filter(c -> grid.equals(c.contender().grid()))
                .min(byMetric(config));
    }

    Optional<Cell> cell(ExplodingConfig config, String label) {
        return cellsOf(config).stream().filter(c -> c.contender().label().equals(label)).findFirst();
    }

    List<Verdict> verdicts() {
        List<Verdict> verdicts = new ArrayList<>();
        for (ExplodingConfig config : configs()) {
            Optional<Cell> none = cell(config, "none");
            Optional<Cell> adaptive = cell(config, Contender.adaptive().label());
            Optional<Cell> best = cellsOf(config).stream().filter(c -> c.contender().grid() != null)
                    .min(byMetric(config));
            if (none.isEmpty() || adaptive.isEmpty() || best.isEmpty()) {
                continue;
            }
            double a = adaptive.get().metric().median();
            double b = best.get().metric().median();
            double gap = config.higherIsBetter() ? (b - a) * 100 : (a - b) / b * 100;
            boolean within = config.higherIsBetter() ? gap <= 1 : gap <= 5;
            List<Cell> ranking = cellsOf(config).stream()
                    .filter(c -> List.of("autoclip", "zclip", "agc").contains(c.contender().label())
                            || c.contender().label().equals(Contender.adaptive().label()))
                    .sorted(byMetric(config)).toList();
            verdicts.add(new Verdict(config, none.get(), best.get(), adaptive.get(), gap, within && !Double.isNaN(gap),
                    ranking));
        }
        return verdicts;
    }

    private List<Cell> cellsOf(ExplodingConfig config) {
        return cells.stream().filter(c -> c.config().name().equals(config.name())).toList();
    }

    private static Comparator<Cell> byMetric(ExplodingConfig config) {
        return (x, y) -> config.compare(x.metric().median(), y.metric().median());
    }

    static final String MARKDOWN_HEADER = "| workload | policy | held-out metric | final loss | best loss "
            + "| steps to target | non-finite steps | interventions | clipped steps | wall s | ended |";

    String markdown() {
        StringBuilder out = new StringBuilder(MARKDOWN_HEADER).append('\n')
                .append("|---|---|---|---|---|---|---|---|---|---|---|\n");
        for (Cell c : cells) {
            ExplodingConfig k = c.config();
            boolean best = c.contender().grid() != null
                    && bestOfGrid(k, c.contender().grid()).map(b -> b == c).orElse(false);
            out.append("| ").append(k.name())
                    .append(" | ").append(best ? "**" + c.contender().label() + "**" : c.contender().label())
                    .append(" | ").append(k.metric()).append(' ').append(spread(c.metric(), metricFormat(k)))
                    .append(" | ").append(spread(c.finalLoss(), "%.4g"))
                    .append(" | ").append(spread(c.bestLoss(), "%.4g"))
                    .append(" | ").append(spread(c.stepsToTarget(), "%.0f"))
                    .append(" | ").append(spread(c.nonFiniteSteps(), "%.0f"))
                    .append(" | ").append(c.contender().guarded() ? spread(c.interventions(), "%.0f") : "-")
                    .append(" | ").append(spread(c.clippedSteps(), "%.0f"))
                    .append(" | ").append(spread(c.wallSeconds(), "%.1f"))
                    .append(" | ").append(endings(c))
                    .append(" |\n");
        }
        return out.toString();
    }

    String verdictMarkdown() {
        StringBuilder out = new StringBuilder("| workload | none | best hand-tuned fixed | adaptive (guard) "
                + "| adaptive vs best fixed | within bar | adaptive ever non-finite | ranking of adaptive, autoclip, "
                + "zclip, agc |\n|---|---|---|---|---|---|---|---|\n");
        for (Verdict v : verdicts()) {
            String fmt = metricFormat(v.config());
            out.append("| ").append(v.config().name()).append(" (").append(v.config().metric()).append(')')
                    .append(" | ").append(number(v.none().metric().median(), fmt))
                    .append(" | ").append(v.bestFixed().contender().label()).append(": ")
                    .append(number(v.bestFixed().metric().median(), fmt))
                    .append(" | ").append(number(v.adaptive().metric().median(), fmt))
                    // signed as a difference of the metric: fewer accuracy points, or a higher MSE
                    .append(" | ").append(v.config().higherIsBetter()
                            ? String.format(Locale.ROOT, "%+.2f points", -v.gap())
                            : String.format(Locale.ROOT, "%+.1f%% MSE", v.gap()))
                    .append(" | ").append(v.withinBar() ? "yes" : "no")
                    .append(" | ").append(v.adaptive().everNonFinite() ? "yes" : "no")
                    .append(" | ").append(v.ranking().stream()
                            .map(c -> c.contender().label() + " " + number(c.metric().median(), fmt))
                            .collect(Collectors.joining(" > ")))
                    .append(" |\n");
        }
        return out.toString();
    }

    static final String CSV_HEADER = "workload,policy,guarded,grid,seeds,metric,"
            + "metric_median,metric_min,metric_max,final_loss_median,final_loss_min,final_loss_max,"
            + "best_loss_median,best_loss_min,best_loss_max,steps_to_target_median,steps_to_target_min,"
            + "steps_to_target_max,non_finite_steps_median,non_finite_steps_min,non_finite_steps_max,"
            + "interventions_median,interventions_min,interventions_max,clipped_steps_median,clipped_steps_min,"
            + "clipped_steps_max,wall_seconds_median,wall_seconds_min,wall_seconds_max,ended_finite,ended_non_finite,"
            + "ended_paused";

    String csv() {
        StringBuilder out = new StringBuilder(CSV_HEADER).append('\n');
        for (Cell c : cells) {
            out.append(String.join(",", csvText(c.config().name()), csvText(c.contender().label()),
                    String.valueOf(c.contender().guarded()), c.contender().grid() == null ? "" : c.contender().grid(),
                    String.valueOf(c.seeds()), c.config().metric()));
            for (Spread s : List.of(c.metric(), c.finalLoss(), c.bestLoss(), c.stepsToTarget(), c.nonFiniteSteps(),
                    c.interventions(), c.clippedSteps(), c.wallSeconds())) {
                out.append(',').append(csvNumber(s.median())).append(',').append(csvNumber(s.min())).append(',')
                        .append(csvNumber(s.max()));
            }
            for (String ending : List.of("finite", "non-finite", "paused")) {
                out.append(',').append(c.endings().getOrDefault(ending, 0L));
            }
            out.append('\n');
        }
        return out.toString();
    }

    static final String RUNS_CSV_HEADER = "workload,policy,guarded,seed,metric,final_metric,final_loss,best_loss,"
            + "steps_to_target,non_finite_steps,interventions,clipped_steps,wall_seconds,ended";

    static String runsCsv(List<StabilityRun.Outcome> outcomes) {
        StringBuilder out = new StringBuilder(RUNS_CSV_HEADER).append('\n');
        for (StabilityRun.Outcome o : outcomes) {
            out.append(String.join(",", csvText(o.config().name()), csvText(o.contender().label()),
                    String.valueOf(o.contender().guarded()), String.valueOf(o.seed()), o.config().metric(),
                    csvNumber(o.finalMetric()), csvNumber(o.finalLoss()), csvNumber(o.bestLoss()),
                    o.stepsToTarget() < 0 ? "" : String.valueOf(o.stepsToTarget()),
                    String.valueOf(o.nonFiniteSteps()), String.valueOf(o.interventions()),
                    String.valueOf(o.clippedSteps()), csvNumber(o.wallSeconds()), o.ending())).append('\n');
        }
        return out.toString();
    }

    /** A label as one CSV field: quoted (RFC 4180) when it holds a comma or a quote, as "guard, no clipping" does. */
    static String csvText(String text) {
        return text.contains(",") || text.contains("\"") ? "\"" + text.replace("\"", "\"\"") + "\"" : text;
    }

    /** Empty for "never", so that a spreadsheet reads the column as numbers. */
    private static String csvNumber(double v) {
        return Double.isFinite(v) ? String.format(Locale.ROOT, "%.6g", v) : Double.isNaN(v) ? "NaN" : "";
    }

    private static String metricFormat(ExplodingConfig config) {
        return config.higherIsBetter() ? "%.4f" : "%.4g";
    }

    private static String spread(Spread s, String fmt) {
        String median = number(s.median(), fmt);
        if (s.min() == s.max() || (Double.isNaN(s.min()) && Double.isNaN(s.max()))) {
            return median;
        }
        return median + " (" + number(s.min(), fmt) + "–" + number(s.max(), fmt) + ")";
    }

    private static String number(double v, String fmt) {
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
