package dev.gradsentry.bench;

import dev.gradsentry.bench.StabilityConfig.Half;
import dev.gradsentry.bench.StabilityConfig.Row;
import dev.gradsentry.core.clip.Agc;
import dev.gradsentry.core.clip.AutoClip;
import dev.gradsentry.core.clip.ZClip;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;
import java.util.stream.Collectors;

/**
 * {@code ./bench stability}: trains every configuration of the plan (rows that explode or stall without clipping,
 * healthy runs hit by late trouble, healthy controls, the seed article's run) with its contenders (no clipping, the
 * fixed-threshold grids, AutoClip, ZClip, AGC, the guard without clipping, the guard as {@code Guard.protect} attaches
 * it) over several seeds, and writes Markdown, CSVs and PNG plots. Runs go one after another in this JVM so that their
 * wall times compare.
 */
public final class StabilityBench {

    static final String USAGE = "usage: ./bench stability [--quick] [--out DIR] [--split tuning|validation|control] "
            + "[--only CONFIGURATION]... [--contender LABEL]... [--seeds N]";

    /**
     * One configuration with the contenders and the number of seeds it is trained with.
     *
     * @param seeds the first {@code seeds} of {@link #SEEDS}
     */
    record Entry(StabilityConfig config, List<Contender> contenders, int seeds) {

        Entry {
            contenders = List.copyOf(contenders);
        }

        int runs() {
            return contenders.size() * seeds;
        }

        List<Long> seedList() {
            return SEEDS.subList(0, seeds);
        }
    }

    /** What to run, in order. */
    record Plan(List<Entry> entries) {

        Plan {
            entries = List.copyOf(entries);
        }

        int runs() {
            return entries.stream().mapToInt(Entry::runs).sum();
        }

        List<StabilityConfig> configs() {
            return entries.stream().map(Entry::config).toList();
        }

        /** At most {@code n} seeds per configuration. */
        Plan withSeeds(int n) {
            return new Plan(entries.stream().map(e -> new Entry(e.config(), e.contenders(), Math.min(n, e.seeds())))
                    .toList());
        }

        /** Only the contenders labelled so, e.g. {@code guard (defaults)}; configurations left without any are dropped. */
        Plan onlyContenders(Set<String> labels) {
            return new Plan(entries.stream().map(e -> new Entry(e.config(), e.contenders().stream()
                    .filter(c -> labels.contains(c.label())).toList(), e.seeds()))
                    .filter(e -> !e.contenders().isEmpty()).toList());
        }

        /** Only the configurations whose name or file-name slug is one of {@code names}. */
        Plan only(Set<String> names) {
            return filter(c -> names.contains(c.name()) || names.contains(slug(c.name())));
        }

        /** Only one half: {@code tuning}, {@code validation}, or {@code control} (healthy controls, seed article). */
        Plan split(Half half) {
            return filter(c -> c.half() == half);
        }

        private Plan filter(Predicate<StabilityConfig> keep) {
            return new Plan(entries.stream().filter(e -> keep.test(e.config())).toList());
        }
    }

    /** Seeds in order; each gives every contender the same initial weights and data order. */
    static final List<Long> SEEDS = List.of(42L, 43L, 44L, 45L, 46L);
    /** Seeds of exploding and late-trouble rows. */
    static final int TROUBLE_SEEDS = 3;
    /** Seeds of healthy controls (issue 10, item 4). */
    static final int CONTROL_SEEDS = 5;
    /**
     * The seed article's {@code clipvalue}, which it does not carry over to this learning rate: the best of the value
     * grid on one seed of a 1,500-step trial (README, "Does it work?").
     */
    static final double ARTICLE_CLIP_VALUE = 0.01;

    private StabilityBench() {
    }

    public static void main(String[] args) throws IOException {
        boolean quick = false;
        Path out = Path.of("target", "bench");
        Set<String> only = new LinkedHashSet<>();
        Set<String> contenders = new LinkedHashSet<>();
        Half split = null;
        int seeds = SEEDS.size();
        try {
            for (int i = 0; i < args.length; i++) {
                switch (args[i]) {
                    case "--quick" -> quick = true;
                    case "--out" -> out = Path.of(args[++i]);
                    case "--only" -> only.add(args[++i]);
                    case "--seeds" -> seeds = Integer.parseInt(args[++i]);
                    case "--contender" -> contenders.add(args[++i]);
                    case "--split" -> split = Half.of(args[++i]);
                    default -> throw new IllegalArgumentException("unknown option " + args[i]);
                }
            }
        } catch (IllegalArgumentException | ArrayIndexOutOfBoundsException e) {
            System.err.println(e.getMessage() == null ? USAGE : e.getMessage() + "\n" + USAGE);
            System.exit(2);
        }
        System.setProperty("java.awt.headless", "true");
        Plan plan = quick ? quickPlan() : fullPlan();
        if (split != null) {
            plan = plan.split(split);
        }
        if (!only.isEmpty()) {
            plan = plan.only(only);
        }
        if (!contenders.isEmpty()) {
            plan = plan.onlyContenders(contenders);
        }
        plan = plan.withSeeds(seeds);
        if (plan.runs() == 0) {
            System.err.println("nothing to run: no configuration and contender match " + String.join(" ", args));
            System.exit(2);
        }
        run(plan, out, System.out);
    }

    /** The fifteen fixed thresholds whose best member is the hand-tuned reference. */
    static List<Contender> grids() {
        List<Contender> grids = new ArrayList<>();
        for (double t : List.of(0.01, 0.05, 0.1, 0.5, 1.0)) {
            grids.add(Contender.fixed("value", t));
        }
        for (String kind : List.of("norm", "global-norm")) {
            for (double t : List.of(0.1, 0.5, 1.0, 5.0, 10.0)) {
                grids.add(Contender.fixed(kind, t));
            }
        }
        return grids;
    }

    /** No clipping, the grids and the default guard: every exploding and late-trouble row has these. */
    static List<Contender> barContenders() {
        List<Contender> all = new ArrayList<>(List.of(Contender.none()));
        all.addAll(grids());
        all.add(Contender.protect());
        return all;
    }

    /** The bar's contenders plus AutoClip, ZClip, AGC and the guard without clipping, on the original rows only. */
    static List<Contender> allContenders() {
        List<Contender> all = new ArrayList<>(barContenders());
        all.addAll(all.size() - 1, List.of(Contender.clipOnly(AutoClip.NAME), Contender.clipOnly(ZClip.NAME),
                Contender.clipOnly(Agc.NAME), Contender.guardWithoutClipping()));
        return all;
    }

    static List<Contender> controlContenders() {
        return List.of(Contender.none(), Contender.protect());
    }

    static List<Contender> articleContenders() {
        return List.of(Contender.none(), Contender.fixed("value", ARTICLE_CLIP_VALUE), Contender.protect());
    }

    /** The full run: see {@link Plans#full()}. */
    static Plan fullPlan() {
        return Plans.full();
    }

    /** The test suite's run: see {@link Plans#quick()}. */
    static Plan quickPlan() {
        return Plans.quick();
    }

    /** Runs the plan and writes every output into {@code out}; returns what it measured. */
    static List<StabilityRun.Outcome> run(Plan plan, Path out, PrintStream console) throws IOException {
        Files.createDirectories(out);
        BenchData data = new BenchData();
        Progress progress = new Progress(plan, console);
        console.printf(Locale.ROOT, "stability: %d runs planned (%s); ETA %s%n", plan.runs(), plan.entries().stream()
                        .map(e -> e.config().name() + " " + e.contenders().size() + "x" + e.seeds())
                        .collect(Collectors.joining(", ")), Progress.format(progress.remaining()));
        List<StabilityRun.Outcome> outcomes = new ArrayList<>();
        for (Entry entry : plan.entries()) {
            StabilityConfig config = entry.config();
            var finalEvaluator = config.recipe().finalEvaluator(data);
            for (long seed : entry.seedList()) {
                for (Contender contender : entry.contenders()) {
                    outcomes.add(progress.done(StabilityRun.train(data, config, contender, seed, finalEvaluator,
                            seed == SEEDS.get(0))));
                }
            }
        }
        List<StabilityRun.Outcome> rows = outcomes.stream().filter(o -> o.config().row() != Row.ARTICLE).toList();
        List<StabilityRun.Outcome> article = outcomes.stream().filter(o -> o.config().row() == Row.ARTICLE).toList();
        StabilityTable table = new StabilityTable(rows);
        StringBuilder markdown = new StringBuilder("## Stability\n\n").append(StabilityReport.legend(plan))
                .append("\n### Configurations\n\n").append(StabilityReport.configurations(plan)).append('\n')
                .append(new StabilityVerdicts(table, rows).markdown())
                .append("### Everything\n\n").append(table.markdown());
        if (!article.isEmpty()) {
            markdown.append("\n## Seed article replication\n\n").append(new StabilityTable(article).markdown());
        }
        Files.writeString(out.resolve("stability.md"), markdown);
        Files.writeString(out.resolve("stability.csv"), table.csv());
        Files.writeString(out.resolve("stability-runs.csv"), StabilityTable.runsCsv(outcomes));
        if (!article.isEmpty()) {
            Files.writeString(out.resolve("replication.csv"), new StabilityTable(article).csv());
        }
        console.println();
        console.print(markdown);
        plot(table, rows, article, out);
        console.println("\nwritten to " + out.toAbsolutePath());
        return outcomes;
    }

    private static void plot(StabilityTable table, List<StabilityRun.Outcome> rows,
                             List<StabilityRun.Outcome> article, Path out) throws IOException {
        long seed = SEEDS.get(0);
        for (StabilityConfig config : table.configs()) {
            // Every fixed threshold would bury the chart: each grid shows its best member.
            List<String> shown = new ArrayList<>(List.of(Contender.none().label()));
            for (String grid : List.of("value", "norm", "global-norm")) {
                table.bestOfGrid(config, grid).ifPresent(c -> shown.add(c.contender().label()));
            }
            shown.addAll(List.of(AutoClip.NAME, ZClip.NAME, Agc.NAME, Contender.guardWithoutClipping().label(),
                    Contender.protect().label()));
            List<StabilityRun.Outcome> curves = new ArrayList<>();
            for (String label : shown) {
                rows.stream().filter(o -> o.config() == config && o.seed() == seed && o.trace() != null
                        && o.contender().label().equals(label)).findFirst().ifPresent(curves::add);
            }
            String slug = slug(config.name());
            String trouble = config.trouble() == null ? "" : " (" + config.trouble().describe() + ")";
            StabilityPlots.loss(config.name() + trouble + ": training loss, seed " + seed, curves,
                    out.resolve("stability-loss-" + slug + ".png"));
            for (StabilityRun.Outcome o : curves) {
                if (o.contender().equals(Contender.protect())) {
                    StabilityPlots.norm(config.name() + ": guard (defaults), seed " + seed, o,
                            out.resolve("stability-norm-" + slug + ".png"));
                }
            }
        }
        List<StabilityRun.Outcome> traced = article.stream().filter(o -> o.seed() == seed && o.trace() != null)
                .toList();
        if (!traced.isEmpty()) {
            StabilityConfig config = traced.get(0).config();
            StabilityPlots.loss(config.name() + ": training loss, seed " + seed, traced,
                    out.resolve("replication-loss.png"));
            StabilityPlots.metric(config.name() + ": test accuracy (1,000 examples) per epoch, seed " + seed,
                    config.metric(), traced, out.resolve("replication-accuracy.png"));
        }
    }

    static String slug(String name) {
        return name.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9]+", "-").replaceAll("(^-|-$)", "");
    }

    /** Counts finished runs and estimates the time left from each configuration's measured time per planned step. */
    private static final class Progress {
        private final Plan plan;
        private final PrintStream console;
        private final Map<String, double[]> secondsAndSteps = new HashMap<>();
        private final Map<String, Integer> doneRuns = new HashMap<>();
        private final long start = System.nanoTime();
        private int done;

        Progress(Plan plan, PrintStream console) {
            this.plan = plan;
            this.console = console;
        }

        StabilityRun.Outcome done(StabilityRun.Outcome o) {
            done++;
            double[] acc = secondsAndSteps.computeIfAbsent(o.config().name(), k -> new double[2]);
            acc[0] += o.wallSeconds();
            acc[1] += o.stepsDone();
            doneRuns.merge(o.config().name(), 1, Integer::sum);
            console.printf(Locale.ROOT, "[%3d/%d] %-24s %-18s seed %d: %s %.4f (best %.4f), %d non-finite, "
                            + "%d interventions, %.1f%% skipped, %s, %.1f s | elapsed %s, ETA %s%n", done,
                    plan.runs(), o.config().name(), o.contender().label(), o.seed(), o.config().metric(),
                    o.finalMetric(), o.bestMetric(), o.nonFiniteSteps(), o.interventions(), o.skippedShare() * 100,
                    o.ending(), o.wallSeconds(), format(Duration.ofNanos(System.nanoTime() - start)),
                    format(remaining()));
            if (o.failure() != null) {
                console.println("        failed: " + o.failure());
            }
            return o;
        }

        Duration remaining() {
            double seconds = 0;
            for (Entry e : plan.entries()) {
                seconds += (e.runs() - doneRuns.getOrDefault(e.config().name(), 0)) * perRun(e.config());
            }
            return Duration.ofMillis((long) (seconds * 1000));
        }

        private double perRun(StabilityConfig c) {
            double[] acc = secondsAndSteps.get(c.name());
            // Runs stopped early (NaN weights, a pause) say little about a whole run's time per step.
            double secondsPerStep = acc == null || acc[1] == 0 ? c.msPerStepGuess() / 1000 : acc[0] / acc[1];
            return secondsPerStep * c.steps();
        }

        static String format(Duration d) {
            return d.toHours() > 0 ? d.toHours() + "h" + d.toMinutesPart() + "m"
                    : d.toMinutes() > 0 ? d.toMinutes() + "m" + d.toSecondsPart() + "s" : d.toSecondsPart() + "s";
        }
    }
}
