package dev.gradsentry.bench;

import dev.gradsentry.core.ExternalName;
import dev.gradsentry.core.clip.AdaptiveClip;
import dev.gradsentry.core.intervene.Guard;
import dev.gradsentry.core.intervene.GuardMode;
import dev.gradsentry.core.intervene.GuardSettings;
import dev.gradsentry.core.probe.GradientProbe;
import dev.gradsentry.core.probe.StepStats;
import dev.gradsentry.training.FashionMnist;
import dev.gradsentry.training.RunSpec;
import dev.gradsentry.training.TrainingSetup;
import dev.gradsentry.training.WorkloadKind;
import dev.gradsentry.training.Workloads;

import java.time.Clock;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * Trains each workload's healthy default and its documented exploding configuration ({@link RunSpec#exploding})
 * without a guard, then the exploding configuration again under the guard with its default adaptive policy, for the
 * same number of steps, and prints how each run went: the evidence behind the README's "Workloads" and "The guard"
 * tables.
 */
public final class ExplosionBench {

    public static void main(String[] args) {
        int steps = args.length > 0 ? Integer.parseInt(args[0]) : 300;
        FashionMnist data = FashionMnist.load(FashionMnist.DEBIAN_PATH);
        Workloads workloads = new Workloads(() -> data);
        System.out.println("| workload | configuration | guard | first non-finite step | peak global norm "
                + "| final loss | held-out metric | interventions | ms/step |");
        System.out.println("|---|---|---|---|---|---|---|---|---|");
        for (WorkloadKind kind : WorkloadKind.values()) {
            RunSpec healthy = withSteps(RunSpec.defaults(kind), steps);
            RunSpec exploding = withSteps(RunSpec.exploding(kind), steps);
            System.out.println(row(healthy, workloads.prepare(healthy), "default", GuardMode.OFF));
            System.out.println(row(exploding, workloads.prepare(exploding), "exploding", GuardMode.OFF));
            System.out.println(row(exploding, workloads.prepare(exploding), "exploding", GuardMode.AUTO));
        }
    }

    private static RunSpec withSteps(RunSpec base, int steps) {
        return new RunSpec(base.workload(), base.cell(), base.activation(), base.recurrentGain(), base.hidden(),
                base.optimizer(), base.learningRate(), base.batchSize(), steps, base.seed(), 0, 1000,
                base.sequenceLength());
    }

    private static String row(RunSpec spec, TrainingSetup setup, String label, GuardMode mode) {
        GradientProbe probe = setup.network().attachProbe();
        Guard guard = new Guard(setup.network().model(), "bench", AdaptiveClip.defaults(),
                GuardSettings.defaults().withMode(mode), Clock.systemUTC());
        Map<String, Integer> interventions = new TreeMap<>();
        guard.addListener(i -> interventions.merge(ExternalName.of(i.kind()), 1, Integer::sum));
        probe.intercept(guard);
        long firstNonFinite = -1;
        double peak = 0;
        long t0 = System.nanoTime();
        for (long i = 0; i < spec.steps() && !guard.paused(); i++) {
            setup.network().fit(setup.train().next());
            StepStats s = probe.lastStep();
            if (firstNonFinite < 0 && !s.finite()) {
                firstNonFinite = i;
            }
            if (Double.isFinite(s.globalNorm())) {
                peak = Math.max(peak, s.globalNorm());
            }
        }
        double msPerStep = (System.nanoTime() - t0) / 1e6 / spec.steps();
        double metric = setup.evaluate(spec.steps()).value();
        return String.format(Locale.ROOT, "| %s | %s: %s | %s | %s | %.3g | %.4g | %s %.4f | %s | %.1f |",
                spec.workload().id(), label, describe(spec), mode == GuardMode.OFF ? "off" : "adaptive"
                        + (guard.paused() ? " (paused)" : ""),
                firstNonFinite < 0 ? "none" : String.valueOf(firstNonFinite), peak, probe.lastStep().loss(),
                setup.metric(), metric, interventions.isEmpty() ? "none" : interventions.toString()
                        .replaceAll("[{}]", "").replace("=", " "), msPerStep);
    }

    static String describe(RunSpec s) {
        String model = s.workload() == WorkloadKind.FASHION_MLP
                ? "784-" + s.hidden() + "-" + s.hidden() + "-10 " + lower(s.activation())
                : lower(s.cell()) + " " + s.hidden() + " " + lower(s.activation()) + ", recurrent gain "
                        + s.recurrentGain() + (s.workload() == WorkloadKind.ADDING ? ", T=" + s.sequenceLength() : "");
        return model + ", " + lower(s.optimizer()) + " lr " + s.learningRate() + ", batch " + s.batchSize()
                + ", seed " + s.seed();
    }

    private static String lower(Enum<?> e) {
        return e.name().toLowerCase(Locale.ROOT);
    }
}
