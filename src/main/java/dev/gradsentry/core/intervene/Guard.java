package dev.gradsentry.core.intervene;

import dev.gradsentry.core.clip.AdaptiveClip;
import dev.gradsentry.core.clip.ClipChange;
import dev.gradsentry.core.clip.ClipDecision;
import dev.gradsentry.core.clip.ClipPolicy;
import dev.gradsentry.core.detect.DivergenceDetector;
import dev.gradsentry.core.detect.LossProgress;
import dev.gradsentry.core.detect.Signal;
import dev.gradsentry.core.detect.SpikeDetector;
import dev.gradsentry.core.probe.GradientEdit;
import dev.gradsentry.core.probe.GradientInterceptor;
import dev.gradsentry.core.probe.GradientProbe;
import dev.gradsentry.core.probe.LayerStats;
import dev.gradsentry.core.probe.NetworkState;
import dev.gradsentry.core.probe.StepStats;
import dev.gradsentry.core.state.SavedState;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.optimize.api.TrainingListener;
import org.nd4j.linalg.api.buffer.DataType;

import java.time.Clock;
import java.util.ArrayDeque;
import java.util.Collection;
import java.util.Deque;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Logger;

import static dev.gradsentry.core.InterventionKind.CLIP_ENABLE;
import static dev.gradsentry.core.InterventionKind.CLIP_RELAX;
import static dev.gradsentry.core.InterventionKind.CLIP_TIGHTEN;

/**
 * The intervention engine: reads each step's measurement before DL4J's update, decides, acts, and audits.
 *
 * <p>Usage, for any initialised DL4J network:
 * <pre>{@code
 * Guard guard = Guard.protect(network);            // probe + guard with every default
 * guard.addListener(event -> log.info(event.toString()));
 * network.addListeners(new ScoreIterationListener(100)); // addListeners, never setListeners: it replaces the guard
 * network.fit(trainIterator, epochs);              // throws GuardPausedException if the guard gives up
 * }</pre>
 *
 * <p>Per step, in order: a NaN or infinite loss means the last update already corrupted the weights, so the network
 * is rolled back to the last good state and the learning rate backed off; a NaN or infinite gradient means this update
 * would corrupt them, so the step is skipped (weights, updater state and iteration counter stay bitwise as they were);
 * a diverging loss is rolled back like a non-finite one; a loss that does not come down while the guard intervenes
 * (see {@link LossProgress}) is rolled back too; an extreme spike is skipped; otherwise the clipping policy decides
 * and the guard applies its decision. Every path escalates (see {@link LostSteps}): the third skip within 20 steps is
 * a rollback, {@code maxRecoveries} rollbacks within {@code recoveryWindow} steps or more than
 * {@code maxSkippedShare} of the steps lost pause the guard, which then restores the last good state and reports
 * {@link #paused()} with {@link #pauseReason()}; the next step throws {@link GuardPausedException} out of
 * {@code fit}, so a {@code fit(iterator, epochs)} stops there.
 *
 * <p>Every {@code snapshotEvery} healthy steps the state is kept as the candidate for the last good one; it becomes
 * the last good one after another healthy stretch, and only if its loss was neither at the chance level nor far
 * above the run's best: a dead network is no state to return to, so a run that died early rolls back to its start.
 * The learning rate is backed off through {@link LearningRateScale}, which scales each layer's own rate or schedule.
 *
 * <p>Lifecycle: policy and mode changes from other threads take effect at the next step. Every action goes to the
 * {@link InterventionListener}s.
 */
public final class Guard implements GradientInterceptor {

    /** External tightening stops at 1% of the policy's own thresholds. */
    static final double MIN_THRESHOLD_SCALE = 0.01;
    /**
     * A loss window is judged while the guard acted within this many steps: as long as a chance verdict takes to
     * come after the guard's last act. The window the guard last acted in may still hold the blow-up, the next one
     * is the loss coming down from it (a new low, not judged at chance), and {@code CHANCE_WINDOWS} more at chance
     * make the verdict. With two windows, a relu RNN the cap held through a blow-up that had died at chance by
     * step 50 was judged 155 steps after the guard last acted, too late to count, and sat at chance to its end.
     */
    static final int INTERVENING_SPAN = (LossProgress.CHANCE_WINDOWS + 2) * LossProgress.WINDOW;
    private static final Logger LOG = Logger.getLogger(Guard.class.getName());
    private static final Signal NON_FINITE = new Signal(true, false, Double.NaN, null, false);
    private static final Signal DIVERGED = new Signal(false, false, Double.NaN, null, true);

    private final Model model;
    private final String run;
    private final Clock clock;
    private final List<InterventionListener> listeners = new CopyOnWriteArrayList<>();
    private final LearningRateScale learningRate;
    private final ChanceLoss chance;
    private final LossProgress progress;
    private final LostSteps lost = new LostSteps();

    /** Changes from other threads, applied and audited in the order they were made, at the next step. */
    private final Queue<PendingChange> changes = new ConcurrentLinkedQueue<>();
    private volatile GuardSettings settings;
    private ClipPolicy policy;
    /** The probe {@link #protect} attached; null for a guard built by hand and handed to a probe by its caller. */
    private GradientProbe probe;
    private boolean detachedWarned;
    private SpikeDetector spikes;
    private DivergenceDetector divergence;

    private NetworkState lastGood;
    private NetworkState candidate;
    /**
     * A discarded snapshot whose arrays the next one is copied into (see {@link NetworkState#captureAfterUpdate(
     * org.deeplearning4j.nn.api.Model, NetworkState)}), or null. A snapshot {@link #saveState} handed out or
     * {@link #restoreState} took in is never recycled: a checkpoint may still be writing it.
     */
    private NetworkState spare;
    private boolean lastGoodShared;
    private boolean candidateShared;
    private long step;
    private long healthySinceSnapshot;
    private long healthyStreak;
    /** The last step at which the guard acted or its clipping bound; NaN-like when never. */
    private long lastActed = Long.MIN_VALUE / 2;
    private double pendingLearningRateFactor = Double.NaN;
    private final Deque<Long> recoveries = new ArrayDeque<>();
    private final Queue<ExternalRequest> requests = new ConcurrentLinkedQueue<>();
    /** Multiplies every threshold the policy decides; external tightening lowers it, relaxing raises it to 1. */
    private volatile double thresholdScale = 1.0;
    /** An alert or a person asked for clipping: it is applied even in observe mode, where only they act. */
    private boolean clippingRequested;
    private volatile boolean paused;
    private volatile String pauseReason;
    private volatile ClipDecision lastDecision = new ClipDecision.None();
    private volatile boolean lastClipped;
    private boolean lastSpike;
    /** The first layer's learning rate as the network held it at the last step, for the audit. */
    private double learningRateInForce = Double.NaN;
    /** The network computes in 16-bit floats, where DL4J's log-loss can be NaN on a healthy step. */
    private final boolean halfPrecision;

    public Guard(Model model, String run, ClipPolicy policy, GuardSettings settings, Clock clock) {
        this.model = model;
        this.run = run;
        this.policy = policy;
        this.settings = settings;
        this.clock = clock;
        this.spikes = new SpikeDetector(settings.spikeZ(), settings.spikeWarmup());
        this.divergence = new DivergenceDetector(settings.divergenceFactor(), settings.divergencePatience());
        this.learningRate = new LearningRateScale(model);
        this.chance = ChanceLoss.of(model);
        this.progress = new LossProgress(chance.perLabel());
        this.lastGood = NetworkState.capture(model);
        this.halfPrecision = model.params().dataType() == DataType.HALF;
    }

    /**
     * Attaches a gradient probe and a guard with GradSentry's defaults to an initialised network. Add listeners of
     * your own with {@code addListeners}: DL4J's {@code setListeners} replaces every listener, the guard's too (the
     * guard then warns through {@link #attached()}, {@link #paused()} and the log).
     */
    public static Guard protect(MultiLayerNetwork network) {
        Guard guard = new Guard(network, "local", AdaptiveClip.defaults(), GuardSettings.defaults(), Clock.systemUTC());
        guard.probe = GradientProbe.attach(network).intercept(guard);
        return guard;
    }

    /** Attaches a gradient probe and a guard with GradSentry's defaults to an initialised graph; see above. */
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

    /**
     * Whether the guard's probe is still among the network's listeners. False after a {@code setListeners} call
     * that left it out: the network then trains unguarded. Logs a warning the first time it finds that.
     */
    public boolean attached() {
        if (probe == null) {
            return true; // attached by the caller, who knows where
        }
        Collection<TrainingListener> current = model instanceof MultiLayerNetwork net ? net.getListeners()
                : model instanceof ComputationGraph graph ? graph.getListeners() : List.of();
        boolean attached = current != null && current.contains(probe);
        if (!attached && !detachedWarned) {
            detachedWarned = true;
            LOG.warning("GradSentry's guard is no longer attached to the network: a setListeners call replaced its "
                    + "probe, so training runs unguarded. Use network.addListeners(...) for your own listeners, or "
                    + "call Guard.protect after setListeners.");
        }
        return attached;
    }

    public Guard addListener(InterventionListener listener) {
        listeners.add(listener);
        return this;
    }

    /** Replaces the clipping policy from the next step on; audited as a {@code policy-change}. */
    public void changePolicy(ClipPolicy next, String reason) {
        change(next, null, reason, null);
    }

    /**
     * Queues a change for the next step, where each queued change is applied and audited as one
     * {@code policy-change}, in the order they were queued. A null {@code policy} keeps the policy in force and
     * what it learned; a new one starts afresh, and the audit says what was reset. A null {@code settings} keeps
     * them.
     */
    public void change(ClipPolicy policy, GuardSettings settings, String reason, String detail) {
        changes.add(new PendingChange(policy, settings, reason, detail));
    }

    private record PendingChange(ClipPolicy policy, GuardSettings settings, String reason, String detail) {
    }

    /**
     * Lets training go on after the guard paused: forgets the failed recoveries and lost steps' share and audits a
     * {@code resume}. The network keeps the state the guard left it in.
     */
    public void resume(String reason, String detail) {
        recoveries.clear();
        paused = false;
        pauseReason = null;
        emit(Intervention.resume(at(policy), reason, detail));
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

    /** The policy in force once the queued changes are applied. */
    public ClipPolicy policy() {
        ClipPolicy latest = policy;
        for (PendingChange c : changes) {
            latest = c.policy() != null ? c.policy() : latest;
        }
        return latest;
    }

    /**
     * True once the guard gave up on the run; the network then holds the last good state and the next step throws
     * {@link GuardPausedException}. Also checks that the guard is still {@link #attached()}.
     */
    public boolean paused() {
        attached();
        return paused;
    }

    /** Why the guard paused ({@code recoveries-exhausted}, {@code skipped-share}, a request's reason), or null. */
    public String pauseReason() {
        return pauseReason;
    }

    /** The factor the guard holds the learning rates at: 1 when they are the user's own. */
    public double learningRateFactor() {
        return learningRate.factor();
    }

    /** Steps the guard skipped or rolled back so far. */
    public long lostSteps() {
        return lost.lost();
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
        for (PendingChange c; (c = changes.poll()) != null; ) {
            String detail = c.detail();
            if (c.policy() != null) {
                detail = join(detail, "reset what " + policy.name() + " had learned: " + learned(policy.saveState()));
                policy = c.policy();
            }
            if (c.settings() != null) {
                settings = c.settings();
            }
            emit(Intervention.policyChange(at(policy), c.reason(), detail));
        }
        GuardSettings s = settings;
        lastClipped = false;
        lastSpike = false;
        learningRateInForce = measured.learningRate();
        if (paused && s.mode() != GuardMode.OFF) {
            // Nothing of this step has reached the network yet: stopping here leaves it as the guard left it.
            throw new GuardPausedException("GradSentry's guard paused training at step " + step + " ("
                    + pauseReason + "); the network holds its last good state. Call guard.resume(...) to go on.");
        }
        if (applyRequests(edit, measured)) {
            return;
        }
        if (s.mode() == GuardMode.OFF) {
            lastDecision = new ClipDecision.None();
            return;
        }
        boolean act = s.mode() == GuardMode.AUTO;
        if (measured.nonFiniteData() > 0 && weightsFinite(measured)) {
            skipBatch(edit, measured.nonFiniteData(), act);
            return;
        }
        // In half precision DL4J's log-loss is NaN once a probability underflows (its clip at 1e-10 is zero there)
        // while the gradient, which needs no logarithm, stays finite: a healthy 8-32-32-4 MLP measured so from step
        // 131 on, more often as it converged, and rolled back for it. With finite weights and gradient such a loss is
        // unknown, not a sign of broken weights, and the rules that judge the loss pass over it.
        boolean lossUnknown = halfPrecision && !Double.isFinite(measured.loss()) && measured.nonFinite() == 0
                && Double.isFinite(measured.globalNorm()) && weightsFinite(measured);
        if (!Double.isFinite(measured.loss()) && !lossUnknown) {
            lostStep(NON_FINITE, act, measured.loss());
            rollback(edit, "non-finite-loss", measured.loss(), act, null);
            return;
        }
        if (measured.nonFinite() > 0 || !Double.isFinite(measured.globalNorm())) {
            lostStep(NON_FINITE, act, measured.globalNorm());
            skip(edit, "non-finite-gradient", measured.nonFinite(), null, act);
            return;
        }
        SpikeDetector.Result spike = spikes.observe(measured);
        lastSpike = spike.spike();
        boolean diverging = !lossUnknown && divergence.observe(measured.loss());
        if (diverging) {
            divergence.clearStreak();
            // The policy learns that what it let through wrecked the run, as it does for a non-finite loss.
            lostStep(DIVERGED, act, measured.loss());
            rollback(edit, "divergence", measured.loss(), act, null);
            return;
        }
        LossProgress.Verdict verdict = lossUnknown ? LossProgress.Verdict.NONE
                : progress.observe(chance.perLabel(measured.loss()));
        if (verdict != LossProgress.Verdict.NONE && step - lastActed <= INTERVENING_SPAN) {
            lostStep(DIVERGED, act, progress.lastWindow());
            rollback(edit, verdict == LossProgress.Verdict.CHANCE ? "chance-level" : "no-progress",
                    progress.lastWindow(), act, verdict == LossProgress.Verdict.CHANCE
                            ? String.format(Locale.ROOT, "mean loss %.4g%s over the last %d steps is at the chance "
                                    + "level ln(classes) = %.4g while the guard intervened", progress.lastWindow(),
                                    lossUnit(), LossProgress.WINDOW, progress.chanceLoss())
                            : String.format(Locale.ROOT, "mean loss %.4g%s over the last %d steps has stayed far "
                                    + "above the run's best window %.4g while the guard intervened",
                                    progress.lastWindow(), lossUnit(), LossProgress.WINDOW, progress.best()));
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
            skip(edit, "spike", spike.ratio(), spike.where(), act);
            return;
        }
        lastClipped = decision.binds(measured);
        if (lastClipped) {
            lastActed = step;
        }
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
        if (!Double.isNaN(pendingLearningRateFactor)) {
            learningRate.set(pendingLearningRateFactor);
            pendingLearningRateFactor = Double.NaN;
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
            if (candidate != null && progress.candidateGood()) {
                discard(lastGood, lastGoodShared);
                lastGood = candidate;
                lastGoodShared = candidateShared;
            } else {
                discard(candidate, candidateShared);
            }
            candidate = NetworkState.captureAfterUpdate(model, spare);
            candidateShared = false;
            spare = null;
            progress.markCandidate();
            healthySinceSnapshot = 0;
        }
        double factor = learningRate.factor();
        if (s.mode() == GuardMode.AUTO && s.lrRestoreAfter() > 0 && healthyStreak >= s.lrRestoreAfter()
                && factor < 1.0) {
            double restored = Math.min(1.0, factor / s.lrBackoffFactor());
            double before = done.learningRate();
            learningRate.set(restored);
            emit(Intervention.lrRestore(at(policy), healthyStreak, before, before / factor * restored));
            healthyStreak = 0;
        }
    }

    /** Tells the policy about a step that is skipped or rolled back, and audits what it changed. */
    private void lostStep(Signal signal, boolean act, double measured) {
        policy.onSkippedStep(signal);
        audit(policy.lastChange(), act, measured);
    }

    /** Skips this step, or rolls back instead when skips keep coming (see {@link LostSteps}). */
    private void skip(GradientEdit edit, String reason, double measured, String layer, boolean act) {
        if (lost.skipEscalates(step)) {
            rollback(edit, reason, measured, act, LostSteps.SKIPS_BEFORE_ROLLBACK + " steps within "
                    + LostSteps.SKIP_SPAN + " had to be skipped (the last for " + reason + ")");
            return;
        }
        emit(Intervention.skip(at(policy), reason, measured, layer, act));
        lastActed = step;
        if (act) {
            edit.skip();
            lost.skipped(step);
            pauseIfTooManyLost();
        }
    }

    /**
     * Skips a step whose batch held NaN or infinite values (features, labels or masks) while the weights were finite:
     * the batch, not the weights, made the loss or gradient non-finite, so the step is dropped and nothing else
     * changes. No rollback and no learning-rate backoff (both assume broken weights and cost the run its progress),
     * and the clipping policy is not told: what it let through did no harm. It still counts toward the share of lost
     * steps past which the guard pauses: a run whose data is that broken needs its user.
     */
    private void skipBatch(GradientEdit edit, long nonFiniteValues, boolean act) {
        emit(Intervention.skip(at(policy), "non-finite-data", nonFiniteValues, null, act));
        if (act) {
            edit.skipBatch();
            lost.skippedBatch();
            pauseIfTooManyLost();
        }
    }

    /**
     * Whether every layer with a gradient had finite parameters before this step, as the probe measured them for the
     * guard (a NaN or infinite weight makes the layer's parameter norm so).
     */
    private static boolean weightsFinite(StepStats measured) {
        for (LayerStats l : measured.layers()) {
            if (!l.params().isEmpty() && !Double.isFinite(l.paramNorm())) {
                return false;
            }
        }
        return true;
    }

    /** Keeps a snapshot no longer needed as the spare, unless a saved state may still hold it. */
    private void discard(NetworkState state, boolean shared) {
        if (state != null && !shared) {
            spare = state;
        }
    }

    private void rollback(GradientEdit edit, String reason, double measured, boolean act, String detail) {
        GuardSettings s = settings;
        emit(Intervention.rollback(at(policy), reason, measured, act, detail));
        lastActed = step;
        if (!act) {
            return;
        }
        edit.restore(lastGood);
        healthySinceSnapshot = 0;
        discard(candidate, candidateShared);
        candidate = null;
        spikes.reset();
        divergence.restart();
        progress.restart();
        lost.rolledBack();
        recoveries.addLast(step);
        while (!recoveries.isEmpty() && recoveries.peekFirst() <= step - s.recoveryWindow()) {
            recoveries.removeFirst();
        }
        backOffLearningRate(reason, measured, detail);
        if (recoveries.size() >= s.maxRecoveries()) {
            pause("recoveries-exhausted", recoveries.size(), recoveries.size() + " rollbacks within "
                    + s.recoveryWindow() + " steps");
        } else {
            pauseIfTooManyLost();
        }
    }

    private void backOffLearningRate(String reason, double measured, String detail) {
        double factor = Double.isNaN(pendingLearningRateFactor) ? learningRate.factor() : pendingLearningRateFactor;
        double before = learningRateInForce / learningRate.factor() * factor;
        pendingLearningRateFactor = factor * settings.lrBackoffFactor();
        emit(Intervention.lrBackoff(at(policy), reason, measured, before, before * settings.lrBackoffFactor(),
                detail == null ? String.format(Locale.ROOT, "every layer's learning rate (or schedule) at %.4g of "
                        + "its configured value", pendingLearningRateFactor) : detail));
    }

    /** How the audit qualifies the loss the verdicts judge: a sequence output's is per labelled time step. */
    private String lossUnit() {
        return chance.sequence() ? " per labelled time step" : "";
    }

    private void pauseIfTooManyLost() {
        GuardSettings s = settings;
        if (!paused && lost.overShare(step + 1, s.maxSkippedShare())) {
            // Whoever is paged needs to know whether to look at the data or at the model.
            String data = lost.badBatches() == 0 ? "" : String.format(Locale.ROOT, "; %d of them because the batch "
                    + "itself held NaN or infinite values (non-finite-data): check the training data",
                    lost.badBatches());
            pause("skipped-share", lost.lost(), String.format(Locale.ROOT, "%d of %d steps were skipped or rolled "
                    + "back, more than maxSkippedShare %.3g allows%s", lost.lost(), step + 1, s.maxSkippedShare(),
                    data));
        }
    }

    private void pause(String reason, double measured, String detail) {
        paused = true;
        pauseReason = reason + (detail == null ? "" : ": " + detail);
        emit(Intervention.pause(at(policy), reason, measured, detail));
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
                case LR_BACKOFF -> backOffLearningRate(r.reason(), Double.NaN, r.detail());
                case ENABLE_CLIPPING -> {
                    clippingRequested = true;
                    policy.onSkippedStep(new Signal(false, true, Double.NaN, null, false));
                    ClipChange change = policy.lastChange();
                    if (change != null) {
                        emit(Intervention.clipChange(at(policy), change, r.reason(), Double.NaN, true,
                                join(r.detail(), change.detail())));
                    } else {
                        emit(Intervention.notApplied(at(policy), CLIP_ENABLE, r.reason(), r.detail() + "; policy "
                                + policy.name() + " has no clipping state to switch on"));
                    }
                }
                case TIGHTEN_CLIPPING -> {
                    clippingRequested = true;
                    double before = thresholdScale;
                    thresholdScale = Math.max(MIN_THRESHOLD_SCALE, before * 0.5);
                    emit(Intervention.thresholdScale(at(policy), CLIP_TIGHTEN, r.reason(), before, thresholdScale,
                            r.detail() + "; thresholds scaled by " + thresholdScale));
                }
                case RELAX_CLIPPING -> {
                    double before = thresholdScale;
                    thresholdScale = Math.min(1.0, before * 2);
                    clippingRequested = thresholdScale < 1.0;
                    emit(Intervention.thresholdScale(at(policy), CLIP_RELAX, r.reason(), before, thresholdScale,
                            r.detail() + "; thresholds scaled by " + thresholdScale));
                }
                case PAUSE -> pause(r.reason(), Double.NaN, r.detail());
            }
        }
        return undone;
    }

    private ClipDecision scaled(ClipDecision d) {
        double s = thresholdScale;
        return s == 1.0 ? d : d.scaledBy(s);
    }

    private void audit(ClipChange change, boolean act, double measured) {
        if (change != null) {
            lastActed = step;
            emit(Intervention.clipChange(at(policy), change, change.reason(), measured, act, change.detail()));
        }
    }

    /** What a policy's saved history holds, for the audit of a change that discards it. */
    private static String learned(SavedState state) {
        if (state.isEmpty()) {
            return "nothing (it keeps no history)";
        }
        List<String> thresholds = state.suffixes("threshold.");
        return thresholds.isEmpty() ? "its history (" + String.join(", ", state.values().keySet()) + ")"
                : "the thresholds of " + String.join(", ", thresholds) + " and their history";
    }

    private static String join(String a, String b) {
        return a == null ? b : b == null ? a : a + "; " + b;
    }

    /** Now, this run and step, under policy {@code p}. */
    private Intervention.Context at(ClipPolicy p) {
        return new Intervention.Context(clock.instant(), run, step, p.name(), p.settings());
    }

    private void emit(Intervention i) {
        for (InterventionListener l : listeners) {
            l.onIntervention(i);
        }
    }

    /**
     * What the guard learned, for a checkpoint; call it between steps on the training thread. A policy change that
     * was requested but not yet taken over by a step is not part of it.
     */
    public GuardState saveState() {
        lastGoodShared = true;
        candidateShared = true;
        return new GuardState(step, healthySinceSnapshot, healthyStreak, learningRate.factor(),
                pendingLearningRateFactor, recoveries.stream().mapToLong(Long::longValue).toArray(), thresholdScale,
                clippingRequested, paused, lastGood, candidate, policy.name(), policy.settings(), policy.saveState(),
                spikes.saveState(), divergence.saveState(), progress.saveState().put("lastActed", lastActed),
                lost.saveState(), pauseReason);
    }

    /**
     * Takes over a saved state; the guard must have been built with a policy of the same name and settings, and its
     * network must already hold the parameters that go with the state and its learning rates as configured (the
     * guard sets its saved learning-rate factor on them).
     */
    public void restoreState(GuardState s) {
        if (!policy.name().equals(s.policy()) || !policy.settings().equals(s.policySettings())) {
            throw new IllegalArgumentException("saved guard state is for policy " + s.policy() + s.policySettings()
                    + ", this guard has " + policy.name() + policy.settings());
        }
        policy.restoreState(s.policyState());
        spikes.restoreState(s.spikes());
        divergence.restoreState(s.divergence());
        progress.restoreState(s.progress());
        lastActed = (long) s.progress().number("lastActed", 0);
        lost.restoreState(s.lostSteps());
        step = s.step();
        healthySinceSnapshot = s.healthySinceSnapshot();
        healthyStreak = s.healthyStreak();
        learningRate.set(s.learningRateFactor());
        pendingLearningRateFactor = s.pendingLearningRateFactor();
        recoveries.clear();
        for (long r : s.recoveries()) {
            recoveries.addLast(r);
        }
        thresholdScale = s.thresholdScale();
        clippingRequested = s.clippingRequested();
        paused = s.paused();
        pauseReason = s.pauseReason();
        lastGood = s.lastGood();
        candidate = s.candidate();
        lastGoodShared = true;
        candidateShared = true;
        spare = null;
    }

    /**
     * Per-layer thresholds of the current decision, for gauges; empty when not clipping per layer. For all layers at
     * once (global-norm clipping) the key is {@code global}.
     */
    public Map<String, Double> layerThresholds() {
        return lastDecision.thresholds();
    }
}
