package dev.gradsentry.api;

import dev.gradsentry.core.ExternalName;
import dev.gradsentry.core.intervene.Guard;
import dev.gradsentry.core.probe.GradientProbe;
import dev.gradsentry.metrics.GradSentryMeters;
import dev.gradsentry.metrics.GradientMeters;
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
 * Every GradSentry meter of a training run: the meters a guarded network has anywhere ({@link GradSentryMeters}, as
 * in a user's own code) and those of the run the service drives ({@link RunMeters}), with the run's enums turned into
 * the names its labels carry. The binders live in {@code metrics} and know nothing of {@code training}; this is where
 * the two meet.
 */
public final class TrainingMetrics implements MeterBinder, RunTelemetry {

    private final GradSentryMeters network;
    private final RunMeters run;

    /** With the default norm window, as the service starts without {@code gradsentry.norm-window}. */
    public TrainingMetrics() {
        this(Tags.empty(), Duration.ofSeconds(GradientMeters.DEFAULT_WINDOW_SECONDS));
    }

    /**
     * @param extraTags  added to every meter, e.g. a deployment label
     * @param normWindow the time the window max and min of the gradient norms cover ({@code gradsentry.norm-window})
     */
    public TrainingMetrics(Tags extraTags, Duration normWindow) {
        network = new GradSentryMeters(extraTags, normWindow);
        run = new RunMeters(extraTags, Arrays.stream(RunState.values()).map(ExternalName::of).toList(),
                ExternalName.of(RunState.RUNNING));
    }

    @Override
    public void bindTo(MeterRegistry registry) {
        network.bindTo(registry);
        run.bindTo(registry);
    }

    @Override
    public void attach(GradientProbe probe, Guard guard) {
        network.attach(probe, guard);
        probe.addObserver(run);
    }

    @Override
    public void runStarted(String runId, RunSpec spec) {
        network.runStarted();
        // A user's model without an optimizer override trains with its own: "model".
        run.runStarted(new RunMeters.Identity(runId, spec.workload().id(),
                spec.optimizer() == null ? "model" : ExternalName.of(spec.optimizer()),
                spec.workload().recurrent() ? ExternalName.of(spec.cell()) : "none"), spec.steps());
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
