package dev.gradsentry.training;

import dev.gradsentry.core.intervene.Guard;
import dev.gradsentry.core.probe.GradientProbe;

/** What a run reports while it trains; implemented by the metrics. */
public interface RunTelemetry {

    /**
     * The run's probe and guard, once per attach (a start, a restore, a resume with a new network): from here on the
     * telemetry observes the probe's steps and the guard's interventions and reads the guard's thresholds.
     *
     * @param guard the guard the probe hands each step to; null for a probe without one
     */
    void attach(GradientProbe probe, Guard guard);

    void runStarted(String runId, RunSpec spec);

    /** Wall time of one whole training step (forward, backward, probe, update). */
    void stepTimed(long nanos);

    void evaluated(Evaluation evaluation);

    void runEnded(String runId, RunState state);

    /** A paused run trains again. */
    void runResumed(String runId);

    RunTelemetry NONE = new RunTelemetry() {
        @Override
        public void attach(GradientProbe probe, Guard guard) {
        }

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
    };
}
