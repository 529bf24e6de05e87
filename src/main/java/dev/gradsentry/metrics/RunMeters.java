package dev.gradsentry.metrics;

import dev.gradsentry.core.probe.StepObserver;
import dev.gradsentry.core.probe.StepStats;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.MeterBinder;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The meters of the current run as a whole: its identity, state, progress, step time and latest evaluation. The run
 * is described by names only ({@link Identity}, a state's name), so this binder knows nothing of how runs are made.
 *
 * <p>Labels are bounded: {@code state} and {@code metric} come from fixed sets. The run's identity appears only in
 * {@code gradsentry_run_info}, one series at a time.
 */
public final class RunMeters implements MeterBinder, StepObserver {

    public static final String STEP_TIME = "gradsentry.step";
    public static final String RUN_INFO = "gradsentry.run.info";
    public static final String RUN_STATE = "gradsentry.run.state";
    public static final String RUN_STEP = "gradsentry.run.step";
    public static final String RUN_EPOCH = "gradsentry.run.epoch";
    public static final String RUN_PLANNED_STEPS = "gradsentry.run.planned.steps";
    public static final String EVALUATION_ACCURACY = "gradsentry.evaluation.accuracy";
    public static final String EVALUATION_MSE = "gradsentry.evaluation.mse";

    /**
     * The held-out metrics a run reports, by the name a run gives them: one meter each, not one meter with a label,
     * because their units differ (a fraction against a squared error) and a dashboard sets units per series.
     */
    private enum Held {
        ACCURACY("accuracy", EVALUATION_ACCURACY,
                "Latest held-out accuracy: fraction (0..1) of held-out examples classified correctly; NaN until the "
                        + "first evaluation, or when the run reports mse instead"),
        MSE("mse", EVALUATION_MSE,
                "Latest held-out mean squared error (lower is better; in the squared units of the target); NaN until "
                        + "the first evaluation, or when the run reports accuracy instead");

        final String metric;
        final String meter;
        final String description;

        Held(String metric, String meter, String description) {
            this.metric = metric;
            this.meter = meter;
            this.description = description;
        }
    }

    /**
     * What {@code gradsentry_run_info} says of a run.
     *
     * @param cell the recurrent cell, {@code none} for a network without one
     */
    public record Identity(String run, String workload, String optimizer, String cell) {
    }

    private final Tags extraTags;
    private final List<String> states;
    private final String runningState;
    private volatile StepStats latest;
    private volatile String state;
    private volatile long plannedSteps = -1;
    private final Map<String, Double> evaluations = new ConcurrentHashMap<>();
    private Meter.Id runInfo;
    private MeterRegistry registry;
    private Timer stepTimer;

    /**
     * @param extraTags    added to every meter, e.g. a deployment label
     * @param states       every state a run can be in, one {@code gradsentry_run_state} series each
     * @param runningState the one of them a run is in when it starts or resumes
     */
    public RunMeters(Tags extraTags, List<String> states, String runningState) {
        this.extraTags = extraTags;
        this.states = List.copyOf(states);
        this.runningState = runningState;
    }

    @Override
    public void bindTo(MeterRegistry registry) {
        this.registry = registry;
        stepTimer = Timer.builder(STEP_TIME).tags(extraTags)
                .description("Wall time of one training step: forward, backward, probe and update")
                .serviceLevelObjectives(Duration.ofMillis(1), Duration.ofMillis(2), Duration.ofMillis(5),
                        Duration.ofMillis(10), Duration.ofMillis(20), Duration.ofMillis(50), Duration.ofMillis(100),
                        Duration.ofMillis(200), Duration.ofMillis(500), Duration.ofSeconds(1), Duration.ofSeconds(5))
                .register(registry);
        Gauge.builder(RUN_STEP, this, m -> m.latest == null ? Double.NaN : m.latest.iteration() + 1).tags(extraTags)
                .description("Steps completed by the current run").register(registry);
        Gauge.builder(RUN_EPOCH, this, m -> m.latest == null ? Double.NaN : m.latest.epoch()).tags(extraTags)
                .description("Epochs completed by the current run").register(registry);
        Gauge.builder(RUN_PLANNED_STEPS, this, m -> m.plannedSteps < 0 ? Double.NaN : m.plannedSteps)
                .tags(extraTags)
                .description("Steps the current run trains for in all; with gradsentry_run_step, its progress")
                .register(registry);
        for (String s : states) {
            Gauge.builder(RUN_STATE, this, m -> s.equals(m.state) ? 1 : 0)
                    .tags(extraTags).tag("state", s)
                    .description("1 for the state the current run is in, 0 for the others").register(registry);
        }
        for (Held h : Held.values()) {
            Gauge.builder(h.meter, this, m -> m.evaluations.getOrDefault(h.metric, Double.NaN))
                    .tags(extraTags).description(h.description).register(registry);
        }
    }

    /** A run starts, or one restored from disk continues in this process; it trains {@code plannedSteps} in all. */
    public synchronized void runStarted(Identity run, long plannedSteps) {
        latest = null;
        this.plannedSteps = plannedSteps;
        evaluations.clear();
        state = runningState;
        if (registry == null) {
            return;
        }
        if (runInfo != null) {
            registry.remove(runInfo);
        }
        runInfo = Gauge.builder(RUN_INFO, () -> 1).tags(extraTags)
                .tag("run", run.run())
                .tag("workload", run.workload())
                .tag("optimizer", run.optimizer())
                .tag("cell", run.cell())
                .description("Identity of the current run; always 1")
                .register(registry).getId();
    }

    @Override
    public void onStep(StepStats step) {
        latest = step;
    }

    public void stepTimed(long nanos) {
        if (stepTimer != null) {
            stepTimer.record(Duration.ofNanos(nanos));
        }
    }

    /** {@code metric}: {@code accuracy} or {@code mse}; another name has no meter and is not shown. */
    public void evaluated(String metric, double value) {
        evaluations.put(metric, value);
    }

    /** The run is now in {@code state}, one of the states this binder was built with. */
    public void state(String state) {
        this.state = state;
    }

    /** A paused run trains again. */
    public void resumed() {
        state = runningState;
    }
}
