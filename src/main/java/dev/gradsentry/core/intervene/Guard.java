package dev.gradsentry.core.intervene;

import dev.gradsentry.core.clip.AdaptiveClip;
import dev.gradsentry.core.clip.ClipChange;
import dev.gradsentry.core.clip.ClipDecision;
import dev.gradsentry.core.clip.ClipPolicy;
import dev.gradsentry.core.detect.DivergenceDetector;
import dev.gradsentry.core.detect.Signal;
import dev.gradsentry.core.detect.SpikeDetector;
import dev.gradsentry.core.probe.GradientEdit;
import dev.gradsentry.core.probe.GradientInterceptor;
import dev.gradsentry.core.probe.GradientProbe;
import dev.gradsentry.core.probe.NetworkState;
import dev.gradsentry.core.probe.StepStats;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;

import java.time.Clock;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * The intervention engine: reads each step's measurement before DL4J's update, decides, acts, and audits.
 *
 * <p>Per step, in order: a NaN or infinite loss means the last update already corrupted the weights, so the network
 * is rolled back to the last good state and the learning rate backed off; a NaN or infinite gradient means this update
 * would corrupt them, so the step is skipped (weights, updater state and iteration counter stay bitwise as they were);
 * a diverging loss is rolled back like a non-finite one; an extreme spike is skipped; otherwise the clipping policy
 * decides and the guard applies its decision. Every {@code snapshotEvery} healthy steps the state is kept as the last
 * good one. After {@code maxRecoveries} rollbacks within {@code recoveryWindow} steps the guard gives up: it restores
 * the last good state and reports {@link #paused()}, and the caller stops training.
 *
 * <p>Lifecycle: {@link #protect} attaches a probe and a guard to a network in one call; policy and mode changes from
 * other threads take effect at the next step. Every action goes to the {@link InterventionListener}s.
 */
public final class Guard implements GradientInterceptor {

    /** External tightening stops at 1% of the policy's own thresholds. */
    static final double MIN_THRESHOLD_SCALE = 0.01;
    /**
     * Skipped steps in a row after which the weights, not the batches, are taken to be broken: a gradient that is
     * non-finite on batch after batch comes from weights an earlier update wrecked, and skipping more steps would
     * only stall the run, so the guard rolls back instead.
     */
    static final int SKIPS_BEFORE_ROLLBACK = 3;
    private static final Signal NON_FINITE = new Signal(true, false, Double.NaN, null, false);
    private static final Signal DIVERGED = new Signal(false, false, Double.NaN, null, true);

    private final Model model;
    private final String run;
    private final Clock clock;
    private final List<InterventionListener> listeners = new CopyOnWriteArrayList<>();

    private volatile ClipPolicy requestedPolicy;
    private volatile String requestedReason;
    private volatile GuardSettings settings;
    private ClipPolicy policy;
    /** The probe {@link #protect} attached; null for a guard built by hand and handed to a probe by its caller. */
    private GradientProbe probe;
    private SpikeDetector spikes;
    private DivergenceDetector divergence;

    private NetworkState lastGood;
    private NetworkState candidate;
    private long step;
    private long healthySinceSnapshot;
    private int skipsInARow;
    private long healthyStreak;
    private double baseLearningRate = Double.NaN;
    private double pendingLearningRate = Double.NaN;
    private final Deque<Long> recoveries = new ArrayDeque<>();
    private final Queue<ExternalRequest> requests = new ConcurrentLinkedQueue<>();
    /** Multiplies every threshold the policy decides; external tightening lowers it, relaxing raises it to 1. */
    private volatile double thresholdScale = 1.0;
    /** An alert or a person asked for clipping: it is applied even in observe mode, where only they act. */
    private boolean clippingRequested;
    private volatile boolean paused;
    private volatile ClipDecision lastDecision = new ClipDecision.None();
    private volatile boolean lastClipped;
    private boolean lastSpike;

    public Guard(Model model, String run, ClipPolicy policy, GuardSettings settings, Clock clock) {
        this.model = model;
        this.run = run;
        this.policy = policy;
        this.settings = settings;
        this.clock = clock;
        this.spikes = new SpikeDetector(settings.spikeZ(), 2.0, settings.spikeWarmup(), 0.95);
        this.divergence = new DivergenceDetector(settings.divergenceFactor(), settings.divergencePatience(), 50);
        this.lastGood = NetworkState.capture(model);
    }

    /** Attaches a gradient probe and a guard with GradSentry's defaults to an initialised network. */
    public static Guard protect(MultiLayerNetwork network) {
        Guard guard = new Guard(network, "local", AdaptiveClip.defaults(), GuardSettings.defaults(), Clock.systemUTC());
        guard.probe = GradientProbe.attach(network).intercept(guard);
        return guard;
    }

    /** Attaches a gradient probe and a guard with GradSentry's defaults to an initialised graph. */
    public static Guard protect(ComputationGraph graph) {
        Guard guard = new Guard(graph, "local", AdaptiveClip.defaults(), GuardSettings.defaults(), Clock.systemUTC());
        guard.probe = GradientProbe.attach(graph).intercept(guard);
        return guard;
    }

    /**
     * The probe that measures the steps this guard reads (its {@link GradientProbe#lastStep()}, observers for
     * metrics); null when the guard was built by hand and handed to a probe by the caller.
     */
    public GradientProbe probe() {
        return probe;
    }

    public Guard addListener(InterventionListener listener) {
        listeners.add(listener);
        return this;
    }

    /** Replaces the clipping policy from the next step on; audited as a {@code policy-change}. */
    public void changePolicy(ClipPolicy next, String reason) {
        requestedReason = reason;
        requestedPolicy = next;
    }

    /**
     * Lets training go on after the guard paused: forgets the failed recoveries and audits a {@code resume}. The
     * network keeps the state the guard left it in.
     */
    public void resume(String reason, String detail) {
        recoveries.clear();
        paused = false;
        emit("resume", reason, Double.NaN, Double.NaN, Double.NaN, null, true, policy, detail);
    }

    /** Queues an action from outside (an alert, a person); it is applied at the next step, in every mode. */
    public void request(ExternalRequest request) {
        requests.add(request);
    }

    /** The factor external tightening applies to every threshold (1 when none). */
    public double thresholdScale() {
        return thresholdScale;
    }

    public void changeSettings(GuardSettings next) {
        settings = next;
    }

    public GuardSettings settings() {
        return settings;
    }

    public ClipPolicy policy() {
        ClipPolicy requested = requestedPolicy;
        return requested != null ? requested : policy;
    }

    /** True once the guard gave up on the run; the network then holds the last good state. */
    public boolean paused() {
        return paused;
    }

    /** The clipping decision of the last step (for the threshold gauges). */
    public ClipDecision lastDecision() {
        return lastDecision;
    }

    /** Whether the last step's gradient was actually clipped. */
    public boolean lastClipped() {
        return lastClipped;
    }

    @Override
    public void beforeUpdate(StepStats measured, GradientEdit edit) {
        ClipPolicy requested = requestedPolicy;
        if (requested != null) {
            requestedPolicy = null;
            emit("policy-change", requestedReason, Double.NaN, Double.NaN, Double.NaN, null, true, requested);
            policy = requested;
        }
        GuardSettings s = settings;
        lastClipped = false;
        lastSpike = false;
        if (applyRequests(edit, measured)) {
            return;
        }
        if (s.mode() == GuardMode.OFF) {
            lastDecision = new ClipDecision.None();
            return;
        }
        boolean act = s.mode() == GuardMode.AUTO;
        if (!Double.isFinite(measured.loss())) {
            lostStep(NON_FINITE, act, measured.loss());
            rollback(edit, "non-finite-loss", measured.loss(), act);
            return;
        }
        if (measured.nonFinite() > 0 || !Double.isFinite(measured.globalNorm())) {
            lostStep(NON_FINITE, act, measured.globalNorm());
            if (++skipsInARow >= SKIPS_BEFORE_ROLLBACK) {
                skipsInARow = 0;
                rollback(edit, "non-finite-gradient", measured.nonFinite(), act,
                        SKIPS_BEFORE_ROLLBACK + " steps in a row had non-finite gradients");
                return;
            }
            emit("skip", "non-finite-gradient", measured.nonFinite(), Double.NaN, Double.NaN, null, act, policy);
            if (act) {
                edit.skip();
            }
            return;
        }
        skipsInARow = 0;
        SpikeDetector.Result spike = spikes.observe(measured);
        lastSpike = spike.spike();
        boolean diverging = divergence.observe(measured.loss());
        if (diverging) {
            divergence.clearStreak();
            // The policy learns that what it let through wrecked the run, as it does for a non-finite loss.
            lostStep(DIVERGED, act, measured.loss());
            rollback(edit, "divergence", measured.loss(), act);
            return;
        }
        // A loss already far above its window (not yet for long enough to roll back) tells the policy that what it
        // lets through is too much, before the run is lost.
        Signal signal = new Signal(false, spike.spike(), spike.score(), spike.spike() ? spike.where() : null,
                divergence.streak() > 0);
        ClipDecision decision = scaled(policy.decide(measured, signal));
        audit(policy.lastChange(), act, spike.spike() ? spike.ratio() : Double.NaN);
        lastDecision = decision;
        if (spike.spike() && spike.ratio() > s.extremeSpikeRatio()) {
            emit("skip", "spike", spike.ratio(), Double.NaN, Double.NaN, spike.where(), act, policy);
            if (act) {
                edit.skip();
            }
            return;
        }
        lastClipped = decision.binds(measured);
        if ((act || clippingRequested) && lastClipped) {
            decision.apply(measured, edit);
        }
    }

    @Override
    public void afterUpdate(StepStats done, boolean undone) {
        step++;
        GuardSettings s = settings;
        if (s.mode() == GuardMode.OFF) {
            return;
        }
        if (Double.isNaN(baseLearningRate)) {
            baseLearningRate = done.learningRate();
        }
        if (!Double.isNaN(pendingLearningRate)) {
            setLearningRate(pendingLearningRate);
            pendingLearningRate = Double.NaN;
        }
        if (undone || !done.finite()) {
            healthyStreak = 0;
            return;
        }
        if (divergence.streak() > 0 || lastSpike) {
            healthyStreak = 0;
            return; // not yet known to be bad, but not good enough to keep either
        }
        healthyStreak++;
        healthySinceSnapshot++;
        if (healthySinceSnapshot >= s.snapshotEvery()) {
            // A state becomes the one to roll back to only after another stretch of healthy steps has followed it:
            // trouble that builds up slowly is then caught before it reaches the kept state.
            if (candidate != null) {
                lastGood = candidate;
            }
            candidate = NetworkState.captureAfterUpdate(model);
            healthySinceSnapshot = 0;
        }
        if (s.mode() == GuardMode.AUTO && s.lrRestoreAfter() > 0 && healthyStreak >= s.lrRestoreAfter()
                && done.learningRate() < baseLearningRate) {
            double restored = Math.min(baseLearningRate, done.learningRate() / s.lrBackoffFactor());
            setLearningRate(restored);
            emit("lr-restore", "healthy-stretch", healthyStreak, done.learningRate(), restored, null, true, policy);
            healthyStreak = 0;
        }
    }

    /** Tells the policy about a step that is skipped or rolled back, and audits what it changed. */
    private void lostStep(Signal signal, boolean act, double measured) {
        policy.onSkippedStep(signal);
        audit(policy.lastChange(), act, measured);
    }

    private void rollback(GradientEdit edit, String reason, double measured, boolean act) {
        rollback(edit, reason, measured, act, null);
    }

    private void rollback(GradientEdit edit, String reason, double measured, boolean act, String detail) {
        GuardSettings s = settings;
        emit("rollback", reason, measured, Double.NaN, Double.NaN, null, act, policy, detail);
        if (!act) {
            return;
        }
        edit.restore(lastGood);
        healthySinceSnapshot = 0;
        candidate = null;
        spikes.reset();
        recoveries.addLast(step);
        while (!recoveries.isEmpty() && recoveries.peekFirst() <= step - s.recoveryWindow()) {
            recoveries.removeFirst();
        }
        double lr = currentLearningRate();
        double backedOff = lr * s.lrBackoffFactor();
        pendingLearningRate = backedOff;
        emit("lr-backoff", reason, measured, lr, backedOff, null, true, policy, detail);
        if (recoveries.size() >= s.maxRecoveries()) {
            paused = true;
            emit("pause", "recoveries-exhausted", recoveries.size(), Double.NaN, Double.NaN, null, true, policy);
        }
    }

    /** Applies queued external requests; true when one of them undid this step (a rollback). */
    private boolean applyRequests(GradientEdit edit, StepStats measured) {
        boolean undone = false;
        ExternalRequest r;
        while ((r = requests.poll()) != null) {
            switch (r.action()) {
                case ROLLBACK -> {
                    if (!undone) {
                        rollback(edit, r.reason(), measured.loss(), true, r.detail());
                        undone = true;
                    }
                }
                case LR_BACKOFF -> {
                    double lr = currentLearningRate();
                    pendingLearningRate = lr * settings.lrBackoffFactor();
                    emit("lr-backoff", r.reason(), Double.NaN, lr, pendingLearningRate, null, true, policy, r.detail());
                }
                case ENABLE_CLIPPING -> {
                    clippingRequested = true;
                    policy.onSkippedStep(new Signal(false, true, Double.NaN, null, false));
                    ClipChange change = policy.lastChange();
                    if (change != null) {
                        emit(change.kind(), r.reason(), Double.NaN, change.before(), change.after(), change.layer(),
                                true, policy, r.detail());
                    } else {
                        emit("clip-enable", r.reason(), Double.NaN, Double.NaN, Double.NaN, null, false, policy,
                                r.detail() + "; policy " + policy.name() + " has no clipping state to switch on");
                    }
                }
                case TIGHTEN_CLIPPING -> {
                    clippingRequested = true;
                    double before = thresholdScale;
                    thresholdScale = Math.max(MIN_THRESHOLD_SCALE, before * 0.5);
                    emit("clip-tighten", r.reason(), Double.NaN, before, thresholdScale, "all", true, policy,
                            r.detail() + "; thresholds scaled by " + thresholdScale);
                }
                case RELAX_CLIPPING -> {
                    double before = thresholdScale;
                    thresholdScale = Math.min(1.0, before * 2);
                    clippingRequested = thresholdScale < 1.0;
                    emit("clip-relax", r.reason(), Double.NaN, before, thresholdScale, "all", true, policy,
                            r.detail() + "; thresholds scaled by " + thresholdScale);
                }
                case PAUSE -> {
                    paused = true;
                    emit("pause", r.reason(), Double.NaN, Double.NaN, Double.NaN, null, true, policy, r.detail());
                }
            }
        }
        return undone;
    }

    private ClipDecision scaled(ClipDecision d) {
        double s = thresholdScale;
        if (s == 1.0) {
            return d;
        }
        if (d instanceof ClipDecision.GlobalNorm g) {
            return new ClipDecision.GlobalNorm(g.threshold() * s);
        }
        if (d instanceof ClipDecision.LayerNorm l) {
            Map<String, Double> t = new LinkedHashMap<>();
            l.thresholds().forEach((k, v) -> t.put(k, v * s));
            return new ClipDecision.LayerNorm(t);
        }
        if (d instanceof ClipDecision.ParamNorm p) {
            return new ClipDecision.ParamNorm(p.threshold() * s);
        }
        if (d instanceof ClipDecision.Value v) {
            return new ClipDecision.Value(v.threshold() * s);
        }
        if (d instanceof ClipDecision.UnitWise u) {
            return new ClipDecision.UnitWise(u.lambda() * s, u.eps());
        }
        return d;
    }

    private void audit(ClipChange change, boolean act, double measured) {
        if (change != null) {
            emit(change.kind(), change.kind().equals("clip-relax") || change.kind().equals("clip-disable")
                    ? "healthy-stretch" : "trigger", measured, change.before(), change.after(), change.layer(), act,
                    policy);
        }
    }

    private void emit(String kind, String reason, double measured, double before, double after, String layer,
                      boolean applied, ClipPolicy p) {
        emit(kind, reason, measured, before, after, layer, applied, p, null);
    }

    private void emit(String kind, String reason, double measured, double before, double after, String layer,
                      boolean applied, ClipPolicy p, String detail) {
        Intervention i = new Intervention(clock.instant(), run, step, kind, reason, measured, before, after, layer,
                applied, p.name(), p.settings(), detail);
        for (InterventionListener l : listeners) {
            l.onIntervention(i);
        }
    }

    private double currentLearningRate() {
        if (!Double.isNaN(pendingLearningRate)) {
            return pendingLearningRate;
        }
        return model instanceof MultiLayerNetwork ? learningRateInForce() : baseLearningRate;
    }

    /** The first layer's learning rate as the network holds it; NaN where DL4J offers no single one. */
    private double learningRateInForce() {
        if (model instanceof MultiLayerNetwork net) {
            Double lr = net.getLearningRate(0);
            return lr == null ? Double.NaN : lr;
        }
        return Double.NaN;
    }

    private void setLearningRate(double lr) {
        if (!(lr > 0) || !Double.isFinite(lr)) {
            return;
        }
        if (model instanceof MultiLayerNetwork net) {
            net.setLearningRate(lr);
        } else if (model instanceof ComputationGraph graph) {
            graph.setLearningRate(lr);
        }
    }

    /**
     * What the guard learned, for a checkpoint; call it between steps on the training thread. A policy change that
     * was requested but not yet taken over by a step is not part of it.
     */
    public GuardState saveState() {
        return new GuardState(step, healthySinceSnapshot, healthyStreak, baseLearningRate, learningRateInForce(),
                pendingLearningRate, recoveries.stream().mapToLong(Long::longValue).toArray(), thresholdScale,
                clippingRequested, paused, lastGood, candidate, policy.name(), policy.settings(), policy.saveState(),
                spikes.saveState(), divergence.saveState());
    }

    /**
     * Takes over a saved state; the guard must have been built with a policy of the same name and settings, and its
     * network must already hold the parameters that go with the state. Sets the saved learning rate on the network.
     */
    public void restoreState(GuardState s) {
        if (!policy.name().equals(s.policy()) || !policy.settings().equals(s.policySettings())) {
            throw new IllegalArgumentException("saved guard state is for policy " + s.policy() + s.policySettings()
                    + ", this guard has " + policy.name() + policy.settings());
        }
        policy.restoreState(s.policyState());
        spikes.restoreState(s.spikes());
        divergence.restoreState(s.divergence());
        step = s.step();
        healthySinceSnapshot = s.healthySinceSnapshot();
        healthyStreak = s.healthyStreak();
        baseLearningRate = s.baseLearningRate();
        pendingLearningRate = s.pendingLearningRate();
        recoveries.clear();
        for (long r : s.recoveries()) {
            recoveries.addLast(r);
        }
        thresholdScale = s.thresholdScale();
        clippingRequested = s.clippingRequested();
        paused = s.paused();
        lastGood = s.lastGood();
        candidate = s.candidate();
        if (Double.isFinite(s.learningRate())) {
            setLearningRate(s.learningRate());
        }
    }

    /** Per-layer thresholds of the current decision, for gauges; empty when not clipping per layer. */
    public Map<String, Double> layerThresholds() {
        ClipDecision d = lastDecision;
        if (d instanceof ClipDecision.LayerNorm l) {
            return l.thresholds();
        }
        if (d instanceof ClipDecision.GlobalNorm g) {
            Map<String, Double> m = new LinkedHashMap<>();
            m.put("global", g.threshold());
            return m;
        }
        return Map.of();
    }
}
