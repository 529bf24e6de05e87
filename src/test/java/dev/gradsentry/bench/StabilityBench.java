package dev.gradsentry.bench;

import dev.gradsentry.core.clip.Agc;
import dev.gradsentry.core.clip.AutoClip;
import dev.gradsentry.core.clip.NoClip;
import dev.gradsentry.core.clip.ZClip;
import dev.gradsentry.training.FashionMnist;
import dev.gradsentry.training.RunSpec;
import dev.gradsentry.training.WorkloadKind;
import dev.gradsentry.training.Workloads;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.ToDoubleFunction;

/**
 * {@code ./bench stability [--quick] [--out DIR]}: trains every configuration that explodes without clipping with
 * every contender (no clipping, fixed thresholds over grids, AutoClip, ZClip, AGC, the guard with and without its
 * adaptive clipping) over several seeds, then the seed article's experiment, and writes a Markdown table, CSVs and
 * PNG plots. Runs go one after another in this JVM so that their wall times compare.
 */
public final class StabilityBench {

    /**
     * What to run.
     *
     * @param configs     exploding configurations
     * @param contenders  ways of training each of them
     * @param seeds       seeds; each gives every contender the same initial weights and data order
     * @param replication the seed article's configuration
     * @param replicationContenders no clipping, its {@code clipvalue}, and adaptive
     */
    record Plan(List<ExplodingConfig> configs, List<Contender> contenders, List<Long> seeds,
                ExplodingConfig replication, List<Contender> replicationContenders) {

        int runs() {
            return (configs.size() * contenders.size() + replicationContenders.size()) * seeds.size();
        }

        /** The first {@code n} seeds. */
        Plan withSeeds(int n) {
            return new Plan(configs, contenders, seeds.subList(0, Math.min(n, seeds.size())), replication,
                    replicationContenders);
        }

        /** Only the contender labelled {@code label}, e.g. {@code adaptive (guard)}, on every configuration. */
        Plan onlyContender(String label) {
            return new Plan(configs, contenders.stream().filter(c -> c.label().equals(label)).toList(), seeds,
                    replication, replicationContenders.stream().filter(c -> c.label().equals(label)).toList());
        }

        /** Only the configuration whose name or file-name slug is {@code name} (the article's included). */
        Plan only(String name) {
            boolean article = name.equals(replication.name()) || name.equals(slug(replication.name()));
            return new Plan(configs.stream().filter(c -> c.name().equals(name) || slug(c.name()).equals(name))
                    .toList(), contenders, seeds, replication, article ? replicationContenders : List.of());
        }
    }

    static final List<Long> SEEDS = List.of(42L, 43L, 44L);
    /** Images in the Fashion-MNIST test set. */
    static final int FASHION_TEST_SIZE = 10_000;
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
        String only = null;
        String contender = null;
        int seeds = SEEDS.size();
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--quick" -> quick = true;
                case "--out" -> out = Path.of(args[++i]);
                case "--only" -> only = args[++i];
                case "--seeds" -> seeds = Integer.parseInt(args[++i]);
                case "--contender" -> contender = args[++i];
                default -> {
                    System.err.println("usage: ./bench stability [--quick] [--out DIR] [--only CONFIGURATION] "
                            + "[--contender LABEL] [--seeds N]");
                    System.exit(2);
                }
            }
        }
        System.setProperty("java.awt.headless", "true");
        Plan plan = quick ? quickPlan() : fullPlan();
        if (contender != null) {
            plan = plan.onlyContender(contender);
        }
        run(only == null ? plan.withSeeds(seeds) : plan.only(only).withSeeds(seeds), out, System.out);
    }

    /** The README's run: four configurations, twenty contenders, three seeds, and the article's 5,000 steps. */
    static Plan fullPlan() {
        List<Contender> contenders = new ArrayList<>();
        contenders.add(Contender.unguarded(NoClip.NAME));
        for (double t : List.of(0.01, 0.05, 0.1, 0.5, 1.0)) {
            contenders.add(Contender.fixed("value", t));
        }
        for (String kind : List.of("norm", "global-norm")) {
            for (double t : List.of(0.1, 0.5, 1.0, 5.0, 10.0)) {
                contenders.add(Contender.fixed(kind, t));
            }
        }
        contenders.add(Contender.unguarded(AutoClip.NAME));
        contenders.add(Contender.unguarded(ZClip.NAME));
        contenders.add(Contender.unguarded(Agc.NAME));
        contenders.add(Contender.guardWithoutClipping());
        contenders.add(Contender.adaptive());
        return new Plan(List.of(
                config("fashion-mlp", WorkloadKind.FASHION_MLP, 600, 128, 100, 50, 0.7, 9),
                config("fashion-rnn", WorkloadKind.FASHION_RNN, 160, 128, 100, 20, 0.5, 50),
                config("adding T=100", WorkloadKind.ADDING, 80, 64, 100, 20, 0.16, 100),
                config("adding T=200", WorkloadKind.ADDING, 40, 64, 200, 10, 0.16, 200)),
                contenders, SEEDS, article(5000, 500), articleContenders());
    }

    /** The test suite's run: two configurations, one threshold per grid, one seed, a few steps. */
    static Plan quickPlan() {
        List<Contender> contenders = List.of(Contender.unguarded(NoClip.NAME), Contender.fixed("value", 0.1),
                Contender.fixed("norm", 1), Contender.fixed("global-norm", 1), Contender.unguarded(AutoClip.NAME),
                Contender.unguarded(ZClip.NAME), Contender.unguarded(Agc.NAME), Contender.guardWithoutClipping(),
                Contender.adaptive());
        return new Plan(List.of(
                config("fashion-mlp", WorkloadKind.FASHION_MLP, 40, 128, 100, 10, 0.7, 9),
                config("adding T=100", WorkloadKind.ADDING, 20, 64, 100, 10, 0.16, 100)),
                contenders, List.of(42L), article(30, 15), articleContenders());
    }

    private static ExplodingConfig config(String name, WorkloadKind kind, int steps, int batch, int sequenceLength,
                                          int evalEvery, double target, double msPerStepGuess) {
        RunSpec e = RunSpec.exploding(kind);
        return new ExplodingConfig(name, new RunSpec(e.workload(), e.cell(), e.activation(), e.recurrentGain(),
                e.hidden(), e.optimizer(), e.learningRate(), batch, steps, e.seed(), evalEvery, 1000, sequenceLength),
                evalEvery, target, msPerStepGuess);
    }

    /** The article's Keras run, {@code steps_per_epoch=500, epochs=10}: evaluated once per "epoch". */
    private static ExplodingConfig article(int steps, int stepsPerEpoch) {
        return config("seed article: fashion-mlp", WorkloadKind.FASHION_MLP, steps, 128, 100, stepsPerEpoch, 0.7, 9);
    }

    private static List<Contender> articleContenders() {
        return List.of(Contender.unguarded(NoClip.NAME), Contender.fixed("value", ARTICLE_CLIP_VALUE),
                Contender.adaptive());
    }

    /** Runs the plan and writes every output into {@code out}; returns what it measured. */
    static List<StabilityRun.Outcome> run(Plan plan, Path out, PrintStream console) throws IOException {
        Files.createDirectories(out);
        FashionData fashion = new FashionData();
        Workloads workloads = new Workloads(fashion::get);
        Progress progress = new Progress(plan, console);
        console.printf(Locale.ROOT, "stability: %d runs planned (%d configurations x %d contenders x %d seeds, "
                        + "and the seed article: %d contenders x %d seeds); ETA %s%n", plan.runs(), plan.configs().size(),
                plan.contenders().size(), plan.seeds().size(), plan.replicationContenders().size(), plan.seeds().size(),
                Progress.format(progress.remaining()));
        Map<String, ToDoubleFunction<MultiLayerNetwork>> fullTestSets = new HashMap<>();
        List<StabilityRun.Outcome> outcomes = new ArrayList<>();
        for (ExplodingConfig config : plan.configs()) {
            for (long seed : plan.seeds()) {
                for (Contender contender : plan.contenders()) {
                    outcomes.add(progress.done(StabilityRun.train(workloads, config, contender, seed,
                            finalEvaluator(workloads, config, fullTestSets), seed == plan.seeds().get(0))));
                }
            }
        }
        List<StabilityRun.Outcome> replication = new ArrayList<>();
        for (long seed : plan.seeds()) {
            for (Contender contender : plan.replicationContenders()) {
                replication.add(progress.done(StabilityRun.train(workloads, plan.replication(), contender, seed,
                        finalEvaluator(workloads, plan.replication(), fullTestSets), seed == plan.seeds().get(0))));
            }
        }
        StabilityTable table = new StabilityTable(outcomes);
        StabilityTable article = new StabilityTable(replication);
        String markdown = "## Stability\n\n" + table.verdictMarkdown() + "\n" + table.markdown()
                + "\n## Seed article replication\n\n" + article.markdown();
        Files.writeString(out.resolve("stability.md"), markdown);
        Files.writeString(out.resolve("stability.csv"), table.csv());
        Files.writeString(out.resolve("stability-runs.csv"), StabilityTable.runsCsv(outcomes));
        Files.writeString(out.resolve("replication.csv"), article.csv());
        console.println();
        console.print(markdown);
        plot(plan, table, outcomes, replication, out);
        console.println("\nwritten to " + out.toAbsolutePath());
        return concat(outcomes, replication);
    }

    private static void plot(Plan plan, StabilityTable table, List<StabilityRun.Outcome> outcomes,
                             List<StabilityRun.Outcome> replication, Path out) throws IOException {
        long seed = plan.seeds().get(0);
        for (ExplodingConfig config : plan.configs()) {
            // Every fixed threshold would bury the chart: each grid shows its best member.
            List<String> shown = new ArrayList<>(List.of(NoClip.NAME));
            for (String grid : List.of("value", "norm", "global-norm")) {
                table.bestOfGrid(config, grid).ifPresent(c -> shown.add(c.contender().label()));
            }
            shown.addAll(List.of(AutoClip.NAME, ZClip.NAME, Agc.NAME, Contender.guardWithoutClipping().label(),
                    Contender.adaptive().label()));
            List<StabilityRun.Outcome> curves = new ArrayList<>();
            for (String label : shown) {
                outcomes.stream().filter(o -> o.config() == config && o.seed() == seed && o.trace() != null
                        && o.contender().label().equals(label)).findFirst().ifPresent(curves::add);
            }
            String slug = slug(config.name());
            StabilityPlots.loss(config.name() + ": training loss, seed " + seed, curves,
                    out.resolve("stability-loss-" + slug + ".png"));
            for (StabilityRun.Outcome o : curves) {
                if (o.contender().equals(Contender.adaptive())) {
                    StabilityPlots.norm(config.name() + ": adaptive (guard), seed " + seed, o,
                            out.resolve("stability-norm-" + slug + ".png"));
                }
            }
        }
        List<StabilityRun.Outcome> article = replication.stream()
                .filter(o -> o.seed() == seed && o.trace() != null).toList();
        StabilityPlots.loss(plan.replication().name() + ": training loss, seed " + seed, article,
                out.resolve("replication-loss.png"));
        StabilityPlots.metric(plan.replication().name() + ": test accuracy (1,000 examples) per epoch, seed " + seed,
                plan.replication().metric(), article, out.resolve("replication-accuracy.png"));
    }

    /**
     * Fashion-MNIST runs end with an evaluation on the whole 10,000-image test set (the periodic ones, for "steps to
     * target", use the first 1,000); the adding problem is evaluated on its run's held-out sequences.
     */
    private static ToDoubleFunction<MultiLayerNetwork> finalEvaluator(
            Workloads workloads, ExplodingConfig config, Map<String, ToDoubleFunction<MultiLayerNetwork>> cache) {
        RunSpec s = config.spec();
        if (s.workload() == WorkloadKind.ADDING) {
            return null;
        }
        return cache.computeIfAbsent(s.workload().id(), id -> workloads.prepare(new RunSpec(s.workload(), s.cell(),
                s.activation(), s.recurrentGain(), s.hidden(), s.optimizer(), s.learningRate(), s.batchSize(),
                s.steps(), s.seed(), s.evalInterval(), FASHION_TEST_SIZE, s.sequenceLength())).evaluator());
    }

    static String slug(String name) {
        return name.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9]+", "-").replaceAll("(^-|-$)", "");
    }

    private static <T> List<T> concat(List<T> a, List<T> b) {
        List<T> all = new ArrayList<>(a);
        all.addAll(b);
        return all;
    }

    /** Loads Fashion-MNIST once, on first use. */
    private static final class FashionData {
        private FashionMnist data;

        FashionMnist get() {
            if (data == null) {
                data = FashionMnist.load(FashionMnist.DEBIAN_PATH);
            }
            return data;
        }
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
            acc[1] += o.config().spec().steps();
            doneRuns.merge(o.config().name(), 1, Integer::sum);
            console.printf(Locale.ROOT, "[%3d/%d] %-26s %-20s seed %d: %s %.4f, loss %.4g, %d non-finite, %s, "
                            + "%.1f s | elapsed %s, ETA %s%n", done, plan.runs(), o.config().name(),
                    o.contender().label(), o.seed(), o.config().metric(), o.finalMetric(), o.finalLoss(),
                    o.nonFiniteSteps(), o.ending(), o.wallSeconds(),
                    format(Duration.ofNanos(System.nanoTime() - start)), format(remaining()));
            return o;
        }

        Duration remaining() {
            double seconds = 0;
            int perConfig = plan.contenders().size() * plan.seeds().size();
            for (ExplodingConfig c : plan.configs()) {
                seconds += (perConfig - doneRuns.getOrDefault(c.name(), 0)) * perRun(c);
            }
            int article = plan.replicationContenders().size() * plan.seeds().size();
            seconds += (article - doneRuns.getOrDefault(plan.replication().name(), 0)) * perRun(plan.replication());
            return Duration.ofMillis((long) (seconds * 1000));
        }

        private double perRun(ExplodingConfig c) {
            double[] acc = secondsAndSteps.get(c.name());
            double secondsPerStep = acc == null ? c.msPerStepGuess() / 1000 : acc[0] / acc[1];
            return secondsPerStep * c.spec().steps();
        }

        static String format(Duration d) {
            return d.toMinutes() > 0 ? d.toMinutes() + "m" + d.toSecondsPart() + "s" : d.toSecondsPart() + "s";
        }
    }
}
