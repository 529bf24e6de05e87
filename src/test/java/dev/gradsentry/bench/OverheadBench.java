package dev.gradsentry.bench;

import dev.gradsentry.api.TrainingMetrics;
import dev.gradsentry.core.clip.AdaptiveClip;
import dev.gradsentry.core.intervene.Guard;
import dev.gradsentry.core.intervene.GuardSettings;
import dev.gradsentry.core.probe.GradientProbe;
import dev.gradsentry.training.FashionMnist;
import dev.gradsentry.training.RunSettings;
import dev.gradsentry.training.RunSpec;
import dev.gradsentry.training.StepHistory;
import dev.gradsentry.training.TrainingSetup;
import dev.gradsentry.training.WorkloadKind;
import dev.gradsentry.training.Workloads;
import io.micrometer.prometheus.PrometheusConfig;
import io.micrometer.prometheus.PrometheusMeterRegistry;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.optimize.api.BaseTrainingListener;
import org.deeplearning4j.ui.model.stats.StatsListener;
import org.deeplearning4j.ui.model.storage.InMemoryStatsStorage;
import org.nd4j.linalg.dataset.DataSet;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.lang.management.ThreadMXBean;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Step-time overhead of monitoring, side by side in one JVM: the same network, data and seed trained bare, with the
 * two listeners that do nothing (what DL4J itself charges for calling listeners), with the probe feeding the
 * Prometheus meters, and with the probe, the guard (adaptive clipping, every default, wired as a
 * run wires it) and the meters; {@code --stats-listener} adds DL4J's own {@code StatsListener} for comparison.
 *
 * <p>What is measured is the training thread's CPU time ({@link ThreadMXBean}): with {@code OMP_NUM_THREADS=1}
 * ND4J computes on the calling thread (the bench prints the training thread's share of the process's CPU time to
 * show it), so thread CPU time is the step's own work and does not count the time the thread waited for a core on
 * a shared machine, which is what scattered the wall-clock ratios from 0.5x to 1.5x. The variants take turns in
 * short blocks, the order rotating every round; each round gives each variant's time divided by the bare time of the
 * same round, and the bench prints the median of those ratios over many rounds with a distribution-free 95% interval
 * ({@link MedianInterval}). Wall-clock ratios are printed too. (The process's CPU time is no use per block: the JVM
 * reads it in 10 ms ticks here; over a whole case, {@link ThreadsByName} shows where it went.)
 *
 * <p>A third measure times the probe, guard and meters from inside the training loop (listeners just before and
 * after them) as a share of the step.
 */
public final class OverheadBench {

    private enum Variant {
        BARE("bare DL4J"),
        /** DL4J's own cost of having listeners: the two timing listeners the monitored variants carry, and nothing. */
        LISTENERS_ONLY("two empty listeners"),
        PROBE_METRICS("probe + metrics"),
        PROBE_GUARD_METRICS("probe + guard + metrics"),
        /** Everything a run of the service does per step: the above, and each step handed to the history writer. */
        EVERYTHING("probe + guard + metrics + history"),
        STATS_LISTENER("DL4J StatsListener");

        final String label;

        Variant(String label) {
            this.label = label;
        }
    }

    /**
     * @param warmupRounds rounds before the measured ones: enough for the JIT to compile the code that runs once per
     *                     step. GradSentry's per-step code has few loops, so C2 compiles it only after thousands of
     *                     calls: on the MLP the guard's {@code beforeUpdate} took 64 us of CPU over the first 1800
     *                     steps and 8 us from about the 6000th on (2026-12-01). The monitored variants share that
     *                     code, so 400 rounds of 8 steps make about 10,000 calls.
     */
    private record Case(String name, RunSpec spec, int stepsPerBlock, int rounds, int warmupRounds) {
    }

    /** One block of steps of one variant, on two clocks. */
    private record Block(long threadCpu, long wall) {
    }

    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

    public static void main(String[] args) {
        List<String> flags = Arrays.asList(args);
        boolean quick = flags.contains("--quick");
        String only = option(flags, "--only", null);
        int rounds = Integer.parseInt(option(flags, "--rounds", "0"));
        int warmup = Integer.parseInt(option(flags, "--warmup", "-1"));
        List<Variant> variants = new ArrayList<>(List.of(Variant.BARE, Variant.LISTENERS_ONLY, Variant.PROBE_METRICS,
                Variant.PROBE_GUARD_METRICS, Variant.EVERYTHING));
        if (flags.contains("--stats-listener")) {
            variants.add(Variant.STATS_LISTENER);
        }
        if (!THREADS.isCurrentThreadCpuTimeSupported()) {
            throw new IllegalStateException("this JVM cannot measure a thread's CPU time");
        }
        THREADS.setThreadCpuTimeEnabled(true);
        FashionMnist data = FashionMnist.load(FashionMnist.DEBIAN_PATH);
        Workloads workloads = new Workloads(() -> data);
        List<Case> cases = new ArrayList<>(List.of(
                new Case("fashion-mlp (784-64-64-10, sgd)", RunSpec.defaults(WorkloadKind.FASHION_MLP), 8,
                        quick ? 12 : 300, 400),
                new Case("fashion-rnn (lstm 64, adam)", RunSpec.defaults(WorkloadKind.FASHION_RNN), 1,
                        quick ? 6 : 40, 10),
                new Case("adding T=100 (lstm 32, adam)", RunSpec.defaults(WorkloadKind.ADDING), 1, quick ? 6 : 30,
                        10)));
        if (only != null) {
            cases.removeIf(c -> !c.spec().workload().name().toLowerCase(Locale.ROOT).contains(only));
            if (cases.isEmpty()) {
                throw new IllegalArgumentException("--only " + only + " matches no workload (mlp, rnn, adding)");
            }
        }
        if (rounds > 0) {
            cases.replaceAll(c -> new Case(c.name(), c.spec(), c.stepsPerBlock(), rounds, c.warmupRounds()));
        }
        System.out.printf(Locale.ROOT, "overhead bench: OMP_NUM_THREADS=%s, %s, %d processors%n",
                System.getenv("OMP_NUM_THREADS"), Runtime.version(), Runtime.getRuntime().availableProcessors());
        List<String> rows = new ArrayList<>();
        for (Case c : cases) {
            rows.add(run(c, workloads, variants, quick ? 2 : warmup >= 0 ? warmup : c.warmupRounds()));
        }
        System.out.println();
        StringBuilder header = new StringBuilder("| workload | bare CPU ms/step |");
        StringBuilder rule = new StringBuilder("|---|---|");
        for (Variant v : variants.subList(1, variants.size())) {
            header.append(' ').append(v.label).append(", thread CPU |");
            rule.append("---|");
        }
        header.append(" everything, wall | everything timed inside the step | training thread / process CPU |");
        rule.append("---|---|---|");
        System.out.println(header);
        System.out.println(rule);
        rows.forEach(System.out::println);
        System.out.println();
        System.out.println(LoadBench.deepNetworkScrape(quick ? 50 : 400));
    }

    private static String run(Case c, Workloads workloads, List<Variant> variants, int warmupRounds) {
        Path historyDir;
        try {
            historyDir = Files.createTempDirectory("gradsentry-overhead-");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        List<StepHistory> histories = new ArrayList<>();
        Map<Variant, MultiLayerNetwork> nets = new EnumMap<>(Variant.class);
        List<DataSet> batches = new ArrayList<>();
        for (Variant v : variants) {
            TrainingSetup setup = workloads.prepare(c.spec());
            nets.put(v, ((dev.gradsentry.training.Network.Layers) setup.network()).net());
            if (batches.isEmpty()) {
                for (int i = 0; i < 16; i++) {
                    batches.add(setup.train().next());
                }
            }
        }
        List<PrometheusMeterRegistry> registries = new ArrayList<>();
        Map<Variant, CallbackTimer> timers = new EnumMap<>(Variant.class);
        for (Variant v : List.of(Variant.PROBE_METRICS, Variant.PROBE_GUARD_METRICS, Variant.EVERYTHING)) {
            MultiLayerNetwork net = nets.get(v);
            PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
            registries.add(registry);
            TrainingMetrics metrics = new TrainingMetrics();
            metrics.bindTo(registry);
            metrics.runStarted("bench", c.spec());
            CallbackTimer timer = new CallbackTimer();
            timers.put(v, timer);
            net.addListeners(timer.start);
            GradientProbe probe = GradientProbe.attach(net);
            Guard guard = null;
            if (v != Variant.PROBE_METRICS) {
                // As TrainingRun.setupFrom wires it, less the audit log (which writes only when the guard acts).
                guard = new Guard(net, "bench", AdaptiveClip.defaults(), GuardSettings.defaults(), Clock.systemUTC());
                probe.intercept(guard);
            }
            metrics.attach(probe, guard);
            if (v == Variant.EVERYTHING) {
                // As TrainingRun.record hands each step to the run's history, whose writer thread does the rest.
                StepHistory history = new StepHistory(historyDir,
                        RunSettings.DEFAULT_STEPS_KEEP_MIB * 1024L * 1024L);
                history.layers(probe.layerNames());
                histories.add(history);
                Guard g = guard;
                probe.addObserver(step -> history.offer(step.iteration(), step, g.lastDecision().thresholds(),
                        g.lastClipped(), Double.NaN));
            }
            net.addListeners(timer.stop);
        }
        CallbackTimer alone = new CallbackTimer();
        nets.get(Variant.LISTENERS_ONLY).addListeners(alone.start, alone.stop);
        if (nets.containsKey(Variant.STATS_LISTENER)) {
            nets.get(Variant.STATS_LISTENER).addListeners(new StatsListener(new InMemoryStatsStorage(), 1));
        }

        Map<Variant, List<Double>> cpuRatios = new EnumMap<>(Variant.class);
        Map<Variant, List<Double>> wallRatios = new EnumMap<>(Variant.class);
        List<Double> bareCpuMs = new ArrayList<>();
        List<Double> insideShare = new ArrayList<>();
        Map<String, Long> threadsBefore = ThreadsByName.ticks();
        long mainBefore = THREADS.getCurrentThreadCpuTime();
        for (int round = 0; round < warmupRounds + c.rounds(); round++) {
            Map<Variant, Block> blocks = new EnumMap<>(Variant.class);
            timers.values().forEach(CallbackTimer::reset);
            for (int k = 0; k < variants.size(); k++) {
                Variant v = variants.get((k + round) % variants.size());
                blocks.put(v, timeSteps(nets.get(v), batches, c.stepsPerBlock(), round * c.stepsPerBlock()));
            }
            if (round < warmupRounds) {
                continue;
            }
            Block bare = blocks.get(Variant.BARE);
            bareCpuMs.add(bare.threadCpu() / 1e6 / c.stepsPerBlock());
            for (Variant v : variants) {
                Block b = blocks.get(v);
                cpuRatios.computeIfAbsent(v, x -> new ArrayList<>()).add((double) b.threadCpu() / bare.threadCpu());
                wallRatios.computeIfAbsent(v, x -> new ArrayList<>()).add((double) b.wall() / bare.wall());
            }
            insideShare.add(timers.get(Variant.EVERYTHING).nanos / (double) blocks.get(Variant.EVERYTHING).wall());
        }
        registries.forEach(PrometheusMeterRegistry::close);
        histories.forEach(StepHistory::close);
        long dropped = histories.stream().mapToLong(StepHistory::dropped).sum();
        deleteTree(historyDir);
        ThreadsByName.Usage byThread = ThreadsByName.since(threadsBefore, THREADS.getCurrentThreadCpuTime() - mainBefore);

        System.out.printf(Locale.ROOT, "%s: %d rounds of %d steps per variant after %d warm-up rounds%n", c.name(),
                c.rounds(), c.stepsPerBlock(), warmupRounds);
        for (Variant v : variants.subList(1, variants.size())) {
            System.out.printf(Locale.ROOT, "  %-24s thread CPU %s, wall %s%n", v.label,
                    MedianInterval.of(cpuRatios.get(v)), MedianInterval.of(wallRatios.get(v)).ratio());
        }
        MedianInterval inside = MedianInterval.of(insideShare);
        System.out.printf(Locale.ROOT, "  probe + guard + metrics + history timed inside the step: %.2f%% [%.2f, %.2f] "
                        + "of the step's wall time; steps the history dropped: %d%n", 100 * inside.median(),
                100 * inside.low(), 100 * inside.high(), dropped);
        System.out.println("  CPU by thread over the case: " + byThread.summary());
        StringBuilder row = new StringBuilder(String.format(Locale.ROOT, "| %s | %.2f |", c.name(),
                MedianInterval.of(bareCpuMs).median()));
        for (Variant v : variants.subList(1, variants.size())) {
            row.append(' ').append(MedianInterval.of(cpuRatios.get(v)).ratio()).append(" |");
        }
        row.append(String.format(Locale.ROOT, " %s | %.2f%% | %.1f%% |",
                MedianInterval.of(wallRatios.get(Variant.EVERYTHING)).ratio(), 100 * inside.median(),
                100 * byThread.trainingShare()));
        return row.toString();
    }

    /** Two listeners placed around the probe: the time between them is what the probe and its observers cost. */
    private static final class CallbackTimer {
        long nanos;
        private long startedAt;

        final BaseTrainingListener start = new BaseTrainingListener() {
            @Override
            public void onGradientCalculation(Model model) {
                startedAt = System.nanoTime();
            }

            @Override
            public void iterationDone(Model model, int iteration, int epoch) {
                startedAt = System.nanoTime();
            }
        };

        final BaseTrainingListener stop = new BaseTrainingListener() {
            @Override
            public void onGradientCalculation(Model model) {
                nanos += System.nanoTime() - startedAt;
            }

            @Override
            public void iterationDone(Model model, int iteration, int epoch) {
                nanos += System.nanoTime() - startedAt;
            }
        };

        void reset() {
            nanos = 0;
        }
    }

    private static void deleteTree(Path dir) {
        try (Stream<Path> paths = Files.walk(dir)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            System.err.println("could not delete " + dir + ": " + e.getMessage());
        }
    }

    private static String option(List<String> flags, String name, String fallback) {
        int i = flags.indexOf(name);
        return i >= 0 && i + 1 < flags.size() ? flags.get(i + 1) : fallback;
    }

    /** Trains {@code steps} steps from batch {@code first} on, on two clocks. */
    private static Block timeSteps(MultiLayerNetwork net, List<DataSet> batches, int steps, int first) {
        long cpu = THREADS.getCurrentThreadCpuTime();
        long wall = System.nanoTime();
        for (int i = 0; i < steps; i++) {
            net.fit(batches.get((first + i) % batches.size()));
        }
        return new Block(THREADS.getCurrentThreadCpuTime() - cpu, System.nanoTime() - wall);
    }
}
