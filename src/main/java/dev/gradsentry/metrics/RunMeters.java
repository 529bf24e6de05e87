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
    public static final String EVALUATION = "gradsentry.evaluation.metric";
    /** The evaluation metrics a run reports. */
    public static final List<String> EVALUATION_METRICS = List.of("accuracy", "mse");

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
        for (String s : states) {
            Gauge.builder(RUN_STATE, this, m -> s.equals(m.state) ? 1 : 0)
                    .tags(extraTags).tag("state", s)
                    .description("1 for the state the current run is in, 0 for the others").register(registry);
        }
        for (String metric : EVALUATION_METRICS) {
            Gauge.builder(EVALUATION, this, m -> m.evaluations.getOrDefault(metric, Double.NaN))
                    .tags(extraTags).tag("metric", metric)
                    .description("Latest held-out evaluation: accuracy (0..1, higher is better) or mse "
                            + "(lower is better)")
                    .register(registry);
        }
    }

    public synchronized void runStarted(Identity run) {
        latest = null;
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
