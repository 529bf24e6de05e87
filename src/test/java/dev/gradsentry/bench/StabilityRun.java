package dev.gradsentry.bench;

import dev.gradsentry.core.ExternalName;
import dev.gradsentry.core.clip.AdaptiveClip;
import dev.gradsentry.core.intervene.Guard;
import dev.gradsentry.core.intervene.GuardSettings;
import dev.gradsentry.core.probe.GradientProbe;
import dev.gradsentry.core.probe.StepStats;
import dev.gradsentry.training.TrainingSetup;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.dataset.DataSet;

import java.time.Clock;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.function.ToDoubleFunction;

/** Trains one configuration with one contender and one seed, and measures how it went. */
final class StabilityRun {

    /** Intervention kinds that cost the run its step: the update was not applied, or was undone. */
    static final Set<String> LOST_STEP_KINDS = Set.of("skip", "rollback");

    private StabilityRun() {
    }

    /**
     * One applied guard action.
     *
     * @param step   the guard's count of steps done when it acted
     * @param kind   e.g. {@code skip}, {@code clip-enable}, as the guard names it
     * @param reason what caused it, as the guard names it
     */
    record Event(long step, String kind, String reason) {
        @Override
        public String toString() {
            return step + " " + kind + " (" + reason + ")";
        }
    }

    /**
     * How one run went.
     *
     * @param finalMetric       the held-out metric after the last step; NaN when the network's output is not finite
     * @param bestMetric        the best periodic evaluation (all on the same held-out examples); NaN if none was finite
     * @param finalLoss         mean training loss over the last {@link #lossWindow} steps; NaN if any was not finite
     * @param bestLoss          lowest mean training loss over any {@link #lossWindow} consecutive finite steps
     * @param stepsToTarget     steps done at the first evaluation that reached the target, -1 if none did
     * @param stepsLost         late-trouble rows: see {@link #stepsLost}; -1 on other rows
     * @param nonFiniteSteps    steps whose loss or gradient was NaN or infinite (after a run died, every step left)
     * @param firstNonFinite    the first such step (0-based), -1 if none
     * @param stepsDone         loop steps run: all of them unless the guard paused or the weights went NaN
     * @param lostSteps         steps the guard skipped or rolled back (applied {@code skip} and {@code rollback})
     * @param events            every applied guard action, in order; empty without a guard
     * @param clippedSteps      steps whose gradient the clipping changed
     * @param wallSeconds       training and periodic evaluation, without the final evaluation
     * @param ending            {@code finite}, {@code non-finite} (the weights ended NaN), {@code paused} (the guard
     *                          gave up) or {@code failed} ({@code fit} threw while the guard was not paused)
     * @param failure           what {@code fit} threw, for a failed run; null otherwise
     * @param finalParams       the network's parameters after the last step, kept for healthy controls only
     * @param trace             per-step curves, kept only when asked for
     */
    record Outcome(StabilityConfig config, Contender contender, long seed, double finalMetric, double bestMetric,
                   double finalLoss, double bestLoss, long stepsToTarget, long stepsLost, long nonFiniteSteps,
                   long firstNonFinite, long stepsDone, long lostSteps, List<Event> events, long clippedSteps,
                   double wallSeconds, String ending, String failure, float[] finalParams, Trace trace) {

        Outcome {
            events = List.copyOf(events);
        }

        int interventions() {
            return events.size();
        }

        /** Skipped or rolled-back steps over steps done, 0..1. */
        double skippedShare() {
            return stepsDone == 0 ? 0 : (double) lostSteps / stepsDone;
        }

        /** The step of the guard's first applied action, -1 if it never acted. */
        long firstIntervention() {
            return events.isEmpty() ? -1 : events.get(0).step();
        }
    }

    /** {@link Outcome#stepsLost()} of a run whose pre-trouble metric was not finite: nothing to get back to. */
    static final long NO_REFERENCE = -2;

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

    static Outcome train(BenchData data, StabilityConfig config, Contender contender, long seed,
                         ToDoubleFunction<MultiLayerNetwork> finalEvaluator, boolean keepTrace) {
        TrainingSetup setup = config.recipe().prepare(data, seed);
        MultiLayerNetwork net = ((dev.gradsentry.training.Network.Layers) setup.network()).net();
        if (config.trouble() != null) {
            config.trouble().prepare(net);
        }
        GradientProbe probe;
        Guard guard = null;
        ClipOnly clipOnly = null;
        List<Event> events = new ArrayList<>();
        switch (contender.kind()) {
            case PROTECT -> {
                // Exactly what a user writes; its probe measures every step, as the user's would.
                guard = Guard.protect(net);
                probe = guard.probe();
            }
            case GUARD_WITH_POLICY -> {
                guard = new Guard(net, "bench", contender.create(), GuardSettings.defaults(), Clock.systemUTC());
                probe = GradientProbe.attach(net).updateRatioEvery(0).intercept(guard);
            }
            case CLIP_ONLY -> {
                clipOnly = new ClipOnly(contender.create());
                // Update ratios are not reported here; skipping them keeps the probe's cost out of the wall times.
                probe = GradientProbe.attach(net).updateRatioEvery(0).intercept(clipOnly);
            }
            default -> probe = GradientProbe.attach(net).updateRatioEvery(0);
        }
        if (guard != null) {
            guard.addListener(i -> {
                if (i.applied()) {
                    events.add(new Event(i.step(), ExternalName.of(i.kind()), String.valueOf(i.reason())));
                }
            });
        }
        int steps = (int) config.steps();
        double[] loss = filled(steps);
        double[] norm = filled(steps);
        double[] bound = filled(steps);
        List<Long> evalSteps = new ArrayList<>();
        List<Double> evalValues = new ArrayList<>();
        long nonFinite = 0;
        long firstNonFinite = -1;
        long guardClipped = 0;
        long stepsToTarget = -1;
        long done = 0;
        String ending = "finite";
        String failure = null;
        long t0 = System.nanoTime();
        for (int i = 0; i < steps; i++) {
            DataSet batch = setup.train().next();
            if (config.trouble() != null) {
                batch = config.trouble().apply(i, batch);
            }
            try {
                net.fit(batch);
            } catch (RuntimeException e) {
                // A guard may refuse to train once it has paused; anything else is a failure worth a row, not the loss
                // of an hour's benchmark.
                ending = guard != null && guard.paused() ? "paused" : "failed";
                failure = ending.equals("failed") ? e.toString() : null;
                break;
            }
            done++;
            StepStats s = probe.lastStep();
            loss[i] = Double.isFinite(s.loss()) ? s.loss() : Double.NaN;
            norm[i] = Double.isFinite(s.globalNorm()) ? s.globalNorm() : Double.NaN;
            if (!s.finite()) {
                nonFinite++;
                if (firstNonFinite < 0) {
                    firstNonFinite = i;
                }
            }
            if (guard != null) {
                if (guard.lastClipped()) {
                    guardClipped++;
                }
                bound[i] = AdaptiveClip.bound(guard.layerThresholds());
                if (guard.paused()) {
                    // A paused guard may refuse the next fit: the caller stops here, as a user must.
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
        long[] evalAt = evalSteps.stream().mapToLong(Long::longValue).toArray();
        double[] evalValue = evalValues.stream().mapToDouble(Double::doubleValue).toArray();
        long lost = events.stream().filter(e -> LOST_STEP_KINDS.contains(e.kind())).count();
        long stepsLost = config.trouble() == null ? -1
                : stepsLost(config, config.trouble().onset(), evalAt, evalValue);
        int window = lossWindow(steps);
        Trace trace = keepTrace ? new Trace(loss, norm, bound,
                events.stream().mapToLong(Event::step).toArray(), evalAt, evalValue) : null;
        float[] params = config.row() == StabilityConfig.Row.HEALTHY ? net.params().toFloatVector() : null;
        return new Outcome(config, contender, seed, metric, best(config, evalValue), windowMean(loss, steps - window,
                window), bestWindowMean(loss, window), stepsToTarget, stepsLost, nonFinite, firstNonFinite, done, lost,
                events, clipOnly != null ? clipOnly.clippedSteps() : guardClipped, wall, ending, failure, params,
                trace);
    }

    /**
     * Steps lost to a trouble that starts at {@code onset}: the pre-trouble level is the periodic evaluation at the
     * onset (the state the trouble hit); the run is back at the first later evaluation within 1 accuracy point (or 5%
     * relative MSE) of it. Steps lost = that evaluation's step - onset - one evaluation interval, so a run that is
     * already back at the first evaluation after the onset lost 0 (the resolution is one interval). A run that is never
     * back, or stopped, lost the rest of its planned steps; a run whose pre-trouble metric was not finite gives
     * {@link #NO_REFERENCE}.
     */
    static long stepsLost(StabilityConfig config, long onset, long[] evalSteps, double[] evalValues) {
        double reference = Double.NaN;
        for (int i = 0; i < evalSteps.length; i++) {
            if (evalSteps[i] == onset) {
                reference = evalValues[i];
            }
        }
        if (!Double.isFinite(reference)) {
            return NO_REFERENCE;
        }
        for (int i = 0; i < evalSteps.length; i++) {
            if (evalSteps[i] > onset && config.backAt(evalValues[i], reference)) {
                return evalSteps[i] - onset - config.evalEvery();
            }
        }
        return config.steps() - onset;
    }

    private static double best(StabilityConfig config, double[] values) {
        double best = Double.NaN;
        for (double v : values) {
            if (config.better(v, best)) {
                best = v;
            }
        }
        return best;
    }

    private static double[] filled(int n) {
        double[] a = new double[n];
        Arrays.fill(a, Double.NaN);
        return a;
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
