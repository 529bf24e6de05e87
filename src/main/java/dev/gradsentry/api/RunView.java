package dev.gradsentry.api;

import dev.gradsentry.training.Evaluation;
import dev.gradsentry.training.RunSpec;
import dev.gradsentry.training.RunStatus;

import java.time.Instant;
import java.util.Locale;

/** How a run is shown over REST; {@code spec} can be posted back to start the same run again. */
public record RunView(String id, String state, SpecView spec, long step, long totalSteps, int epoch, double loss,
                      double globalNorm, Evaluation evaluation, double stepsPerSecond, Instant startedAt,
                      Instant endedAt, String error) {

    /** The spec with the names the REST body uses. */
    public record SpecView(String workload, String cell, String activation, double recurrentGain, int hidden,
                           String optimizer, double learningRate, int batchSize, long steps, long seed,
                           int evalInterval, int evalExamples, int sequenceLength) {
        static SpecView of(RunSpec s) {
            return new SpecView(s.workload().id(), lower(s.cell()), lower(s.activation()), s.recurrentGain(),
                    s.hidden(), lower(s.optimizer()), s.learningRate(), s.batchSize(), s.steps(), s.seed(),
                    s.evalInterval(), s.evalExamples(), s.sequenceLength());
        }
    }

    public static RunView of(RunStatus s) {
        return new RunView(s.id(), lower(s.state()), SpecView.of(s.spec()), s.step(), s.spec().steps(), s.epoch(),
                s.loss(), s.globalNorm(), s.evaluation(), s.stepsPerSecond(), s.startedAt(), s.endedAt(), s.error());
    }

    private static String lower(Enum<?> e) {
        return e.name().toLowerCase(Locale.ROOT);
    }
}
