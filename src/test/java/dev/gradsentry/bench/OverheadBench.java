package dev.gradsentry.bench;

import dev.gradsentry.api.TrainingMetrics;
import dev.gradsentry.core.probe.GradientProbe;
import dev.gradsentry.training.FashionMnist;
import dev.gradsentry.training.RunSpec;
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

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Step-time overhead of monitoring: the same network, data and seed trained bare, with the gradient probe, with the
 * probe feeding the Prometheus meters, and with DL4J's own {@code StatsListener} (in-memory storage, reporting every
 * iteration). The variants take turns in short blocks of steps, their order rotating every block, so that the drift
 * of a shared 2-core machine hits all of them alike; a round is many such blocks, and the printed ratio is the median
 * over rounds of each variant's time divided by the bare time of the same round.
 *
 * <p>Wall-clock ratios on this machine still scatter by several percent, so the bench also times the probe and the
 * metrics from inside the training loop (listeners just before and after them) and prints that time as a share of
 * the step: the direct measure of what monitoring costs.
 */
public final class OverheadBench {

    private enum Variant { BARE, PROBE, PROBE_METRICS, STATS_LISTENER }

    private record Case(String name, RunSpec spec, int stepsPerBlock, int blocksPerRound) {
    }

    public static void main(String[] args) {
        boolean quick = Arrays.asList(args).contains("--quick");
        int rounds = quick ? 3 : 9;
        int warmupRounds = quick ? 1 : 2;
        FashionMnist data = FashionMnist.load(FashionMnist.DEBIAN_PATH);
        Workloads workloads = new Workloads(() -> data);
        List<Case> cases = List.of(
                new Case("fashion-mlp (784-64-64-10, sgd)", RunSpec.defaults(WorkloadKind.FASHION_MLP), 25,
                        quick ? 2 : 8),
                new Case("fashion-rnn (lstm 64, adam)", RunSpec.defaults(WorkloadKind.FASHION_RNN), 1, quick ? 2 : 12),
                new Case("adding T=100 (lstm 32, adam)", RunSpec.defaults(WorkloadKind.ADDING), 1, quick ? 2 : 10));
        System.out.printf(Locale.ROOT, "overhead bench: %d rounds after %d warm-up, OMP_NUM_THREADS=%s, %s%n",
                rounds, warmupRounds, System.getenv("OMP_NUM_THREADS"), Runtime.version());
        List<String> rows = new ArrayList<>();
        for (Case c : cases) {
            rows.add(run(c, workloads, rounds, warmupRounds));
        }
        System.out.println();
        System.out.println("| workload | bare ms/step | probe | probe + metrics | DL4J StatsListener "
                + "| probe + metrics, timed inside the step |");
        System.out.println("|---|---|---|---|---|---|");
        rows.forEach(System.out::println);
    }

    private static String run(Case c, Workloads workloads, int rounds, int warmupRounds) {
        Map<Variant, MultiLayerNetwork> nets = new LinkedHashMap<>();
        List<DataSet> batches = new ArrayList<>();
        for (Variant v : Variant.values()) {
            TrainingSetup setup = workloads.prepare(c.spec());
            nets.put(v, setup.network());
            if (batches.isEmpty()) {
                for (int i = 0; i < 16; i++) {
                    batches.add(setup.train().next());
                }
            }
        }
        GradientProbe.attach(nets.get(Variant.PROBE));
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        TrainingMetrics metrics = new TrainingMetrics();
        metrics.bindTo(registry);
        MultiLayerNetwork monitored = nets.get(Variant.PROBE_METRICS);
        CallbackTimer timer = new CallbackTimer();
        monitored.addListeners(timer.start);
        GradientProbe.attach(monitored).addObserver(metrics);
        monitored.addListeners(timer.stop);
        nets.get(Variant.STATS_LISTENER).addListeners(new StatsListener(new InMemoryStatsStorage(), 1));

        Map<Variant, List<Double>> ratios = new LinkedHashMap<>();
        List<Double> bareMs = new ArrayList<>();
        List<Double> shares = new ArrayList<>();
        Variant[] order = Variant.values();
        int block = 0;
        for (int round = 0; round < warmupRounds + rounds; round++) {
            Map<Variant, Double> ms = new LinkedHashMap<>();
            timer.reset();
            for (int b = 0; b < c.blocksPerRound(); b++, block++) {
                for (int k = 0; k < order.length; k++) {
                    Variant v = order[(k + block) % order.length];
                    ms.merge(v, timeSteps(nets.get(v), batches, c.stepsPerBlock()), Double::sum);
                }
            }
            if (round < warmupRounds) {
                continue;
            }
            double bare = ms.get(Variant.BARE);
            bareMs.add(bare / (c.blocksPerRound() * c.stepsPerBlock()));
            for (Variant v : order) {
                ratios.computeIfAbsent(v, x -> new ArrayList<>()).add(ms.get(v) / bare);
            }
            double share = timer.nanos / 1e6 / ms.get(Variant.PROBE_METRICS);
            shares.add(share);
            System.out.printf(Locale.ROOT, "  %s round %d: bare %.2f ms/step, probe x%.3f, probe+metrics x%.3f, "
                            + "StatsListener x%.3f; probe+metrics callbacks %.2f%% of the step%n", c.name(),
                    round - warmupRounds + 1, bareMs.get(bareMs.size() - 1),
                    ms.get(Variant.PROBE) / bare, ms.get(Variant.PROBE_METRICS) / bare,
                    ms.get(Variant.STATS_LISTENER) / bare, 100 * share);
        }
        registry.close();
        return String.format(Locale.ROOT, "| %s | %.2f | %.3fx | %.3fx | %.2fx | %.2f%% |", c.name(), median(bareMs),
                median(ratios.get(Variant.PROBE)), median(ratios.get(Variant.PROBE_METRICS)),
                median(ratios.get(Variant.STATS_LISTENER)), 100 * median(shares));
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

    private static double timeSteps(MultiLayerNetwork net, List<DataSet> batches, int steps) {
        long t0 = System.nanoTime();
        for (int i = 0; i < steps; i++) {
            net.fit(batches.get(i % batches.size()));
        }
        return (System.nanoTime() - t0) / 1e6;
    }

    static double median(List<Double> values) {
        double[] v = values.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }
}
