package dev.gradsentry.bench;

import dev.gradsentry.training.TrainingSetup;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;

import java.util.Locale;
import java.util.function.ToDoubleFunction;

/**
 * One row of the stability benchmark: a training configuration, how long it trains, how it is judged, and which half
 * of the benchmark it belongs to.
 *
 * @param name           row label, e.g. {@code adding T=20}; unique within a plan
 * @param row            what the row tests
 * @param half           {@code tuning} or {@code validation} (exploding and late-trouble rows), {@code control}
 *                       (healthy controls and the seed article)
 * @param model          network, optimizer and data in a few words, for the configurations table
 * @param recipe         builds a run's network, batches and periodic evaluator for a seed
 * @param steps          training steps; a multiple of {@code evalEvery}, so the last step is evaluated
 * @param evalEvery      steps between periodic evaluations on held-out data (for best metric, steps to target and
 *                       steps lost)
 * @param higherIsBetter true for accuracy, false for MSE
 * @param target         the metric value that counts as reached (accuracy at least, MSE at most)
 * @param chance         the metric of a network that learned nothing: 1 / classes, or the MSE of the best constant
 * @param trouble        what hits a late-trouble row; null for every other row
 * @param msPerStepGuess expected step time on one core before any step was measured, for the first ETA
 */
record StabilityConfig(String name, Row row, Half half, String model, Recipe recipe, long steps, int evalEvery,
                       boolean higherIsBetter, double target, double chance, Trouble trouble, double msPerStepGuess) {

    /** What a row tests. */
    enum Row {
        /** Explodes or stalls without clipping from the first steps on. */
        EXPLODING("exploding"),
        /** Trains healthily, then meets a {@link Trouble}. */
        LATE("late trouble"),
        /** Trains healthily throughout: the guard should do nothing. */
        HEALTHY("healthy control"),
        /** The seed article's run, reported in its own table. */
        ARTICLE("seed article");

        private final String label;

        Row(String label) {
            this.label = label;
        }

        String label() {
            return label;
        }
    }

    /** Which half of the benchmark a row belongs to. */
    enum Half {
        /** Rows the guard may be tuned on. */
        TUNING,
        /** Rows held out from tuning, to see whether the defaults generalize. */
        VALIDATION,
        /** Healthy controls and the seed article: not part of the exploding-row split. */
        CONTROL;

        String label() {
            return name().toLowerCase(Locale.ROOT);
        }

        static Half of(String label) {
            for (Half h : values()) {
                if (h.label().equals(label)) {
                    return h;
                }
            }
            throw new IllegalArgumentException("unknown split '" + label + "'; valid: tuning, validation, control");
        }
    }

    /** Builds one run of a configuration. */
    interface Recipe {
        /** A fresh, seeded network with its batches (in seed order) and its periodic evaluator. */
        TrainingSetup prepare(BenchData data, long seed);

        /**
         * The evaluator of the finished network: the whole 10,000-image test set for Fashion-MNIST (periodic
         * evaluations use its first 1,000); null to use the periodic evaluator.
         */
        default ToDoubleFunction<MultiLayerNetwork> finalEvaluator(BenchData data) {
            return null;
        }
    }

    StabilityConfig {
        if (steps < 1 || evalEvery < 1 || steps % evalEvery != 0) {
            throw new IllegalArgumentException(name + ": steps " + steps + " must be a positive multiple of evalEvery "
                    + evalEvery);
        }
        if ((row == Row.LATE) != (trouble != null)) {
            throw new IllegalArgumentException(name + ": late-trouble rows, and only they, have a trouble");
        }
        if (trouble != null && (trouble.onset() <= 0 || trouble.onset() >= steps
                || trouble.onset() % evalEvery != 0)) {
            throw new IllegalArgumentException(name + ": the onset " + trouble.onset() + " must be an evaluation step "
                    + "inside the run, so that the pre-trouble metric is measured right before it");
        }
        if ((half == Half.CONTROL) != (row == Row.HEALTHY || row == Row.ARTICLE)) {
            throw new IllegalArgumentException(name + ": exploding and late-trouble rows are tuning or validation, "
                    + "the others control");
        }
    }

    String metric() {
        return higherIsBetter ? "accuracy" : "mse";
    }

    boolean reached(double value) {
        return higherIsBetter ? value >= target : value <= target;
    }

    /**
     * Whether a metric value is as good as learning nothing: accuracy within 5 points of chance, or an MSE within 5%
     * of the best constant's; NaN counts as at chance.
     */
    boolean atChance(double value) {
        if (Double.isNaN(value)) {
            return true;
        }
        return higherIsBetter ? value <= chance + 0.05 : value >= chance * 0.95;
    }

    /**
     * Whether {@code value} is back at the {@code reference} level: at most 1 accuracy point below it, or an MSE at
     * most 5% above it (the bar for "as good as").
     */
    boolean backAt(double value, double reference) {
        if (!Double.isFinite(value)) {
            return false;
        }
        return higherIsBetter ? value >= reference - 0.01 : value <= reference * 1.05;
    }

    /** Orders metric values best first; NaN (a run that ended non-finite) last. */
    int compare(double a, double b) {
        if (Double.isNaN(a) || Double.isNaN(b)) {
            return Boolean.compare(Double.isNaN(a), Double.isNaN(b));
        }
        return higherIsBetter ? Double.compare(b, a) : Double.compare(a, b);
    }

    /** Whether {@code a} is a better metric value than {@code b} (NaN is never better). */
    boolean better(double a, double b) {
        return !Double.isNaN(a) && (Double.isNaN(b) || compare(a, b) < 0);
    }
}
