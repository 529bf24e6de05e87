package dev.gradsentry.bench;

import dev.gradsentry.core.intervene.Guard;
import dev.gradsentry.core.intervene.GuardSettings;
import dev.gradsentry.core.probe.GradientProbe;
import dev.gradsentry.core.probe.StepStats;
import dev.gradsentry.training.RunSpec;
import dev.gradsentry.training.TrainingSetup;
import dev.gradsentry.training.Workloads;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;

import java.time.Clock;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.function.ToDoubleFunction;

/** Trains one configuration with one contender and one seed, and measures how it went. */
final class StabilityRun {

    private StabilityRun() {
    }

    /**
     * How one run went.
     *
     * @param finalMetric    the held-out metric after the last step; NaN when the network's output is not finite
     * @param finalLoss      mean training loss over the last {@link #lossWindow} steps; NaN if any was not finite
     * @param bestLoss       lowest mean training loss over any {@link #lossWindow} consecutive finite steps
     * @param stepsToTarget  steps done at the first evaluation that reached the target, -1 if none did
     * @param nonFiniteSteps steps whose loss or gradient was NaN or infinite (after a run died, every step left)
     * @param interventions  applied guard actions (clip changes, skips, rollbacks, backoffs); 0 without a guard
     * @param clippedSteps   steps whose gradient the clipping changed
     * @param wallSeconds    training and periodic evaluation, without the final evaluation
     * @param ending         {@code finite}, {@code non-finite} (the weights ended NaN) or {@code paused} (the guard
     *                       gave up)
     * @param trace          per-step curves, kept only when asked for
     */
    record Outcome(ExplodingConfig config, Contender contender, long seed, double finalMetric, double finalLoss,
                   double bestLoss, long stepsToTarget, long nonFiniteSteps, int interventions, long clippedSteps,
                   double wallSeconds, String ending, Trace trace) {
    }

    /**
     * Per-step curves of one run, for the plots.
     *
     * @param loss              training loss per step, NaN where not finite or not trained
     * @param globalNorm        global gradient norm per step as measured before clipping
     * @param clipBound         the largest global norm the guard's per-layer thresholds let through,
     *                          sqrt(sum of squared thresholds); NaN while not clipping
     * @param interventionSteps steps at which the guard acted
     * @param evalSteps         steps of the held-out evaluations
     * @param evalValues        their metric values
     */
    record Trace(double[] loss, double[] globalNorm, double[] clipBound, long[] interventionSteps,
                 long[] evalSteps, double[] evalValues) {
    }

    static int lossWindow(long steps) {
        return (int) Math.max(1, Math.min(50, steps / 20));
    }

    static Outcome train(Workloads workloads, ExplodingConfig config, Contender contender, long seed,
                         ToDoubleFunction<MultiLayerNetwork> finalEvaluator, boolean keepTrace) {
        RunSpec spec = config.withSeed(seed);
        TrainingSetup setup = workloads.prepare(spec);
        MultiLayerNetwork net = setup.network();
        // Update ratios are not reported here; skipping them keeps the probe's cost out of the wall times.
        GradientProbe probe = GradientProbe.attach(net).updateRatioEvery(0);
        Guard guard = null;
        ClipOnly clipOnly = null;
        List<Long> interventionSteps = new ArrayList<>();
        if (contender.guarded()) {
            guard = new Guard(net, "bench", contender.create(), GuardSettings.defaults(), Clock.systemUTC());
            guard.addListener(i -> {
                if (i.applied()) {
                    interventionSteps.add(i.step());
                }
            });
            probe.intercept(guard);
        } else if (!contender.trainsPlain()) {
            clipOnly = new ClipOnly(contender.create());
            probe.intercept(clipOnly);
        }
        int steps = (int) spec.steps();
        double[] loss = filled(steps);
        double[] norm = filled(steps);
        double[] bound = filled(steps);
        List<Long> evalSteps = new ArrayList<>();
        List<Double> evalValues = new ArrayList<>();
        long nonFinite = 0;
        long guardClipped = 0;
        long stepsToTarget = -1;
        String ending = "finite";
        long t0 = System.nanoTime();
        for (int i = 0; i < steps; i++) {
            net.fit(setup.train().next());
            StepStats s = probe.lastStep();
            loss[i] = Double.isFinite(s.loss()) ? s.loss() : Double.NaN;
            norm[i] = Double.isFinite(s.globalNorm()) ? s.globalNorm() : Double.NaN;
            if (!s.finite()) {
                nonFinite++;
            }
            if (guard != null) {
                if (guard.lastClipped()) {
                    guardClipped++;
                }
                bound[i] = bound(guard.layerThresholds());
                if (guard.paused()) {
                    ending = "paused";
                    break;
                }
            } else if (!Double.isFinite(s.loss()) && !Double.isFinite(net.params().sumNumber().doubleValue())) {
                // Nothing recovers NaN weights without a guard: every remaining step would be non-finite too.
                nonFinite += steps - 1 - i;
                ending = "non-finite";
                break;
            }
            if ((i + 1) % config.evalEvery() == 0) {
                double value = setup.evaluate(i + 1).value();
                evalSteps.add((long) i + 1);
                evalValues.add(value);
                if (stepsToTarget < 0 && config.reached(value)) {
                    stepsToTarget = i + 1;
                }
            }
        }
        double wall = (System.nanoTime() - t0) / 1e9;
        double metric = finalEvaluator == null ? setup.evaluate(steps).value() : finalEvaluator.applyAsDouble(net);
        if (ending.equals("finite") && !Double.isFinite(net.params().sumNumber().doubleValue())) {
            ending = "non-finite";
        }
        int window = lossWindow(steps);
        Trace trace = keepTrace ? new Trace(loss, norm, bound,
                interventionSteps.stream().mapToLong(Long::longValue).toArray(),
                evalSteps.stream().mapToLong(Long::longValue).toArray(),
                evalValues.stream().mapToDouble(Double::doubleValue).toArray()) : null;
        return new Outcome(config, contender, seed, metric, windowMean(loss, steps - window, window),
                bestWindowMean(loss, window), stepsToTarget, nonFinite,
                interventionSteps.size(), clipOnly != null ? clipOnly.clippedSteps() : guardClipped, wall, ending,
                trace);
    }

    private static double[] filled(int n) {
        double[] a = new double[n];
        Arrays.fill(a, Double.NaN);
        return a;
    }

    private static double bound(Map<String, Double> thresholds) {
        if (thresholds.isEmpty()) {
            return Double.NaN;
        }
        double sum = 0;
        for (double t : thresholds.values()) {
            sum += t * t;
        }
        return Math.sqrt(sum);
    }

    /** Mean of {@code window} values from {@code from}; NaN if any is NaN. */
    static double windowMean(double[] values, int from, int window) {
        double sum = 0;
        for (int i = from; i < from + window; i++) {
            sum += values[i];
        }
        return sum / window;
    }

    static double bestWindowMean(double[] values, int window) {
        double best = Double.NaN;
        for (int from = 0; from + window <= values.length; from++) {
            double m = windowMean(values, from, window);
            if (Double.isFinite(m) && !(m >= best)) {
                best = m;
            }
        }
        return best;
    }
}
