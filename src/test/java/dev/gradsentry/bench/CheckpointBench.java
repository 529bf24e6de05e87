package dev.gradsentry.bench;

import dev.gradsentry.core.clip.ClipPolicies;
import dev.gradsentry.core.intervene.GuardSettings;
import dev.gradsentry.training.FashionMnist;
import dev.gradsentry.training.GuardPolicy;
import dev.gradsentry.training.RunSettings;
import dev.gradsentry.training.RunSpec;
import dev.gradsentry.training.RunState;
import dev.gradsentry.training.RunTelemetry;
import dev.gradsentry.training.TrainingRun;
import dev.gradsentry.training.WorkloadKind;
import dev.gradsentry.training.Workloads;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Arrays;
import java.util.Comparator;
import java.util.Locale;
import java.util.stream.Stream;

/**
 * What checkpoints cost: each workload's healthy default trained by the real run loop without a data directory and
 * with a checkpoint after every step, alternating, in one JVM. The difference per step is one checkpoint's cost;
 * the last column puts it against the default interval of {@value RunSettings#DEFAULT_CHECKPOINT_EVERY} steps.
 */
public final class CheckpointBench {

    private static final GuardPolicy POLICY = new GuardPolicy("adaptive", ClipPolicies.defaults("adaptive"),
            GuardSettings.defaults());

    public static void main(String[] args) throws IOException {
        int rounds = args.length > 0 && args[0].equals("--quick") ? 1 : 3;
        FashionMnist data = FashionMnist.load(FashionMnist.DEBIAN_PATH);
        Workloads workloads = new Workloads(() -> data);
        System.out.println("| workload | steps per run | ms/step without | ms/step with a checkpoint every step "
                + "| ms per checkpoint | checkpoint file | cost at every " + RunSettings.DEFAULT_CHECKPOINT_EVERY
                + " steps |");
        System.out.println("|---|---|---|---|---|---|---|");
        for (WorkloadKind kind : WorkloadKind.values()) {
            RunSpec d = RunSpec.defaults(kind);
            int steps = kind == WorkloadKind.FASHION_MLP ? 400 : 40;
            RunSpec spec = new RunSpec(d.workload(), d.cell(), d.activation(), d.recurrentGain(), d.hidden(),
                    d.optimizer(), d.learningRate(), d.batchSize(), steps, d.seed(), 0, 100, d.sequenceLength());
            run(spec, workloads, null); // warm-up
            double[] without = new double[rounds];
            double[] with = new double[rounds];
            long bytes = 0;
            for (int r = 0; r < rounds; r++) {
                without[r] = run(spec, workloads, null);
                Path dir = Files.createTempDirectory("gradsentry-checkpoint-bench");
                with[r] = run(spec, workloads, dir);
                bytes = newestCheckpointSize(dir);
                delete(dir);
            }
            double a = median(without);
            double b = median(with);
            double perCheckpoint = b - a;
            System.out.printf(Locale.ROOT, "| %s | %d | %.2f | %.2f | %.2f | %.0f kB | %.3f%% |%n", kind.id(), steps, a,
                    b, perCheckpoint, bytes / 1024.0,
                    100 * perCheckpoint / (a * RunSettings.DEFAULT_CHECKPOINT_EVERY));
        }
    }

    /** Milliseconds per step of one run through the real run loop. */
    private static double run(RunSpec spec, Workloads workloads, Path dataDir) {
        RunSettings settings = new RunSettings(Duration.ofHours(1), 10, dataDir, 1, 2);
        TrainingRun run = new TrainingRun("bench", spec, workloads, RunTelemetry.NONE, settings, () -> POLICY,
                Clock.systemUTC());
        long t0 = System.nanoTime();
        run.run();
        long elapsed = System.nanoTime() - t0;
        if (run.status().state() != RunState.FINISHED) {
            throw new IllegalStateException("bench run ended " + run.status());
        }
        return elapsed / 1e6 / spec.steps();
    }

    private static long newestCheckpointSize(Path dataDir) throws IOException {
        try (Stream<Path> files = Files.walk(dataDir)) {
            return files.filter(p -> p.getFileName().toString().endsWith(".zip")).mapToLong(p -> p.toFile().length())
                    .max().orElse(0);
        }
    }

    private static void delete(Path dir) throws IOException {
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }

    private static double median(double[] values) {
        double[] s = values.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }
}
