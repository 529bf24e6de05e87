package dev.gradsentry.bench;

import dev.gradsentry.core.probe.GradientProbe;
import dev.gradsentry.metrics.TrainingMetrics;
import dev.gradsentry.training.FashionMnist;
import dev.gradsentry.training.RunSpec;
import dev.gradsentry.training.TrainingSetup;
import dev.gradsentry.training.WorkloadKind;
import dev.gradsentry.training.Workloads;
import io.micrometer.prometheus.PrometheusConfig;
import io.micrometer.prometheus.PrometheusMeterRegistry;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
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
 * iteration). Variants run in interleaved rounds in one JVM, their order rotating each round, so drift of the
 * machine hits all of them alike; the printed figure is the median over rounds of each variant's time divided by the
 * bare time of the same round.
 */
public final class OverheadBench {

    private enum Variant { BARE, PROBE, PROBE_METRICS, STATS_LISTENER }

    private record Case(String name, RunSpec spec, int stepsPerRound) {
    }

    public static void main(String[] args) {
        boolean quick = Arrays.asList(args).contains("--quick");
        int rounds = quick ? 3 : 9;
        int warmupRounds = quick ? 1 : 2;
        FashionMnist data = FashionMnist.load(FashionMnist.DEBIAN_PATH);
        Workloads workloads = new Workloads(() -> data);
        List<Case> cases = List.of(
                new Case("fashion-mlp (784-64-64-10, sgd)", RunSpec.defaults(WorkloadKind.FASHION_MLP),
                        quick ? 50 : 200),
                new Case("fashion-rnn (lstm 64, adam)", RunSpec.defaults(WorkloadKind.FASHION_RNN), quick ? 3 : 12),
                new Case("adding T=100 (lstm 32, adam)", RunSpec.defaults(WorkloadKind.ADDING), quick ? 3 : 12));
        System.out.printf(Locale.ROOT, "overhead bench: %d rounds after %d warm-up, OMP_NUM_THREADS=%s, %s%n",
                rounds, warmupRounds, System.getenv("OMP_NUM_THREADS"), Runtime.version());
        List<String> rows = new ArrayList<>();
        for (Case c : cases) {
            rows.add(run(c, workloads, rounds, warmupRounds));
        }
        System.out.println();
        System.out.println("| workload | bare ms/step | probe | probe + metrics | DL4J StatsListener |");
        System.out.println("|---|---|---|---|---|");
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
        GradientProbe.attach(nets.get(Variant.PROBE_METRICS)).addObserver(metrics);
        nets.get(Variant.STATS_LISTENER).addListeners(new StatsListener(new InMemoryStatsStorage(), 1));

        Map<Variant, List<Double>> ratios = new LinkedHashMap<>();
        List<Double> bareMs = new ArrayList<>();
        Variant[] order = Variant.values();
        for (int round = 0; round < warmupRounds + rounds; round++) {
            Map<Variant, Double> ms = new LinkedHashMap<>();
            for (int k = 0; k < order.length; k++) {
                Variant v = order[(k + round) % order.length];
                ms.put(v, timeSteps(nets.get(v), batches, c.stepsPerRound()));
            }
            if (round < warmupRounds) {
                continue;
            }
            double bare = ms.get(Variant.BARE);
            bareMs.add(bare);
            for (Variant v : order) {
                ratios.computeIfAbsent(v, x -> new ArrayList<>()).add(ms.get(v) / bare);
            }
            System.out.printf(Locale.ROOT, "  %s round %d: bare %.2f ms/step, probe x%.3f, probe+metrics x%.3f, "
                            + "StatsListener x%.3f%n", c.name(), round - warmupRounds + 1, bare,
                    ms.get(Variant.PROBE) / bare, ms.get(Variant.PROBE_METRICS) / bare,
                    ms.get(Variant.STATS_LISTENER) / bare);
        }
        registry.close();
        return String.format(Locale.ROOT, "| %s | %.2f | %.3fx | %.3fx | %.2fx |", c.name(), median(bareMs),
                median(ratios.get(Variant.PROBE)), median(ratios.get(Variant.PROBE_METRICS)),
                median(ratios.get(Variant.STATS_LISTENER)));
    }

    private static double timeSteps(MultiLayerNetwork net, List<DataSet> batches, int steps) {
        long t0 = System.nanoTime();
        for (int i = 0; i < steps; i++) {
            net.fit(batches.get(i % batches.size()));
        }
        return (System.nanoTime() - t0) / 1e6 / steps;
    }

    static double median(List<Double> values) {
        double[] v = values.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }
}
