package dev.gradsentry.core.clip;

import dev.gradsentry.core.InvalidSettingException;
import dev.gradsentry.core.detect.Signal;
import dev.gradsentry.core.probe.LayerStats;
import dev.gradsentry.core.probe.StepStats;
import dev.gradsentry.core.state.SavedState;

import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;

import static dev.gradsentry.core.InterventionKind.CLIP;
import static dev.gradsentry.core.InterventionKind.CLIP_DISABLE;
import static dev.gradsentry.core.InterventionKind.CLIP_ENABLE;
import static dev.gradsentry.core.InterventionKind.CLIP_RELAX;
import static dev.gradsentry.core.InterventionKind.CLIP_TIGHTEN;

/**
 * GradSentry's default policy: bound every layer's update relative to its own weights as soon as a step would move
 * them too far, clip later spikes at the scale the layer trained at, and let go again when trouble passes.
 *
 * <ul>
 *   <li><b>Update-ratio cap, from step 0.</b> For optimizers whose update follows the gradient (SGD, Nesterov
 *   momentum: see {@code StepGain}), the probe predicts each layer's update/parameter ratio before the update. The
 *   first step on which any layer's predicted ratio exceeds {@code updateRatioTrigger} (default 0.1: a tenth of the
 *   layer's weights in one step) engages the cap, and from then on each layer's gradient is clipped so that its
 *   update is at most {@code updateRatioCap} (default 0.02) of its weights: the trust ratio of LARS (You et al. 2017),
 *   applied only once a run shows it needs it. It needs no history, so it acts on the very first step of a run whose
 *   learning rate is far too high, where a percentile of norms that are already part of the blow-up would be the
 *   wrong anchor. A lost step (non-finite, diverged, rolled back) engages it too. Healthy runs stay below the
 *   trigger (measured: at most 0.05 on the healthy MLP), so they are never clipped by it. The trigger asks whether
 *   this step alone would move the weights too far ({@code LayerStats.firstStepGain}: momentum not yet built up);
 *   the cap bounds the step momentum can build up to ({@code LayerStats.stepGain}); a built-up step of more than
 *   twice the trigger engages it too (a first gradient of 5% of the weights that Nesterov momentum carries on for
 *   ten steps moved a tanh RNN's recurrent weights by a quarter and left it at half the accuracy). Both divide by the
 *   layer's weight norm, or by the zero-weight floor where that is larger.</li>
 *   <li><b>Gradient-ratio cap, for optimizers that normalise the gradient</b> (Adam, RMSProp, ...: no step gain).
 *   Their update stays near the learning rate whatever the gradient, so an update ratio cannot show trouble; what
 *   goes wrong is their running estimate of the gradient's scale: a first gradient thousands of times the usual
 *   one (a recurrent net at a large initial gain) fills Adam's second moment, and for hundreds of steps after it
 *   every update is a thousandth of its normal size and the run stalls. The first step on which a layer's gradient
 *   norm exceeds {@code gradientRatioTrigger} (default 100) times its weight norm engages the cap, and each such
 *   layer's gradient is then clipped to {@code gradientRatioCap} (default 0.03) times its weight norm: AGC's rule
 *   (Brock et al. 2021) per layer. Because these optimizers divide by the gradient's own scale, a gradient clipped
 *   on every step changes their update little; what the clip removes is the few huge gradients that would
 *   dominate the scale estimate. Healthy Adam runs measured at most 9 (median 0.004 to 0.3). Only this trigger
 *   engages it, and tightening leaves it as it is: a lost step on these optimizers is for the loss rules (rollback,
 *   learning-rate backoff), and a clip a fraction of the weights does not make a normalised update smaller; engaged
 *   by a lost step, it held a healthy recall RNN on Adam at chance after a rollback (control, seed 42).</li>
 *   <li><b>Spikes.</b> A lone spike (see {@code SpikeDetector}) is clipped on that step only, to the
 *   {@code percentile}-th percentile of each layer's healthy window. Three spikes within {@value #SPIKE_SPAN} steps,
 *   or a lost step, switch those history thresholds on for good (with no history yet, the smallest healthy norm or
 *   a tenth of the current one stands in).</li>
 *   <li><b>Tighten.</b> Each further lost step multiplies every threshold and the cap by {@code tightenFactor}, down
 *   to {@code floorFraction} of where they started; a loss that stays far above its window counts once per streak,
 *   on its first step; repeated spikes do the same at most once every {@code cooldown} steps.</li>
 *   <li><b>Relax.</b> After {@code relaxAfter} consecutive healthy steps thresholds and cap are divided by
 *   {@code tightenFactor} (hysteresis: the count starts again). History thresholds back above where they started
 *   are switched off; the cap disengages once it is back at full size and has not bound for {@code relaxAfter}
 *   steps.</li>
 *   <li><b>Anneal.</b> Unless, over that healthy stretch, the update-ratio cap bound on at least
 *   {@value #PERSISTENT_SHARE} of the steps. Then every gradient the optimizer saw had the norm the cap gave it:
 *   the run is training by steps of a fixed size, which, unlike SGD's, do not shrink as the gradient does and so
 *   cannot settle into a minimum (measured on the adding problem's plain RNN: the gradient norm stayed 2-4x above
 *   that of the same run under a fixed global-norm clip, and the loss stalled); the cap is multiplied by
 *   {@code tightenFactor} instead, as a learning-rate schedule would decay the step. This holds with momentum too:
 *   momentum averages clipped gradients of a fixed norm, so its steps stay as large as the cap lets them, whatever
 *   fraction of the cap they land at (until the sixth session of 2 December a cap whose steps landed below half of
 *   it was left as it was, and a plain RNN on Nesterov momentum ended at twice the error a fixed clip reached).</li>
 * </ul>
 *
 * <p>The cap's defaults were chosen on the tuning half of {@code ./bench stability} (README, "Does it work?") and
 * checked on the validation half and on healthy controls.
 */
public final class AdaptiveClip implements ClipPolicy {

    public static final String NAME = "adaptive";
    public static final double DEFAULT_PERCENTILE = 90;
    public static final int DEFAULT_WINDOW = 200;
    public static final double DEFAULT_TIGHTEN_FACTOR = 0.5;
    public static final double DEFAULT_FLOOR_FRACTION = 0.01;
    public static final int DEFAULT_COOLDOWN = 10;
    public static final int DEFAULT_RELAX_AFTER = 500;
    public static final double DEFAULT_UPDATE_RATIO_CAP = 0.02;
    public static final double DEFAULT_UPDATE_RATIO_TRIGGER = 0.1;
    public static final double DEFAULT_GRADIENT_RATIO_CAP = 0.03;
    public static final double DEFAULT_GRADIENT_RATIO_TRIGGER = 100;
    /**
     * The trigger counts the step momentum builds up to ({@code LayerStats.stepGain}) at 1/this: with momentum 0.9 it
     * engages when the built-up step would move a layer by twice the trigger, where a healthy run peaks at about 1.2
     * times it.
     */
    static final double BUILT_UP_WEIGHT = 2;
    /** Below this many healthy norms a layer's history is too short for a percentile. */
    static final int SHORT_HISTORY = 20;
    /** Spikes that come this close together (three of them) are a pattern, not a lone event. */
    static final int SPIKE_SPAN = 50;
    /**
     * A layer whose weights are (near) zero has no scale of its own to bound its update by; it borrows this fraction
     * of the median layer's weight norm, so that a zero-initialised output layer can still learn.
     */
    static final double ZERO_WEIGHT_FLOOR = 0.1;
    /** The share of a healthy stretch's steps the update-ratio cap must bind on before it anneals. */
    static final double PERSISTENT_SHARE = 0.9;

    private final double percentile;
    private final int window;
    private final double tightenFactor;
    private final double floorFraction;
    private final int cooldown;
    private final int relaxAfter;
    private final double updateRatioCap;
    private final double updateRatioTrigger;
    private final double gradientRatioCap;
    private final double gradientRatioTrigger;

    private final Map<String, double[]> history = new LinkedHashMap<>();
    private final Map<String, Integer> historySize = new LinkedHashMap<>();
    private Map<String, Double> thresholds;
    private Map<String, Double> enabledAt;
    private boolean capEngaged;
    /** The gradient-ratio cap is engaged only by its own trigger: for these optimizers a lost step is the loss rules'
     * business (rollback, learning-rate backoff), and a clip at a fraction of the weights does not bound their update. */
    private boolean gradientCapEngaged;
    private double capScale = 1.0;
    /**
     * The cap's thresholds for {@link #capFor} at {@link #capFromScale}: an engaged step needs them for its decision
     * and again to learn whether the cap bound, and they depend on nothing else but which caps are engaged (engaging
     * or disengaging one forgets them).
     */
    private Map<String, Double> cap;
    private StepStats capFor;
    /** {@link #zeroWeightFloor} of {@link #floorFor}: the step it was computed for. */
    private double floorOfStep;
    private StepStats floorFor;
    private double capFromScale;
    private int capIdle;
    /** The steps of this healthy stretch the update-ratio cap bound on. */
    private int capBoundSteps;
    private int sinceTighten;
    private int healthyStreak;
    /** The last decided step's loss was already far above its window: the streak has told the policy. */
    private boolean lossAboveWindow;
    private long steps;
    private final long[] spikeSteps = {Long.MIN_VALUE / 2, Long.MIN_VALUE / 2, Long.MIN_VALUE / 2};
    private StepStats lastStep;
    private ClipChange lastChange;

    public AdaptiveClip(double percentile, int window, double tightenFactor, double floorFraction, int cooldown,
                        int relaxAfter, double updateRatioCap, double updateRatioTrigger, double gradientRatioCap,
                        double gradientRatioTrigger) {
        require(percentile > 0 && percentile <= 100, "percentile", "must be in (0, 100]", percentile);
        require(window >= 1, "window", "must be >= 1", window);
        require(tightenFactor > 0 && tightenFactor < 1, "tightenFactor", "must be in (0, 1)", tightenFactor);
        require(floorFraction > 0 && floorFraction <= 1, "floorFraction", "must be in (0, 1]", floorFraction);
        require(cooldown >= 0, "cooldown", "must be >= 0", cooldown);
        require(relaxAfter >= 1, "relaxAfter", "must be >= 1", relaxAfter);
        require(updateRatioCap > 0 && Double.isFinite(updateRatioCap), "updateRatioCap", "must be > 0",
                updateRatioCap);
        require(updateRatioTrigger >= updateRatioCap && !Double.isNaN(updateRatioTrigger), "updateRatioTrigger",
                "must be >= updateRatioCap (" + updateRatioCap + "); Infinity never engages the cap by itself",
                updateRatioTrigger);
        require(gradientRatioCap > 0 && Double.isFinite(gradientRatioCap), "gradientRatioCap", "must be > 0",
                gradientRatioCap);
        require(gradientRatioTrigger >= gradientRatioCap && !Double.isNaN(gradientRatioTrigger),
                "gradientRatioTrigger", "must be >= gradientRatioCap (" + gradientRatioCap
                        + "); Infinity never engages the cap by itself", gradientRatioTrigger);
        this.percentile = percentile;
        this.window = window;
        this.tightenFactor = tightenFactor;
        this.floorFraction = floorFraction;
        this.cooldown = cooldown;
        this.relaxAfter = relaxAfter;
        this.updateRatioCap = updateRatioCap;
        this.updateRatioTrigger = updateRatioTrigger;
        this.gradientRatioCap = gradientRatioCap;
        this.gradientRatioTrigger = gradientRatioTrigger;
    }

    public static AdaptiveClip defaults() {
        return new AdaptiveClip(DEFAULT_PERCENTILE, DEFAULT_WINDOW, DEFAULT_TIGHTEN_FACTOR, DEFAULT_FLOOR_FRACTION,
                DEFAULT_COOLDOWN, DEFAULT_RELAX_AFTER, DEFAULT_UPDATE_RATIO_CAP, DEFAULT_UPDATE_RATIO_TRIGGER,
                DEFAULT_GRADIENT_RATIO_CAP, DEFAULT_GRADIENT_RATIO_TRIGGER);
    }

    private static void require(boolean ok, String name, String rule, double value) {
        if (!ok || Double.isNaN(value)) {
            throw new InvalidSettingException(name, name + " " + rule + ", was " + value);
        }
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public ClipDecision decide(StepStats step, Signal signal) {
        lastChange = null;
        lastStep = step;
        steps++;
        sinceTighten++;
        Map<String, Double> spikeClip = null;
        if (!capEngaged || !gradientCapEngaged) {
            CapTrigger trigger = triggered(step);
            if (trigger != null) {
                engageCap(trigger.gradient(), trigger.reason(), trigger.detail());
            }
        }
        if (signal.trigger()) {
            healthyStreak = 0;
            resetStretch();
            // A loss far above its window tells the policy once, on the streak's first step: tightening again on
            // every step of the same streak, with no cooldown, left a healthy MLP's thresholds at 1/32 of its
            // healthy scale after one burst of bad minibatches (and rolled back twice in 15 such runs, where once
            // per streak rolled back none).
            if (signal.nonFinite() || (signal.diverging() && !lossAboveWindow)) {
                lostStep(true, "lost-step");
            } else if (signal.spike()) {
                if (repeatedSpike()) {
                    lostStep(false, "repeated-spikes");
                } else if (thresholds == null) {
                    spikeClip = healthyScales();
                }
            }
        } else {
            healthyStreak++;
            for (LayerStats l : step.layers()) {
                remember(l.layer(), l.appliedNorm());
            }
            if (healthyStreak >= relaxAfter) {
                relax(capBindsPersistently());
                healthyStreak = 0;
                resetStretch();
            }
        }
        lossAboveWindow = signal.diverging();
        ClipDecision decision = combined(step, spikeClip);
        if (capEngaged || gradientCapEngaged) {
            if (capEngaged && !signal.trigger() && capBinds(step, true)) {
                capBoundSteps++;
            }
            capIdle = signal.trigger() || capBinds(step, false) ? 0 : capIdle + 1;
            if (capIdle >= relaxAfter && capScale >= 1.0 && lastChange == null) {
                double before = bound(combinedThresholds(step, null));
                capEngaged = false;
                gradientCapEngaged = false;
                capIdle = 0;
                capFor = null;
                lastChange = new ClipChange(CLIP_DISABLE, "healthy-stretch", "all", before, Double.NaN,
                        "cap disengaged");
                decision = combined(step, null);
            }
        }
        if (spikeClip != null && lastChange == null && decision.binds(step)) {
            lastChange = new ClipChange(CLIP, "spike", "all", Double.NaN, bound(spikeClip), describe(spikeClip));
        }
        return decision;
    }

    /** Whether, over the healthy stretch just ended, the update-ratio cap bound on nearly every step. */
    private boolean capBindsPersistently() {
        return capEngaged && capBoundSteps >= PERSISTENT_SHARE * relaxAfter;
    }

    private void resetStretch() {
        capBoundSteps = 0;
    }

    @Override
    public void onSkippedStep(Signal signal) {
        lastChange = null;
        lossAboveWindow = false; // a rollback starts the divergence window again
        healthyStreak = 0;
        resetStretch();
        lostStep(signal.severe(), signal.severe() ? "lost-step" : "request");
    }

    /** Something went wrong enough that clipping must hold from now on, or hold tighter. */
    private void lostStep(boolean severe, String reason) {
        boolean wasEngaged = capEngaged;
        if (!capEngaged) {
            engageCap(false, reason, null);
        }
        if (thresholds == null) {
            ClipChange cap = lastChange;
            enable(lastStep, reason);
            if (lastChange == null) {
                lastChange = cap;
            }
        } else if (wasEngaged) {
            tighten(severe, reason);
        }
    }

    /** @param gradient the gradient-ratio cap (layers on normalising optimizers), else the update-ratio cap */
    private void engageCap(boolean gradient, String reason, String why) {
        if (gradient) {
            gradientCapEngaged = true;
        } else {
            capEngaged = true;
        }
        capIdle = 0;
        capFor = null; // which layers the cap holds changed
        if (lastStep != null && lastStep.layers().stream().noneMatch(LayerStats::clippable)) {
            return; // DL4J renormalizes every layer's gradient: a cap would hold nothing, so none is recorded
        }
        Map<String, Double> t = lastStep == null ? Map.of() : capThresholds(lastStep);
        lastChange = new ClipChange(CLIP_ENABLE, reason, "all", Double.NaN, t.isEmpty() ? Double.NaN : bound(t),
                (gradient ? "gradient-ratio cap " + format(gradientRatioCap)
                        : "update-ratio cap " + format(updateRatioCap * capScale))
                        + (why == null ? "" : "; " + why)
                        + (t.isEmpty() ? "" : "; thresholds " + describe(t)));
    }

    private boolean repeatedSpike() {
        System.arraycopy(spikeSteps, 1, spikeSteps, 0, spikeSteps.length - 1);
        spikeSteps[spikeSteps.length - 1] = steps;
        return steps - spikeSteps[0] < SPIKE_SPAN;
    }

    private void enable(StepStats step, String reason) {
        Map<String, Double> t = healthyScales();
        if (step != null) {
            for (LayerStats l : step.layers()) {
                if (!t.containsKey(l.layer()) && l.appliedNorm() > 0 && Double.isFinite(l.appliedNorm())) {
                    t.put(l.layer(), l.appliedNorm() / 10);
                }
            }
        }
        if (t.isEmpty()) {
            return; // nothing known yet about any layer's scale: stay armed, enable on the next trigger
        }
        thresholds = t;
        enabledAt = Map.copyOf(t);
        sinceTighten = 0;
        lastChange = new ClipChange(CLIP_ENABLE, reason, "all", Double.NaN, bound(t), describe(t));
    }

    /** Each layer's healthy scale, for the layers with any healthy history. */
    private Map<String, Double> healthyScales() {
        Map<String, Double> t = new LinkedHashMap<>();
        for (String layer : history.keySet()) {
            t.put(layer, scaleOf(layer));
        }
        return t;
    }

    /**
     * @param severe the step was lost (NaN, or rolled back for divergence) while clipping: the thresholds let through
     *               updates that wreck the run, so the cooldown does not apply
     */
    private void tighten(boolean severe, String reason) {
        if (sinceTighten < cooldown && !severe) {
            return;
        }
        double before = bound(combinedThresholds(lastStep, null));
        double nextScale = Math.max(capScale * tightenFactor, floorFraction);
        Map<String, Double> t = new LinkedHashMap<>();
        thresholds.forEach((layer, v) -> t.put(layer, Math.max(v * tightenFactor,
                enabledAt.get(layer) * floorFraction)));
        if (t.equals(thresholds) && nextScale == capScale) {
            return; // at the floor everywhere
        }
        thresholds = t;
        capScale = nextScale;
        sinceTighten = 0;
        Map<String, Double> after = combinedThresholds(lastStep, null);
        lastChange = new ClipChange(CLIP_TIGHTEN, reason, "all", before, bound(after), describe(after));
    }

    /** @param anneal the cap set every step's size over the stretch: make it smaller instead of larger */
    private void relax(boolean anneal) {
        boolean changed = false;
        boolean annealed = false;
        String stretch = String.format(Locale.ROOT, "the update-ratio cap bound on %d of the last %d steps",
                capBoundSteps, healthyStreak);
        double before = bound(combinedThresholds(lastStep, null));
        if (anneal) {
            double next = Math.max(capScale * tightenFactor, floorFraction);
            annealed = next != capScale;
            changed = annealed;
            capScale = next;
        } else if (capEngaged && capScale < 1.0) {
            capScale = Math.min(1.0, capScale / tightenFactor);
            changed = true;
        }
        if (thresholds != null) {
            Map<String, Double> t = new LinkedHashMap<>();
            boolean back = true;
            for (Map.Entry<String, Double> e : thresholds.entrySet()) {
                double v = e.getValue() / tightenFactor;
                t.put(e.getKey(), v);
                back &= v > enabledAt.get(e.getKey());
            }
            thresholds = back ? null : t;
            enabledAt = back ? null : enabledAt;
            changed = true;
        }
        if (changed) {
            Map<String, Double> after = combinedThresholds(lastStep, null);
            boolean off = thresholds == null && !capEngaged && !gradientCapEngaged;
            lastChange = annealed
                    ? new ClipChange(CLIP_TIGHTEN, "cap-set-steps", "all", before, bound(after), "update-ratio cap "
                            + format(updateRatioCap * capScale) + ": " + stretch + "; " + describe(after))
                    : new ClipChange(off ? CLIP_DISABLE : CLIP_RELAX, "healthy-stretch", "all", before,
                            off ? Double.NaN : bound(after), off ? null : describe(after));
        }
    }

    private ClipDecision combined(StepStats step, Map<String, Double> spikeClip) {
        Map<String, Double> t = combinedThresholds(step, spikeClip);
        return t.isEmpty() ? new ClipDecision.None() : new ClipDecision.LayerNorm(t);
    }

    /** Per layer, the tightest of the history thresholds, the cap and a lone spike's clip. */
    private Map<String, Double> combinedThresholds(StepStats step, Map<String, Double> spikeClip) {
        Map<String, Double> t = new LinkedHashMap<>();
        if (thresholds != null) {
            t.putAll(thresholds);
        }
        if (spikeClip != null) {
            spikeClip.forEach((layer, v) -> t.merge(layer, v, Math::min));
        }
        if ((capEngaged || gradientCapEngaged) && step != null) {
            capThresholds(step).forEach((layer, v) -> t.merge(layer, v, Math::min));
        }
        return t;
    }

    /**
     * Each capped layer's gradient norm bound: where its update reaches the update-ratio cap, or, on an optimizer
     * that normalises the gradient, the gradient-ratio cap; layers of a cap not engaged (and those of an optimizer
     * that does not move them, NoOp) are absent. Unmodifiable, and computed once per step and cap scale.
     */
    private Map<String, Double> capThresholds(StepStats step) {
        if (step != capFor || capScale != capFromScale) {
            cap = Collections.unmodifiableMap(computeCapThresholds(step));
            capFor = step;
            capFromScale = capScale;
        }
        return cap;
    }

    private Map<String, Double> computeCapThresholds(StepStats step) {
        double floor = zeroWeightFloor(step);
        Map<String, Double> t = new LinkedHashMap<>();
        for (LayerStats l : step.layers()) {
            double weights = Math.max(l.paramNorm(), floor);
            if ((normalises(l) ? !gradientCapEngaged : !capEngaged) || !l.clippable()) {
                continue;
            }
            // Tightening scales the update-ratio cap only: a tighter clip does not make a normalised update smaller.
            double threshold = normalises(l) ? gradientRatioCap * weights
                    : Math.max(updateRatioCap * capScale, decayBalance(l)) * weights / l.stepGain();
            if (threshold > 0 && Double.isFinite(threshold)) {
                t.put(l.layer(), threshold);
            }
        }
        return t;
    }

    /**
     * The update ratio below which a layer's weight decay wins: steps of share {@code s} of the weights in directions
     * across them grow their norm by about {@code s²/2} a step, decay of share {@code d} shrinks it by {@code d}, so
     * they balance at {@code sqrt(2d)} (the equilibrium rotation of Kosson et al. 2023, "Rotational equilibrium"). A
     * cap below it lets decay take the weights to zero and the run to chance: an 8-32-32-4 MLP on SGD lr 5 with
     * weightDecay 0.01 (5% a step) ended at 0.61 under the 2% cap against 0.76 for ClipL2PerLayer 0.1, and on
     * Nesterov lr 1 (1% a step) at 0.57 against 0.89.
     */
    private static double decayBalance(LayerStats l) {
        return 2 * l.decayRate();
    }

    /**
     * Whether a cap holds some layer's gradient on this step.
     *
     * @param updateCapOnly count only the update-ratio cap, not the gradient-ratio cap's layers
     */
    private boolean capBinds(StepStats step, boolean updateCapOnly) {
        Map<String, Double> t = capThresholds(step);
        return step.layers().stream().anyMatch(l -> !(updateCapOnly && normalises(l)) && t.containsKey(l.layer())
                && l.appliedNorm() > t.get(l.layer()));
    }

    /**
     * The zero-weight floor of {@code step}: {@link #ZERO_WEIGHT_FLOOR} times the median layer's weight norm. The
     * trigger and the cap both need it on an engaged step, so it is computed once per step.
     */
    private double zeroWeightFloor(StepStats step) {
        if (step != floorFor) {
            floorOfStep = ZERO_WEIGHT_FLOOR * medianParamNorm(step);
            floorFor = step;
        }
        return floorOfStep;
    }

    private static double medianParamNorm(StepStats step) {
        double[] norms = new double[step.layers().size()];
        int n = 0;
        for (LayerStats l : step.layers()) {
            if (Double.isFinite(l.paramNorm())) {
                norms[n++] = l.paramNorm();
            }
        }
        if (n == 0) {
            return Double.NaN;
        }
        Arrays.sort(norms, 0, n);
        return norms[n / 2];
    }

    /**
     * Why this step engages the cap, or null: some layer's step alone would move its weights by more than
     * {@code updateRatioTrigger}, or, for a layer whose optimizer normalises the gradient, its gradient norm stands
     * more than {@code gradientRatioTrigger} times above its weight norm.
     */
    private CapTrigger triggered(StepStats step) {
        double floor = zeroWeightFloor(step);
        for (LayerStats l : step.layers()) {
            double weights = Math.max(l.paramNorm(), floor);
            if (normalises(l)) {
                double ratio = l.appliedNorm() / weights;
                if (!gradientCapEngaged && ratio > gradientRatioTrigger) {
                    return new CapTrigger(true, "gradient-ratio", String.format(Locale.ROOT, "layer %s: gradient/parameter "
                            + "norm ratio %.3g above the trigger %.3g", l.layer(), ratio, gradientRatioTrigger));
                }
            } else {
                // This step alone, or what momentum builds it up to at half weight: a first gradient of 5% that
                // Nesterov carries on for ten steps moves the weights by a quarter (recall tanh Nesterov, seed 42),
                // while a healthy Nesterov run's built-up step stays near 12% (deep tanh MLP at lr 0.05).
                double alone = l.firstStepGain() * l.appliedNorm() / weights;
                double builtUp = l.stepGain() * l.appliedNorm() / weights;
                if (!capEngaged && Math.max(alone, builtUp / BUILT_UP_WEIGHT) > updateRatioTrigger) {
                    // The audit names the ratio that crossed, at its own size, not the weighted one.
                    String which = alone > updateRatioTrigger ? String.format(Locale.ROOT, "%.3g", alone)
                            : String.format(Locale.ROOT, "%.3g for this step, %.3g once momentum builds it up "
                                    + "(counted at 1/%.0f),", alone, builtUp, BUILT_UP_WEIGHT);
                    return new CapTrigger(false, "update-ratio", String.format(Locale.ROOT, "layer %s: predicted "
                            + "update/parameter ratio %s above the trigger %.3g", l.layer(), which,
                            updateRatioTrigger));
                }
            }
        }
        return null;
    }

    /** What engaged the cap: the audit reason and the measurement behind it. */
    private record CapTrigger(boolean gradient, String reason, String detail) {
    }

    /**
     * Whether the layer's optimizer divides the gradient by a running estimate of its scale (Adam, RMSProp, ...: no
     * step gain), so that its cap bounds the gradient relative to the weights instead of the update.
     */
    private static boolean normalises(LayerStats l) {
        return Double.isNaN(l.stepGain()) && Double.isFinite(l.paramNorm());
    }

    private void remember(String layer, double norm) {
        if (!(norm > 0) || !Double.isFinite(norm)) {
            return;
        }
        double[] ring = history.computeIfAbsent(layer, k -> new double[window]);
        int n = historySize.getOrDefault(layer, 0);
        ring[n % window] = norm;
        historySize.put(layer, n + 1);
    }

    /**
     * The layer's healthy scale: the percentile of its window, linear between closest ranks; with fewer than
     * {@value #SHORT_HISTORY} norms (or than the window holds, if smaller), the smallest. A run that blows up within
     * its first steps has norms that grow step by step before any detector fires, so there the earliest, smallest one
     * is the healthiest.
     */
    private double scaleOf(String layer) {
        int n = Math.min(historySize.get(layer), window);
        double[] sorted = Arrays.copyOf(history.get(layer), n);
        Arrays.sort(sorted);
        return n < Math.min(SHORT_HISTORY, window) ? sorted[0] : AutoClip.interpolated(sorted, n, percentile);
    }

    /** The global bound of per-layer thresholds: the largest global norm they let through. */
    public static double bound(Map<String, Double> thresholds) {
        if (thresholds.isEmpty()) {
            return Double.NaN;
        }
        double sum = 0;
        for (double t : thresholds.values()) {
            sum += t * t;
        }
        return Math.sqrt(sum);
    }

    private static String describe(Map<String, Double> thresholds) {
        return thresholds.entrySet().stream().map(e -> e.getKey() + "=" + format(e.getValue()))
                .collect(Collectors.joining(", "));
    }

    private static String format(double v) {
        return String.format(Locale.ROOT, "%.3g", v);
    }

    /** Current history-based per-layer thresholds, empty while observing. */
    public Map<String, Double> thresholds() {
        return thresholds == null ? Map.of() : Map.copyOf(thresholds);
    }

    /** Whether the update-ratio cap is engaged. */
    public boolean capEngaged() {
        return capEngaged;
    }

    /** Whether the gradient-ratio cap (layers on optimizers that normalise the gradient) is engaged. */
    public boolean gradientCapEngaged() {
        return gradientCapEngaged;
    }

    @Override
    public ClipChange lastChange() {
        return lastChange;
    }

    @Override
    public Map<String, Double> settings() {
        Map<String, Double> s = new LinkedHashMap<>();
        s.put("percentile", percentile);
        s.put("window", (double) window);
        s.put("tightenFactor", tightenFactor);
        s.put("floorFraction", floorFraction);
        s.put("cooldown", (double) cooldown);
        s.put("relaxAfter", (double) relaxAfter);
        s.put("updateRatioCap", updateRatioCap);
        s.put("updateRatioTrigger", updateRatioTrigger);
        s.put("gradientRatioCap", gradientRatioCap);
        s.put("gradientRatioTrigger", gradientRatioTrigger);
        return Collections.unmodifiableMap(s);
    }

    @Override
    public SavedState saveState() {
        SavedState s = new SavedState().put("counters", sinceTighten, healthyStreak, steps, capIdle)
                .put("cap", capEngaged ? 1 : 0, capScale)
                .put("gradientCap", gradientCapEngaged ? 1 : 0)
                .put("capStretch", capBoundSteps)
                .put("lossAboveWindow", lossAboveWindow ? 1 : 0)
                .put("spikeSteps", spikeSteps[0], spikeSteps[1], spikeSteps[2]);
        history.forEach((layer, ring) -> s.put("history." + layer, ring).put("historySize." + layer,
                historySize.get(layer)));
        if (thresholds != null) {
            thresholds.forEach((layer, t) -> s.put("threshold." + layer, t).put("enabledAt." + layer,
                    enabledAt.get(layer)));
        }
        return s;
    }

    @Override
    public void restoreState(SavedState s) {
        sinceTighten = (int) s.number("counters", 0);
        healthyStreak = (int) s.number("counters", 1);
        steps = (long) s.number("counters", 2);
        capIdle = (int) s.number("counters", 3);
        capEngaged = s.number("cap", 0) != 0;
        capScale = s.number("cap", 1);
        // absent from checkpoints written before the gradient-ratio cap existed: not engaged
        gradientCapEngaged = s.has("gradientCap") && s.number("gradientCap", 0) != 0;
        // absent from checkpoints written before the cap annealed: an empty stretch; older checkpoints also
        // saved two counts of sampled update ratios after it, which the anneal no longer reads
        capBoundSteps = s.has("capStretch") ? (int) s.number("capStretch", 0) : 0;
        // a run resumed in the middle of a loss streak is in the same streak, which has told the policy already;
        // absent from checkpoints written before the sixth session of 2 December: not in a streak
        lossAboveWindow = s.has("lossAboveWindow") && s.number("lossAboveWindow", 0) != 0;
        capFor = null;
        for (int i = 0; i < spikeSteps.length; i++) {
            spikeSteps[i] = (long) s.number("spikeSteps", i);
        }
        history.clear();
        historySize.clear();
        for (String layer : s.suffixes("history.")) {
            double[] ring = s.get("history." + layer);
            if (ring.length != window) {
                throw new IllegalArgumentException("saved window of layer " + layer + " has " + ring.length
                        + " entries, the policy's window is " + window);
            }
            history.put(layer, ring);
            historySize.put(layer, (int) s.number("historySize." + layer, 0));
        }
        List<String> clipped = s.suffixes("threshold.");
        if (clipped.isEmpty()) {
            thresholds = null;
            enabledAt = null;
        } else {
            thresholds = new LinkedHashMap<>();
            Map<String, Double> enabled = new LinkedHashMap<>();
            for (String layer : clipped) {
                thresholds.put(layer, s.number("threshold." + layer, 0));
                enabled.put(layer, s.number("enabledAt." + layer, 0));
            }
            enabledAt = Collections.unmodifiableMap(enabled);
        }
        lastStep = null;
        lastChange = null;
    }
}
