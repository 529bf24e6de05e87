package dev.gradsentry.api;

import dev.gradsentry.training.RunSpec;
import dev.gradsentry.training.WorkloadKind;
import dev.gradsentry.training.Workloads;

import java.util.Locale;

/**
 * Body of {@code POST /api/runs}. Only {@code workload} is required; every other field defaults to the workload's
 * healthy configuration. Give {@code steps} or {@code epochs}, not both.
 */
public record RunRequest(String workload, String cell, String activation, Double recurrentGain, Integer hidden,
                         String optimizer, Double learningRate, Integer batchSize, Long steps, Integer epochs,
                         Long seed, Integer evalInterval, Integer evalExamples, Integer sequenceLength) {

    public RunSpec toSpec() {
        if (workload == null) {
            throw new ProblemMappers.BadRequestProblem("workload",
                    "workload is required; valid: " + WorkloadKind.validIds());
        }
        WorkloadKind kind;
        try {
            kind = WorkloadKind.fromId(workload);
        } catch (IllegalArgumentException e) {
            throw new ProblemMappers.BadRequestProblem("workload", e.getMessage());
        }
        RunSpec d = RunSpec.defaults(kind);
        if (steps != null && epochs != null) {
            throw new ProblemMappers.BadRequestProblem("epochs", "give steps or epochs, not both");
        }
        if (epochs != null && (epochs < 1 || epochs > 10_000)) {
            throw new ProblemMappers.BadRequestProblem("epochs", "epochs must be between 1 and 10000");
        }
        int batch = batchSize != null ? batchSize : d.batchSize();
        RunSpec spec = new RunSpec(kind,
                parse("cell", cell, RunSpec.Cell.class, d.cell()),
                parse("activation", activation, RunSpec.Act.class, d.activation()),
                recurrentGain != null ? recurrentGain : d.recurrentGain(),
                hidden != null ? hidden : d.hidden(),
                parse("optimizer", optimizer, RunSpec.Optimizer.class, d.optimizer()),
                learningRate != null ? learningRate : d.learningRate(),
                batch,
                steps != null ? steps : d.steps(),
                seed != null ? seed : d.seed(),
                evalInterval != null ? evalInterval : d.evalInterval(),
                evalExamples != null ? evalExamples : d.evalExamples(),
                sequenceLength != null ? sequenceLength : d.sequenceLength());
        if (epochs != null) {
            long perEpoch = Workloads.batchesPerEpoch(spec);
            spec = new RunSpec(spec.workload(), spec.cell(), spec.activation(), spec.recurrentGain(), spec.hidden(),
                    spec.optimizer(), spec.learningRate(), spec.batchSize(), epochs * perEpoch, spec.seed(),
                    spec.evalInterval(), spec.evalExamples(), spec.sequenceLength());
        }
        return spec;
    }

    static <E extends Enum<E>> E parse(String field, String value, Class<E> type, E fallback) {
        if (value == null) {
            return fallback;
        }
        try {
            return Enum.valueOf(type, value.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new ProblemMappers.BadRequestProblem(field, field + " '" + value + "' is not valid; valid: "
                    + RunSpec.names(type.getEnumConstants()));
        }
    }
}
