package dev.gradsentry.bench;

import dev.gradsentry.training.RunSpec;
import dev.gradsentry.training.WorkloadKind;

/**
 * A workload configuration that explodes without clipping, as the stability benchmark trains it.
 *
 * @param name           row label, e.g. {@code adding T=200}
 * @param spec           the run spec; its seed is replaced by each benchmark seed
 * @param evalEvery      steps between evaluations on held-out data, for "steps to target"
 * @param target         the metric value that counts as reached (accuracy at least, MSE at most)
 * @param msPerStepGuess expected step time before any step was measured, for the first ETA
 */
record ExplodingConfig(String name, RunSpec spec, int evalEvery, double target, double msPerStepGuess) {

    boolean higherIsBetter() {
        return spec.workload() != WorkloadKind.ADDING;
    }

    String metric() {
        return higherIsBetter() ? "accuracy" : "mse";
    }

    boolean reached(double value) {
        return higherIsBetter() ? value >= target : value <= target;
    }

    /** Orders metric values best first; NaN (a run that ended non-finite) last. */
    int compare(double a, double b) {
        if (Double.isNaN(a) || Double.isNaN(b)) {
            return Boolean.compare(Double.isNaN(a), Double.isNaN(b));
        }
        return higherIsBetter() ? Double.compare(b, a) : Double.compare(a, b);
    }

    RunSpec withSeed(long seed) {
        return new RunSpec(spec.workload(), spec.cell(), spec.activation(), spec.recurrentGain(), spec.hidden(),
                spec.optimizer(), spec.learningRate(), spec.batchSize(), spec.steps(), seed, evalEvery,
                spec.evalExamples(), spec.sequenceLength());
    }
}
