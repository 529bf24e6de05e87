package dev.gradsentry.api;

import dev.gradsentry.config.GradSentryConfig;
import dev.gradsentry.core.ExternalName;
import dev.gradsentry.core.intervene.Guard;
import dev.gradsentry.core.intervene.Intervention;
import dev.gradsentry.core.probe.StepStats;
import dev.gradsentry.metrics.GradientMeters;
import dev.gradsentry.metrics.GuardMeters;
import dev.gradsentry.metrics.RunMeters;
import dev.gradsentry.training.Evaluation;
import dev.gradsentry.training.RunSpec;
import dev.gradsentry.training.RunState;
import dev.gradsentry.training.RunTelemetry;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.binder.MeterBinder;

import java.time.Duration;
import java.util.Arrays;

/**
 * Every GradSentry meter of a training run: what a run reports ({@link RunTelemetry}) goes to the binders of the
 * gradient, the run and the guard, with the run's enums turned into the names its labels carry. The binders live in
 * {@code metrics} and know nothing of {@code training}; this is where the two meet.
 */
public final class TrainingMetrics implements MeterBinder, RunTelemetry {

    private final GradientMeters gradient;
    private final RunMeters run;
    private final GuardMeters guard;

    /** With the default norm window, as the service starts without {@code gradsentry.norm-window}. */
    public TrainingMetrics() {
        this(Tags.empty(), Duration.ofSeconds(GradSentryConfig.DEFAULT_NORM_WINDOW_SECONDS));
    }

    /**
     * @param extraTags  added to every meter, e.g. a deployment label
     * @param normWindow the time the window max and min of the gradient norms cover ({@code gradsentry.norm-window})
     */
    public TrainingMetrics(Tags extraTags, Duration normWindow) {
        gradient = new GradientMeters(extraTags, normWindow);
        run = new RunMeters(extraTags, Arrays.stream(RunState.values()).map(ExternalName::of).toList(),
                ExternalName.of(RunState.RUNNING));
        guard = new GuardMeters(extraTags);
    }

    @Override
    public void bindTo(MeterRegistry registry) {
        guard.bindTo(registry);
        gradient.bindTo(registry);
        run.bindTo(registry);
    }

    @Override
    public void runStarted(String runId, RunSpec spec) {
        gradient.runStarted();
        // A user's model without an optimizer override trains with its own: "model".
        run.runStarted(new RunMeters.Identity(runId, spec.workload().id(),
                spec.optimizer() == null ? "model" : ExternalName.of(spec.optimizer()),
                spec.workload().recurrent() ? ExternalName.of(spec.cell()) : "none"), spec.steps());
    }

    @Override
    public void onStep(StepStats step) {
        gradient.onStep(step);
        run.onStep(step);
        guard.onStep(step);
    }

    @Override
    public void guardAttached(Guard g) {
        guard.guardAttached(g);
    }

    @Override
    public void onIntervention(Intervention intervention) {
        guard.onIntervention(intervention);
    }

    @Override
    public void stepTimed(long nanos) {
        run.stepTimed(nanos);
    }

    @Override
    public void evaluated(Evaluation evaluation) {
        run.evaluated(evaluation.metric(), evaluation.value());
    }

    @Override
    public void runEnded(String runId, RunState end) {
        run.state(ExternalName.of(end));
    }

    @Override
    public void runResumed(String runId) {
        run.resumed();
    }
}
