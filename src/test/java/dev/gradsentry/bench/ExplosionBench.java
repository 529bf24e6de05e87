package dev.gradsentry.bench;

import dev.gradsentry.core.probe.GradientProbe;
import dev.gradsentry.core.probe.StepStats;
import dev.gradsentry.training.FashionMnist;
import dev.gradsentry.training.RunSpec;
import dev.gradsentry.training.TrainingSetup;
import dev.gradsentry.training.WorkloadKind;
import dev.gradsentry.training.Workloads;

import java.util.Locale;

/**
 * Trains each workload's documented exploding configuration ({@link RunSpec#exploding}) and its healthy default,
 * without any clipping, for the same number of steps, and prints how each run went: the evidence behind the README's
 * "Workloads" table.
 */
public final class ExplosionBench {

    public static void main(String[] args) {
        int steps = args.length > 0 ? Integer.parseInt(args[0]) : 300;
        FashionMnist data = FashionMnist.load(FashionMnist.DEBIAN_PATH);
        Workloads workloads = new Workloads(() -> data);
        System.out.println("| workload | configuration | first non-finite step | peak global norm | final loss "
                + "| held-out metric | ms/step |");
        System.out.println("|---|---|---|---|---|---|---|");
        for (WorkloadKind kind : WorkloadKind.values()) {
            for (RunSpec base : new RunSpec[] {RunSpec.defaults(kind), RunSpec.exploding(kind)}) {
                RunSpec spec = new RunSpec(base.workload(), base.cell(), base.activation(), base.recurrentGain(),
                        base.hidden(), base.optimizer(), base.learningRate(), base.batchSize(), steps, base.seed(),
                        0, 1000, base.sequenceLength());
                System.out.println(row(spec, workloads.prepare(spec), base.equals(RunSpec.exploding(kind))));
            }
        }
    }

    private static String row(RunSpec spec, TrainingSetup setup, boolean exploding) {
        GradientProbe probe = GradientProbe.attach(setup.network());
        long firstNonFinite = -1;
        double peak = 0;
        long t0 = System.nanoTime();
        for (long i = 0; i < spec.steps(); i++) {
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
        return String.format(Locale.ROOT, "| %s | %s%s | %s | %.3g | %.4g | %s %.4f | %.1f |", spec.workload().id(),
                exploding ? "exploding: " : "default: ", describe(spec),
                firstNonFinite < 0 ? "none" : String.valueOf(firstNonFinite), peak, probe.lastStep().loss(),
                setup.metric(), metric, msPerStep);
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
