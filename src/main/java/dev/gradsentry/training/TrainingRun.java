package dev.gradsentry.training;

import dev.gradsentry.core.ExternalName;
import dev.gradsentry.core.clip.ClipPolicies;
import dev.gradsentry.core.clip.ClipPolicy;
import dev.gradsentry.core.intervene.ExternalRequest;
import dev.gradsentry.core.intervene.Guard;
import dev.gradsentry.core.intervene.GuardState;
import dev.gradsentry.core.probe.GradientProbe;
import dev.gradsentry.core.probe.StepStats;
import org.jboss.logging.Logger;

import java.time.Clock;
import java.time.Duration;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.function.Supplier;

/**
 * One training run: builds the workload, attaches the gradient probe and trains step by step on the thread that
 * calls {@link #run()} until the spec's step count is reached or {@link #requestStop()} is called.
 *
 * <p>With a data directory the run keeps checkpoints in {@code runs/<id>/}: at its start, every
 * {@link RunSettings#checkpointEvery()} steps, after every step that produced an audit event that applied something
 * (before the event is appended to the audit log; events that applied nothing, in observe mode, wait for the next
 * regular checkpoint), and at its end. A checkpoint that cannot be written pauses the run with the reason in
 * its status; the network and guard stay as they are in memory, and resuming retries the write. A run found on disk
 * by {@link #recovered} continues from its newest readable checkpoint.
 */
public final class TrainingRun implements Runnable {

    private static final Logger LOG = Logger.getLogger(TrainingRun.class);

    private final String id;
    private final RunSpec spec;
    private final Workloads workloads;
    private final RunTelemetry telemetry;
    private final RunSettings settings;
    private final Supplier<GuardPolicy> guardPolicy;
    private final AuditLog audit;
    private final CheckpointStore checkpoints;
    /** Every step's statistics on disk; null without a data directory. */
    private final StepHistory history;
    private volatile Guard guard;
    /** Training state that a resumed run continues from; touched only by the training thread. */
    private GradientProbe probe;
    private Progress progress;
    private long step;
    private long batchesDrawn;
    private Evaluation evaluation;
    /** The checkpoint a run found on disk continues from; null once restored, and for runs of this process. */
    private CheckpointStore.Loaded restoreFrom;
    private String resumeDetail;
    private final long startNanos = System.nanoTime();
    private final Clock clock;
    private final Instant createdAt;

    /** Requests from outside and the deliveries that carried them, handed to the guard between two steps. */
    private final Queue<Delivery> inbox = new ConcurrentLinkedQueue<>();
    /** Deliveries handed to the guard, oldest first, at most {@link #REMEMBERED}; saved with every checkpoint. */
    private final Set<String> delivered = new LinkedHashSet<>();

    private volatile boolean stopRequested;
    /** Set with {@link #stopRequested}: the run ends {@code interrupted}, resumable, instead of {@code stopped}. */
    private volatile boolean suspendRequested;
    private volatile RunStatus status;
    private volatile TrainingSetup setup;
    /** The workload built before the run started; handed over once, at its start. */
    private TrainingSetup prepared;

    public TrainingRun(String id, RunSpec spec, Workloads workloads, RunTelemetry telemetry, RunSettings settings,
                       Supplier<GuardPolicy> guardPolicy, Clock clock) {
        this(id, spec, null, workloads, telemetry, settings, guardPolicy, clock);
    }

    /**
     * @param prepared the workload already built and checked (a user's model and data are, before the run is
     *                 accepted), or null to build it on the training thread
     */
    public TrainingRun(String id, RunSpec spec, TrainingSetup prepared, Workloads workloads, RunTelemetry telemetry,
                       RunSettings settings, Supplier<GuardPolicy> guardPolicy, Clock clock) {
        this.id = id;
        this.prepared = prepared;
        this.spec = spec;
        this.workloads = workloads;
        this.telemetry = telemetry;
        this.settings = settings;
        this.guardPolicy = guardPolicy;
        Path dir = settings.dataDir() == null ? null : runDirectory(settings.dataDir(), id);
        this.audit = new AuditLog(dir == null ? null : dir.resolve(AUDIT_FILE));
        this.checkpoints = dir == null ? null : new CheckpointStore(dir, settings.checkpointKeep());
        this.history = dir == null ? null : new StepHistory(dir, settings.stepsKeepBytes());
        this.clock = clock;
        this.createdAt = clock.instant();
        this.status = new RunStatus(id, spec, RunState.RUNNING, 0, 0, Double.NaN, Double.NaN, null, 0, createdAt,
                null, null);
    }

    private TrainingRun(CheckpointStore.Loaded loaded, Workloads workloads, RunTelemetry telemetry,
                        RunSettings settings, Supplier<GuardPolicy> guardPolicy, Clock clock) {
        Checkpoint c = loaded.checkpoint();
        this.id = c.runId();
        this.spec = c.spec();
        this.prepared = null;
        this.workloads = workloads;
        this.telemetry = telemetry;
        this.settings = settings;
        this.guardPolicy = guardPolicy;
        Path dir = runDirectory(settings.dataDir(), id);
        this.audit = new AuditLog(dir.resolve(AUDIT_FILE));
        this.checkpoints = new CheckpointStore(dir, settings.checkpointKeep());
        this.history = new StepHistory(dir, settings.stepsKeepBytes());
        this.clock = clock;
        this.createdAt = c.createdAt();
        this.step = c.step();
        this.batchesDrawn = c.batchesDrawn();
        this.evaluation = c.evaluation();
        this.delivered.addAll(c.deliveries());
        RunState state = c.state() == RunState.RUNNING ? RunState.INTERRUPTED : c.state();
        // Only a run that can be resumed keeps the checkpoint's bytes (the whole model) in memory.
        this.restoreFrom = state.resumable() ? loaded : null;
        this.status = new RunStatus(id, spec, state, c.step(), c.epoch(), Double.NaN, Double.NaN, c.evaluation(), 0,
                createdAt, c.savedAt(), c.error());
    }

    static final String AUDIT_FILE = "interventions.jsonl";
    /** Deliveries a run remembers; Alertmanager re-sends a group for hours, not for ten thousand groups. */
    static final int REMEMBERED = 10_000;

    /** A request from outside, and the key of the delivery that carried it (null when none). */
    private record Delivery(ExternalRequest request, String key) {
    }

    static Path runDirectory(Path dataDir, String id) {
        return dataDir.resolve("runs").resolve(id);
    }

    /**
     * A run of an earlier process, from its newest readable checkpoint: {@code interrupted} when the process died
     * while it trained, otherwise the state it ended in. Its audit log is read and made whole at once; what was wrong
     * with the files is returned in {@link Recovered#problems()}.
     */
    public static Recovered recovered(CheckpointStore.Loaded loaded, Workloads workloads, RunTelemetry telemetry,
                                      RunSettings settings, Supplier<GuardPolicy> guardPolicy, Clock clock)
            throws IOException {
        TrainingRun run = new TrainingRun(loaded, workloads, telemetry, settings, guardPolicy, clock);
        Checkpoint c = loaded.checkpoint();
        List<String> problems = new ArrayList<>(loaded.problems());
        problems.addAll(run.audit.reconcile(c.audit(), c.pendingAudit()));
        problems.addAll(run.history.recover(c.step()));
        run.resumeDetail = "continued from checkpoint " + loaded.file().getFileName() + " at step " + c.step()
                + (problems.isEmpty() ? "" : "; " + String.join("; ", problems));
        return new Recovered(run, problems);
    }

    /** A run found on disk and what was wrong with its files (empty when nothing). */
    public record Recovered(TrainingRun run, List<String> problems) {
    }

    public String id() {
        return id;
    }

    public RunStatus status() {
        return status;
    }

    /** Asks the run to stop for good after the step in progress; returns at once. */
    public void requestStop() {
        stopRequested = true;
    }

    /**
     * Asks the run to end {@code interrupted} after the step in progress, with a checkpoint of that step, so that it
     * can be resumed from there (by this process or the next); returns at once. A request to stop wins.
     */
    public void requestSuspend() {
        if (!stopRequested) {
            suspendRequested = true;
            stopRequested = true;
        }
    }

    /** The run's audit log of interventions. */
    public AuditLog interventions() {
        return audit;
    }

    /** The run's per-step history; null when the service keeps no files. */
    public StepHistory history() {
        return history;
    }

    /** The guard protecting the run, or null before training started. */
    public Guard guard() {
        return guard;
    }

    /**
     * Queues a request for the guard, which applies it at the next step; false when the run has no guard yet (its
     * workload is still loading). {@code delivery} is remembered with the run, in its checkpoints, from the step the
     * guard is handed the request: a delivery seen again, also after a crash and resume, is a duplicate.
     */
    public boolean request(ExternalRequest request, String delivery) {
        if (guard == null) {
            return false;
        }
        inbox.add(new Delivery(request, delivery));
        return true;
    }

    /** Whether a request with this delivery key was accepted by this run (handed to its guard, or about to be). */
    public boolean delivered(String key) {
        synchronized (delivered) {
            if (delivered.contains(key)) {
                return true;
            }
        }
        return inbox.stream().anyMatch(d -> key.equals(d.key()));
    }

    /** Hands the queued requests to the guard; on the training thread, between steps, so a checkpoint has both. */
    private void handOver(Guard g) {
        for (Delivery d; (d = inbox.peek()) != null; ) {
            if (d.key() != null) {
                // Remembered before it leaves the inbox, so that delivered() never misses it in between.
                synchronized (delivered) {
                    delivered.add(d.key());
                    if (delivered.size() > REMEMBERED) {
                        delivered.remove(delivered.iterator().next());
                    }
                }
            }
            inbox.poll();
            g.request(d.request());
        }
    }

    /**
     * Hands a changed guard policy to this run's guard; it takes effect at the next step, audited with what changed.
     * The clipping policy is replaced (starting afresh) only when its name or settings differ from the one the guard
     * has; a change of the guard's own settings keeps what the policy learned.
     */
    public void applyGuardPolicy(GuardPolicy before, GuardPolicy after, String reason) {
        Guard g = guard;
        if (g == null) {
            return;
        }
        ClipPolicy inForce = g.policy();
        boolean replace = !after.samePolicy(inForce.name(), inForce.settings());
        g.change(replace ? after.newPolicy() : null, after.guard(), reason, String.join(", ", after.differences(before))
                + (replace ? "" : "; the clipping policy and what it learned are kept"));
    }

    /** The network being trained, or null before the workload is built. */
    public Network network() {
        TrainingSetup s = setup;
        return s == null ? null : s.network();
    }

    @Override
    public void run() {
        boolean resuming = probe != null || restoreFrom != null;
        if (probe != null) {
            telemetry.runResumed(id);
        } else {
            // A run restored from disk is new to this process's metrics.
            telemetry.runStarted(id, spec);
        }
        RunState end = RunState.FAILED;
        String error = null;
        String diskError = null;
        try {
            if (restoreFrom != null) {
                restore();
            } else if (!resuming) {
                attach(guardPolicy.get().newPolicy());
            }
            TrainingSetup s = setup;
            Network net = s.network();
            Guard g = guard;
            if (resuming) {
                LOG.infof("run %s resumed at step %d", id, step);
            }
            // The start of a run, and a resume (whose audit event is pending), are checkpointed before any step.
            diskError = checkpoint(net, RunState.RUNNING, null);
            int batchesPerEpoch = s.train().batchesPerEpoch();
            while (diskError == null && step < spec.steps() && !stopRequested && !g.paused()) {
                handOver(g);
                long index = step;
                var batch = s.train().next();
                batchesDrawn++;
                long t0 = System.nanoTime();
                net.fit(batch);
                long elapsed = System.nanoTime() - t0;
                telemetry.stepTimed(elapsed);
                step++;
                if (step % batchesPerEpoch == 0) {
                    net.incrementEpochCount();
                }
                if (spec.evalInterval() > 0 && step % spec.evalInterval() == 0 && step < spec.steps()) {
                    evaluation = evaluate(s, step);
                }
                publish(net, probe.lastStep(), RunState.RUNNING, null);
                record(index, probe.lastStep(), g);
                progress.maybeLog(step, probe.lastStep(), evaluation);
                if (audit.hasPendingApplied() || step % settings.checkpointEvery() == 0) {
                    diskError = checkpoint(net, RunState.RUNNING, null);
                }
            }
            boolean ended = !stopRequested || step >= spec.steps();
            // A suspended run is evaluated when it ends for real: a shutdown has a deadline (podman stop: 10 s).
            if (step > 0 && (ended || !suspendRequested) && (evaluation == null || evaluation.step() != step)) {
                evaluation = evaluate(s, step);
                if (history != null) {
                    history.offerEvaluation(step - 1, evaluation.value());
                }
            }
            end = g.paused() || diskError != null ? RunState.PAUSED
                    : ended ? RunState.FINISHED : suspendRequested ? RunState.INTERRUPTED : RunState.STOPPED;
            if (diskError == null) {
                diskError = checkpoint(net, end, null);
                if (diskError != null) {
                    end = RunState.PAUSED;
                }
            }
            publish(net, probe.lastStep(), end, diskError);
            LOG.infof("run %s %s after %d steps: loss %.4g, %s", id, ExternalName.of(end), step,
                    probe.lastStep() == null ? Double.NaN : probe.lastStep().loss(), evaluation == null ? "not evaluated"
                            : evaluation.metric() + " " + String.format("%.4f", evaluation.value()));
        } catch (DataUnavailableException e) {
            error = e.getMessage();
            LOG.errorf("run %s failed: %s", id, error);
        } catch (RuntimeException | Error e) {
            error = e.getClass().getSimpleName() + ": " + e.getMessage();
            LOG.errorf(e, "run %s failed at step %d", id, step);
        } finally {
            if (error != null) {
                RunStatus s = status;
                status = new RunStatus(id, spec, RunState.FAILED, s.step(), s.epoch(), s.loss(), s.globalNorm(),
                        s.evaluation(), s.stepsPerSecond(), s.startedAt(), clock.instant(), error);
                end = RunState.FAILED;
            }
            telemetry.runEnded(id, end);
            if (history != null) {
                history.close();
            }
            if (end != RunState.PAUSED) {
                audit.close();
            }
        }
    }

    /**
     * Writes a checkpoint, then appends the audit events it carries to the audit log; returns null, or the reason
     * it could not (the run then pauses with everything still in memory).
     */
    private String checkpoint(Network net, RunState state, String error) {
        if (checkpoints == null) {
            return null;
        }
        Guard g = guard;
        // The history reaches the disk first: after a crash it then holds every step up to the checkpoint.
        if (history != null && !history.sync(StepHistory.SYNC_WAIT)) {
            LOG.warnf("run %s step %d: the step history did not reach the disk within %s; a crash now would leave "
                    + "it short of the checkpoint", id, step, StepHistory.SYNC_WAIT);
        }
        try {
            Checkpoint c = new Checkpoint(id, spec, state, step, net.epochCount(), batchesDrawn, evaluation, error,
                    createdAt, clock.instant(), audit.mark(), audit.pending(), g.saveState(), deliveries());
            checkpoints.write(c, net, setup.normalizer());
            audit.flush();
            return null;
        } catch (IOException | RuntimeException e) {
            String reason = "cannot write to " + checkpoints.dir() + " (" + describe(e) + "); the run is paused with "
                    + "its state in memory: fix the disk, then POST /api/runs/" + id + "/resume";
            LOG.errorf("run %s step %d: %s", id, step, reason);
            return reason;
        }
    }

    /** Hands the step to the history; the guard's decision of the step is still its last one. */
    private void record(long index, StepStats stats, Guard g) {
        if (history == null || stats == null) {
            return;
        }
        Evaluation e = evaluation;
        double heldOut = e != null && e.step() == index + 1 ? e.value() : Double.NaN;
        history.offer(index, stats, g.lastDecision().thresholds(), g.lastClipped(), heldOut);
    }

    private List<String> deliveries() {
        synchronized (delivered) {
            return List.copyOf(delivered);
        }
    }

    private static String describe(Exception e) {
        String m = e.getMessage();
        return e.getClass().getSimpleName() + (m == null ? "" : ": " + m);
    }

    /** Rebuilds the workload and puts the network, the guard and the data position back as the checkpoint has them. */
    private void restore() throws DataUnavailableException {
        CheckpointStore.Loaded loaded = restoreFrom;
        Checkpoint c = loaded.checkpoint();
        // The normalizer is the one fitted when the run started, not one fitted again on files that may have changed.
        TrainingSetup s;
        try {
            s = workloads.prepare(spec, CheckpointStore.normalizer(loaded));
        } catch (IOException e) {
            throw new IllegalStateException("checkpoint " + loaded.file() + ": its normalizer is unreadable: "
                    + e.getMessage(), e);
        }
        GuardState gs;
        try {
            gs = CheckpointStore.restore(loaded, s.network());
        } catch (IOException e) {
            throw new IllegalStateException("checkpoint " + loaded.file() + " does not fit the run: " + e.getMessage(),
                    e);
        }
        s.train().skip(c.batchesDrawn());
        ClipPolicy policy = gs == null ? guardPolicy.get().newPolicy()
                : ClipPolicies.create(gs.policy(), gs.policySettings());
        setupFrom(s, policy);
        if (gs != null) {
            guard.restoreState(gs);
        }
        restoreFrom = null;
        // RUNNING: the process died while training; INTERRUPTED: it was suspended (SIGTERM, DELETE ?suspend=true).
        guard.resume(c.state() == RunState.RUNNING || c.state() == RunState.INTERRUPTED ? "interrupted" : "api",
                resumeDetail);
    }

    /** Builds the workload and attaches the probe and the guard; once per run. */
    private void attach(ClipPolicy policy) {
        TrainingSetup s = prepared != null ? prepared : workloads.prepare(spec);
        prepared = null;
        setupFrom(s, policy);
    }

    private void setupFrom(TrainingSetup s, ClipPolicy clipPolicy) {
        Network net = s.network();
        GradientProbe p = net.attachProbe().updateRatioEvery(settings.updateRatioEvery());
        GuardPolicy policy = guardPolicy.get();
        Guard g = new Guard(net.model(), id, clipPolicy, policy.guard(), clock);
        g.addListener(audit);
        p.intercept(g);
        telemetry.attach(p, g);
        if (history != null) {
            history.layers(p.layerNames());
        }
        setup = s;
        guard = g;
        probe = p;
        progress = new Progress(restoreFrom == null ? startNanos : System.nanoTime(), step);
        LOG.infof("run %s %s: %s, %d steps, layers %s, guard %s with %s", id, restoreFrom == null ? "started"
                : "restored", describe(spec), spec.steps(), p.layerNames(), ExternalName.of(policy.guard().mode()),
                clipPolicy.name() + clipPolicy.settings());
    }

    /**
     * Makes a paused run trainable again, from the state the guard left it in; the caller then runs it on the
     * training thread. Throws {@link IllegalStateException} unless the run is paused.
     */
    public void prepareResume(String reason, String detail) {
        RunStatus s = status;
        if (!s.state().resumable() || (guard == null && restoreFrom == null)) {
            throw new IllegalStateException("run " + id + " is " + ExternalName.of(s.state())
                    + "; only a paused or interrupted run can be resumed");
        }
        stopRequested = false;
        suspendRequested = false;
        if (restoreFrom == null) {
            guard.resume(reason, detail);
        } else if (detail != null) {
            resumeDetail = detail + "; " + resumeDetail;
        }
        status = new RunStatus(id, spec, RunState.RUNNING, s.step(), s.epoch(), s.loss(), s.globalNorm(),
                s.evaluation(), s.stepsPerSecond(), s.startedAt(), null, null);
    }

    private Evaluation evaluate(TrainingSetup s, long step) {
        Evaluation e = s.evaluate(step);
        telemetry.evaluated(e);
        return e;
    }

    private void publish(Network net, StepStats last, RunState state, String error) {
        status = new RunStatus(id, spec, state, step, net.epochCount(),
                last == null ? Double.NaN : last.loss(), last == null ? Double.NaN : last.globalNorm(), evaluation,
                progress.rate(step, System.nanoTime()), createdAt, state.terminal() ? clock.instant() : null, error);
    }

    static String describe(RunSpec spec) {
        String model = switch (spec.workload()) {
            case FASHION_MLP -> "fashion-mlp 784-" + spec.hidden() + "-" + spec.hidden() + "-10 "
                    + ExternalName.of(spec.activation());
            case FASHION_RNN -> "fashion-rnn " + cellName(spec);
            case ADDING -> "adding T=" + spec.sequenceLength() + " " + cellName(spec);
            case USER -> "user model " + spec.model() + " on " + spec.data().train();
        };
        String optimizer = spec.optimizer() == null ? "the model's optimizer" : ExternalName.of(spec.optimizer());
        return model + ", " + optimizer + (spec.learningRate() == null ? "" : " lr " + spec.learningRate())
                + ", batch " + spec.batchSize() + ", seed " + spec.seed();
    }

    private static String cellName(RunSpec spec) {
        return ExternalName.of(spec.cell()) + "(" + spec.hidden() + ", " + ExternalName.of(spec.activation())
                + ", recurrent gain " + spec.recurrentGain() + ")";
    }

    /** Logs a progress line once per interval; the first comes one interval after the start. */
    private final class Progress {
        private final long startNanos;
        private final long startStep;
        private long lastLogNanos;

        /** Counts from {@code startStep}: a restored run's speed is that of this process. */
        Progress(long startNanos, long startStep) {
            this.startNanos = startNanos;
            this.startStep = startStep;
            this.lastLogNanos = startNanos;
        }

        double rate(long step, long now) {
            double seconds = (now - startNanos) / 1e9;
            return seconds > 0 ? (step - startStep) / seconds : 0;
        }

        void maybeLog(long step, StepStats last, Evaluation evaluation) {
            long now = System.nanoTime();
            if (now - lastLogNanos < settings.progressInterval().toNanos()) {
                return;
            }
            lastLogNanos = now;
            double rate = rate(step, now);
            long etaSeconds = Math.round((spec.steps() - step) / Math.max(rate, 1e-9));
            LOG.infof("run %s step %d/%d (%.0f%%) epoch %d loss %.4g |g| %.4g %.1f steps/s ETA %s%s", id, step,
                    spec.steps(), 100.0 * step / spec.steps(), last.epoch(), last.loss(), last.globalNorm(), rate,
                    Duration.ofSeconds(etaSeconds).toString().substring(2).toLowerCase(),
                    evaluation == null ? "" : String.format(" %s %.4f", evaluation.metric(), evaluation.value()));
        }
    }

}
