package dev.gradsentry.training;

import dev.gradsentry.core.intervene.Guard;
import dev.gradsentry.core.probe.GradientProbe;
import dev.gradsentry.core.probe.StepStats;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.jboss.logging.Logger;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.function.Supplier;

/**
 * One training run: builds the workload, attaches the gradient probe and trains step by step on the thread that
 * calls {@link #run()} until the spec's step count is reached or {@link #requestStop()} is called.
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
    private volatile Guard guard;
    /** Training state that a resumed run continues from; touched only by the training thread. */
    private GradientProbe probe;
    private Progress progress;
    private long step;
    private Evaluation evaluation;
    private final long startNanos = System.nanoTime();
    private final Clock clock;
    private final Instant createdAt;

    private volatile boolean stopRequested;
    private volatile RunStatus status;
    private volatile TrainingSetup setup;

    public TrainingRun(String id, RunSpec spec, Workloads workloads, RunTelemetry telemetry, RunSettings settings,
                       Supplier<GuardPolicy> guardPolicy, Clock clock) {
        this.id = id;
        this.spec = spec;
        this.workloads = workloads;
        this.telemetry = telemetry;
        this.settings = settings;
        this.guardPolicy = guardPolicy;
        this.audit = new AuditLog(settings.dataDir() == null ? null
                : settings.dataDir().resolve("runs").resolve(id).resolve("interventions.jsonl"));
        this.clock = clock;
        this.createdAt = clock.instant();
        this.status = new RunStatus(id, spec, RunState.RUNNING, 0, 0, Double.NaN, Double.NaN, null, 0, createdAt,
                null, null);
    }

    public String id() {
        return id;
    }

    public RunStatus status() {
        return status;
    }

    /** Asks the run to stop after the step in progress; returns at once. */
    public void requestStop() {
        stopRequested = true;
    }

    /** The run's audit log of interventions. */
    public AuditLog interventions() {
        return audit;
    }

    /** The guard protecting the run, or null before training started. */
    public Guard guard() {
        return guard;
    }

    /** Hands a changed guard policy to this run's guard; it takes effect at the next step. */
    public void applyGuardPolicy(GuardPolicy policy, String reason) {
        Guard g = guard;
        if (g != null) {
            g.changeSettings(policy.guard());
            g.changePolicy(policy.newPolicy(), reason);
        }
    }

    /** The network being trained, or null before the workload is built; for tests and checkpoints. */
    public MultiLayerNetwork network() {
        TrainingSetup s = setup;
        return s == null ? null : s.network();
    }

    @Override
    public void run() {
        boolean resuming = probe != null;
        if (resuming) {
            telemetry.runResumed(id);
        } else {
            telemetry.runStarted(id, spec);
        }
        RunState end = RunState.FAILED;
        String error = null;
        try {
            if (!resuming) {
                attach();
            }
            TrainingSetup s = setup;
            MultiLayerNetwork net = s.network();
            Guard g = guard;
            if (resuming) {
                LOG.infof("run %s resumed at step %d", id, step);
            }
            int batchesPerEpoch = s.train().batchesPerEpoch();
            while (step < spec.steps() && !stopRequested && !g.paused()) {
                var batch = s.train().next();
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
                publish(net, probe.lastStep(), RunState.RUNNING);
                progress.maybeLog(step, probe.lastStep(), evaluation);
            }
            if (step > 0 && (evaluation == null || evaluation.step() != step)) {
                evaluation = evaluate(s, step);
            }
            end = g.paused() ? RunState.PAUSED
                    : stopRequested && step < spec.steps() ? RunState.STOPPED : RunState.FINISHED;
            publish(net, probe.lastStep(), end);
            LOG.infof("run %s %s after %d steps: loss %.4g, %s", id, end.name().toLowerCase(), step,
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
            if (end != RunState.PAUSED) {
                audit.close();
            }
        }
    }

    /** Builds the workload and attaches the probe and the guard; once per run. */
    private void attach() {
        TrainingSetup s = workloads.prepare(spec);
        MultiLayerNetwork net = s.network();
        GradientProbe p = GradientProbe.attach(net).updateRatioEvery(settings.updateRatioEvery());
        GuardPolicy policy = guardPolicy.get();
        Guard g = new Guard(net, id, policy.newPolicy(), policy.guard(), clock);
        g.addListener(audit);
        g.addListener(telemetry);
        p.intercept(g);
        telemetry.guardAttached(g);
        p.addObserver(telemetry);
        setup = s;
        guard = g;
        probe = p;
        progress = new Progress(startNanos);
        LOG.infof("run %s started: %s, %d steps, layers %s, guard %s with %s", id, describe(spec), spec.steps(),
                p.layerNames(), policy.guard().mode().name().toLowerCase(), policy.policy());
    }

    /**
     * Makes a paused run trainable again, from the state the guard left it in; the caller then runs it on the
     * training thread. Throws {@link IllegalStateException} unless the run is paused.
     */
    public void prepareResume(String reason, String detail) {
        RunStatus s = status;
        if (s.state() != RunState.PAUSED || guard == null) {
            throw new IllegalStateException("run " + id + " is " + s.state().name().toLowerCase()
                    + "; only a paused run can be resumed");
        }
        stopRequested = false;
        guard.resume(reason, detail);
        status = new RunStatus(id, spec, RunState.RUNNING, s.step(), s.epoch(), s.loss(), s.globalNorm(),
                s.evaluation(), s.stepsPerSecond(), s.startedAt(), null, null);
    }

    private Evaluation evaluate(TrainingSetup s, long step) {
        Evaluation e = s.evaluate(step);
        telemetry.evaluated(e);
        return e;
    }

    private void publish(MultiLayerNetwork net, StepStats last, RunState state) {
        double seconds = (System.nanoTime() - startNanos) / 1e9;
        status = new RunStatus(id, spec, state, step, net.getEpochCount(),
                last == null ? Double.NaN : last.loss(), last == null ? Double.NaN : last.globalNorm(), evaluation,
                seconds > 0 ? step / seconds : 0, createdAt, state.terminal() ? clock.instant() : null, null);
    }

    static String describe(RunSpec spec) {
        String model = switch (spec.workload()) {
            case FASHION_MLP -> "fashion-mlp 784-" + spec.hidden() + "-" + spec.hidden() + "-10 "
                    + spec.activation().name().toLowerCase();
            case FASHION_RNN -> "fashion-rnn " + cellName(spec);
            case ADDING -> "adding T=" + spec.sequenceLength() + " " + cellName(spec);
        };
        return model + ", " + spec.optimizer().name().toLowerCase() + " lr " + spec.learningRate() + ", batch "
                + spec.batchSize() + ", seed " + spec.seed();
    }

    private static String cellName(RunSpec spec) {
        return spec.cell().name().toLowerCase() + "(" + spec.hidden() + ", " + spec.activation().name().toLowerCase()
                + ", recurrent gain " + spec.recurrentGain() + ")";
    }

    /** Logs a progress line once per interval; the first comes one interval after the start. */
    private final class Progress {
        private final long startNanos;
        private long lastLogNanos;

        Progress(long startNanos) {
            this.startNanos = startNanos;
            this.lastLogNanos = startNanos;
        }

        void maybeLog(long step, StepStats last, Evaluation evaluation) {
            long now = System.nanoTime();
            if (now - lastLogNanos < settings.progressInterval().toNanos()) {
                return;
            }
            lastLogNanos = now;
            double seconds = (now - startNanos) / 1e9;
            double rate = step / Math.max(seconds, 1e-9);
            long etaSeconds = Math.round((spec.steps() - step) / Math.max(rate, 1e-9));
            LOG.infof("run %s step %d/%d (%.0f%%) epoch %d loss %.4g |g| %.4g %.1f steps/s ETA %s%s", id, step,
                    spec.steps(), 100.0 * step / spec.steps(), last.epoch(), last.loss(), last.globalNorm(), rate,
                    Duration.ofSeconds(etaSeconds).toString().substring(2).toLowerCase(),
                    evaluation == null ? "" : String.format(" %s %.4f", evaluation.metric(), evaluation.value()));
        }
    }

}
