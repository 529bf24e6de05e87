package dev.gradsentry.training;

import dev.gradsentry.core.intervene.Guard;
import dev.gradsentry.core.intervene.InterventionListener;
import dev.gradsentry.core.probe.StepObserver;

/** What a run reports while it trains, beyond each step's gradient statistics; implemented by the metrics. */
public interface RunTelemetry extends StepObserver, InterventionListener {

    /** The guard now protecting the run; its thresholds and clipping state are read from it. */
    void guardAttached(Guard guard);

    void runStarted(String runId, RunSpec spec);

    /** Wall time of one whole training step (forward, backward, probe, update). */
    void stepTimed(long nanos);

    void evaluated(Evaluation evaluation);

    void runEnded(String runId, RunState state);

    /** A paused run trains again. */
    void runResumed(String runId);

    RunTelemetry NONE = new RunTelemetry() {
        @Override
        public void runStarted(String runId, RunSpec spec) {
        }

        @Override
        public void stepTimed(long nanos) {
        }

        @Override
        public void evaluated(Evaluation evaluation) {
        }

        @Override
        public void runEnded(String runId, RunState state) {
        }

        @Override
        public void runResumed(String runId) {
        }

        @Override
        public void onStep(dev.gradsentry.core.probe.StepStats step) {
        }

        @Override
        public void guardAttached(Guard guard) {
        }

        @Override
        public void onIntervention(dev.gradsentry.core.intervene.Intervention intervention) {
        }
    };
}
