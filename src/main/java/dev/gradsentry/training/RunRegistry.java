package dev.gradsentry.training;

import dev.gradsentry.core.ExternalName;
import dev.gradsentry.core.intervene.ExternalRequest;

import org.jboss.logging.Logger;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.ExecutionException;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * Holds the runs of this process: at most one active at a time, trained on one dedicated thread, plus a bounded
 * history of ended runs.
 */
public final class RunRegistry implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(RunRegistry.class);

    /**
     * How long a shutdown waits for the active run's step in progress and final checkpoint: within podman's and
     * Docker's 10 s between SIGTERM and SIGKILL, with room for the JVM to exit.
     */
    public static final Duration SHUTDOWN_WAIT = Duration.ofSeconds(8);

    private static final DateTimeFormatter ID_TIME = DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")
            .withZone(ZoneOffset.UTC);

    private final Workloads workloads;
    private final RunTelemetry telemetry;
    private final RunSettings settings;
    private final int historySize;
    private final Clock clock;
    private final ExecutorService trainer = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "gradsentry-trainer");
        t.setDaemon(true);
        return t;
    });
    private final Map<String, TrainingRun> runs = new LinkedHashMap<>();
    private TrainingRun active;
    private volatile GuardPolicy guardPolicy;
    private Future<?> activeFuture;

    public RunRegistry(Workloads workloads, RunTelemetry telemetry, RunSettings settings, int historySize,
                       GuardPolicy guardPolicy, Clock clock) {
        this.guardPolicy = guardPolicy;
        this.workloads = workloads;
        this.telemetry = telemetry;
        this.settings = settings;
        this.historySize = historySize;
        this.clock = clock;
    }

    /**
     * Starts a run, or throws {@link RunConflictException} while another one is still running. A user's model and
     * data are read and checked first, outside the lock: a mismatch is an
     * {@link dev.gradsentry.core.InvalidSettingException} and nothing starts.
     */
    public RunStatus start(RunSpec spec) {
        if (Workloads.preparedBeforeStart(spec)) {
            refuseWhileActive();
        }
        return start(spec, prepare(spec));
    }

    /**
     * The workload of {@code spec} built and checked now when it is a user's ({@link Workloads#preparedBeforeStart}),
     * else null: what {@link #start(RunSpec, TrainingSetup)} takes.
     */
    public TrainingSetup prepare(RunSpec spec) {
        return Workloads.preparedBeforeStart(spec) ? workloads.prepare(spec) : null;
    }

    private synchronized void refuseWhileActive() {
        if (active != null && !active.status().state().terminal()) {
            throw new RunConflictException(active.id());
        }
    }

    /** Steps in one pass over the spec's training data. */
    public int batchesPerEpoch(RunSpec spec) {
        return workloads.batchesPerEpoch(spec);
    }

    /** Starts a run of a workload {@link #prepare} built, or throws {@link RunConflictException}. */
    public synchronized RunStatus start(RunSpec spec, TrainingSetup prepared) {
        refuseWhileActive();
        String id = ID_TIME.format(clock.instant()) + "-"
                + Integer.toHexString(ThreadLocalRandom.current().nextInt(0x1000, 0x10000));
        TrainingRun run = new TrainingRun(id, spec, prepared, workloads, telemetry, settings, this::guardPolicy,
                clock);
        runs.put(id, run);
        trimHistory();
        active = run;
        activeFuture = trainer.submit(run);
        return run.status();
    }

    private void trimHistory() {
        var it = runs.entrySet().iterator();
        while (runs.size() > historySize && it.hasNext()) {
            RunState state = it.next().getValue().status().state();
            // A run that can still be resumed stays listed, or nobody could find it to resume it.
            if (state.terminal() && !state.resumable()) {
                it.remove();
            }
        }
    }

    /**
     * Lists the runs earlier processes left in the data directory, oldest first, from each run's newest readable
     * checkpoint: a run that was training when its process died is {@code interrupted}. Damaged files are logged
     * and skipped; a run without any readable checkpoint is logged and left out.
     */
    public synchronized List<TrainingRun.Recovered> recover() {
        List<TrainingRun.Recovered> found = new ArrayList<>();
        Path root = settings.dataDir() == null ? null : settings.dataDir().resolve("runs");
        if (root == null || !Files.isDirectory(root)) {
            return found;
        }
        List<Path> dirs;
        try (Stream<Path> list = Files.list(root)) {
            dirs = list.filter(Files::isDirectory).sorted().toList();
        } catch (IOException e) {
            LOG.errorf("cannot list earlier runs in %s: %s", root, e.getMessage());
            return found;
        }
        for (Path dir : dirs) {
            String id = dir.getFileName().toString();
            if (runs.containsKey(id)) {
                continue;
            }
            try {
                CheckpointStore.Result newest = new CheckpointStore(dir, settings.checkpointKeep()).newest();
                if (newest.loaded() == null) {
                    if (!newest.problems().isEmpty()) {
                        LOG.errorf("run %s has no readable checkpoint: %s", id, String.join("; ", newest.problems()));
                    }
                    continue;
                }
                TrainingRun.Recovered r = TrainingRun.recovered(newest.loaded(), workloads, telemetry, settings,
                        this::guardPolicy, clock);
                for (String problem : r.problems()) {
                    LOG.warnf("run %s: %s", id, problem);
                }
                LOG.infof("found run %s on disk: %s at step %d", id,
                        ExternalName.of(r.run().status().state()), r.run().status().step());
                runs.put(id, r.run());
                found.add(r);
            } catch (IOException | RuntimeException e) {
                LOG.errorf("cannot read run %s from %s: %s", id, dir, e.getMessage());
            }
        }
        trimHistory();
        return found;
    }

    public GuardPolicy guardPolicy() {
        return guardPolicy;
    }

    /**
     * Changes the guard policy of new runs and of the active run's guard (from its next step) as {@code edit} makes it
     * from the policy in force: read, edit and apply happen under one lock, so concurrent changes are applied one
     * after the other, each on top of the one before, and audited in that order. An edit that gives the policy in
     * force back changes nothing; an edit that throws leaves everything as it was.
     */
    public synchronized <E extends Exception> PolicyChange changeGuardPolicy(PolicyEdit<E> edit, String reason)
            throws E {
        GuardPolicy before = guardPolicy;
        GuardPolicy after = edit.apply(before);
        if (after.equals(before)) {
            return new PolicyChange(before, before);
        }
        guardPolicy = after;
        if (active != null && !active.status().state().terminal()) {
            active.applyGuardPolicy(before, after, reason);
        }
        return new PolicyChange(before, after);
    }

    /** A change of the guard policy made from the policy in force. */
    @FunctionalInterface
    public interface PolicyEdit<E extends Exception> {
        GuardPolicy apply(GuardPolicy current) throws E;
    }

    /** The policy before and after a change; the same when nothing changed. */
    public record PolicyChange(GuardPolicy before, GuardPolicy after) {
        public boolean changed() {
            return !before.equals(after);
        }
    }

    /**
     * Resumes a paused or interrupted run on the training thread; empty for an unknown id,
     * {@link RunConflictException} while another run trains, {@link IllegalStateException} when the run is in
     * another state.
     */
    public synchronized Optional<RunStatus> resume(String id, String reason, String detail) {
        TrainingRun run = runs.get(id);
        if (run == null) {
            return Optional.empty();
        }
        if (active != null && active != run && !active.status().state().terminal()) {
            throw new RunConflictException(active.id());
        }
        run.prepareResume(reason, detail);
        active = run;
        activeFuture = trainer.submit(run);
        return Optional.of(run.status());
    }

    /** The current run's id when it is paused. */
    public synchronized Optional<String> pausedCurrent() {
        return active != null && active.status().state() == RunState.PAUSED ? Optional.of(active.id())
                : Optional.empty();
    }

    /**
     * Hands a request to the running run's guard; false when no run is training or its guard is not built yet.
     * {@code delivery} (null for none) is remembered with the run, see {@link TrainingRun#request}.
     */
    public synchronized boolean requestOnActive(ExternalRequest request, String delivery) {
        if (active == null || active.status().state().terminal()) {
            return false;
        }
        return active.request(request, delivery);
    }

    /**
     * Hands a request to run {@code id}'s guard if that run is the one training here; false otherwise (another run
     * trains, none does, or its guard is not built yet). {@code delivery} as in {@link #requestOnActive}.
     */
    public synchronized boolean requestOn(String id, ExternalRequest request, String delivery) {
        return active != null && active.id().equals(id) && requestOnActive(request, delivery);
    }

    /** The id of the run training now. */
    public synchronized Optional<String> training() {
        return active != null && !active.status().state().terminal() ? Optional.of(active.id()) : Optional.empty();
    }

    /** Whether the active run (or the one last active) accepted a request of this delivery. */
    public synchronized boolean delivered(String delivery) {
        return active != null && active.delivered(delivery);
    }

    public synchronized Optional<RunStatus> current() {
        return Optional.ofNullable(active).map(TrainingRun::status);
    }

    public synchronized Optional<RunStatus> find(String id) {
        return Optional.ofNullable(runs.get(id)).map(TrainingRun::status);
    }

    /** Runs newest first. */
    public synchronized List<RunStatus> all() {
        List<RunStatus> list = new ArrayList<>();
        runs.values().forEach(r -> list.add(0, r.status()));
        return list;
    }

    /** The run object itself: its audit log, its network. */
    public synchronized Optional<TrainingRun> run(String id) {
        return Optional.ofNullable(runs.get(id));
    }

    /**
     * Stops a run for good and waits up to {@code wait} for its step in progress to finish; returns its status then
     * (still {@code running} if the step outlasted the wait), or empty for an unknown id.
     */
    public Optional<RunStatus> stop(String id, Duration wait) {
        return end(id, wait, TrainingRun::requestStop);
    }

    /**
     * Ends a run {@code interrupted} after its step in progress, with a checkpoint of that step, so that it can be
     * resumed; waits like {@link #stop}.
     */
    public Optional<RunStatus> suspend(String id, Duration wait) {
        return end(id, wait, TrainingRun::requestSuspend);
    }

    private Optional<RunStatus> end(String id, Duration wait, Consumer<TrainingRun> request) {
        TrainingRun run;
        Future<?> future;
        synchronized (this) {
            run = runs.get(id);
            if (run == null) {
                return Optional.empty();
            }
            future = run == active ? activeFuture : null;
        }
        request.accept(run);
        if (future != null) {
            try {
                future.get(wait.toMillis(), TimeUnit.MILLISECONDS);
            } catch (TimeoutException | ExecutionException e) {
                // the status says where the run is; a failure is recorded in it
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        return Optional.of(run.status());
    }

    /**
     * Suspends the active run (the service is shutting down: SIGTERM from podman stop, a rollout, a node drain), so
     * that it is {@code interrupted} with a checkpoint of its last step and the next process can resume it, then
     * ends the training thread. Waits up to {@link #SHUTDOWN_WAIT} for the step in progress.
     */
    @Override
    public void close() {
        TrainingRun r;
        synchronized (this) {
            r = active;
        }
        if (r != null) {
            suspend(r.id(), SHUTDOWN_WAIT);
        }
        trainer.shutdownNow();
    }

    /** Another run is active; only one trains at a time. */
    public static final class RunConflictException extends RuntimeException {
        public RunConflictException(String activeId) {
            super("run " + activeId + " is still running; stop it first with DELETE /api/runs/" + activeId);
        }
    }
}
