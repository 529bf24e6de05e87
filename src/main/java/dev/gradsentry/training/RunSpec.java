package dev.gradsentry.training;

import dev.gradsentry.core.ExternalName;
import dev.gradsentry.core.InvalidSettingException;

/**
 * Everything that defines a training run, validated: the same spec and seed give the same network, the same data
 * order and, on the same machine, the same numbers.
 *
 * @param workload       what to train
 * @param cell           recurrent cell of {@code fashion-rnn} and {@code adding}; ignored by {@code fashion-mlp}
 * @param activation     activation of the hidden layers (for {@code lstm} it is the cell's output activation)
 * @param recurrentGain  recurrent weights are drawn from N(0, gain^2 / hidden): a gain above 1 makes a plain RNN
 *                       prone to exploding gradients
 * @param hidden         width of each hidden layer
 * @param optimizer      DL4J updater; for {@code user}, null keeps the model's own and a value replaces it in every
 *                       layer
 * @param learningRate   the updater's learning rate; for {@code user}, null keeps the model's own
 * @param batchSize      examples per step
 * @param steps          total training steps (iterations)
 * @param seed           seeds weight init and data order
 * @param evalInterval   steps between evaluations on held-out data; 0 evaluates only at the end
 * @param evalExamples   held-out examples per evaluation (at most)
 * @param sequenceLength T of the adding problem; ignored by the other workloads
 * @param model          {@code user} only: the model file, a path under the user directory
 *                       ({@code gradsentry.user-dir}): a DL4J configuration JSON or a ModelSerializer zip
 * @param data           {@code user} only: the data files and how to read them
 */
public record RunSpec(WorkloadKind workload, Cell cell, Act activation, double recurrentGain, int hidden,
                      Optimizer optimizer, Double learningRate, int batchSize, long steps, long seed,
                      int evalInterval, int evalExamples, int sequenceLength, String model, UserData data) {

    public enum Cell { LSTM, RNN }

    public enum Act { TANH, RELU, IDENTITY }

    public enum Optimizer { SGD, ADAM, NESTEROVS, RMSPROP }

    public static final long MAX_STEPS = 10_000_000L;

    public RunSpec {
        require(workload != null, "workload", "is required; valid: " + ExternalName.valid(WorkloadKind.class));
        require(cell != null, "cell", "is required; valid: " + ExternalName.valid(Cell.class));
        require(activation != null, "activation", "is required; valid: " + ExternalName.valid(Act.class));
        boolean user = workload == WorkloadKind.USER;
        require(optimizer != null || user, "optimizer", "is required; valid: " + ExternalName.valid(Optimizer.class));
        require(learningRate != null || user && optimizer == null, "learningRate",
                user ? "is required with optimizer: a new optimizer has no learning rate of the model's to keep"
                        : "is required");
        require(Double.isFinite(recurrentGain) && recurrentGain > 0 && recurrentGain <= 100, "recurrentGain",
                "must be a finite number in (0, 100]");
        require(hidden >= 1 && hidden <= 4096, "hidden", "must be between 1 and 4096");
        require(learningRate == null || Double.isFinite(learningRate) && learningRate > 0 && learningRate <= 1e4,
                "learningRate", "must be a finite number in (0, 10000]");
        require(batchSize >= 1 && batchSize <= 60_000, "batchSize", "must be between 1 and 60000");
        require(steps >= 1 && steps <= MAX_STEPS, "steps", "must be between 1 and " + MAX_STEPS);
        require(evalInterval >= 0, "evalInterval", "must be >= 0 (0 evaluates only at the end)");
        require(evalExamples >= 1 && evalExamples <= 10_000, "evalExamples", "must be between 1 and 10000");
        require(sequenceLength >= 2 && sequenceLength <= 10_000, "sequenceLength", "must be between 2 and 10000");
        require(!user || model != null && !model.isBlank(), "model", "is required for workload user: a path under "
                + "the user directory (gradsentry.user-dir) to a DL4J configuration JSON or a ModelSerializer zip");
        require(!user || data != null, "data", "is required for workload user: at least {\"train\": \"train.csv\", "
                + "\"task\": \"classification\"}");
        require(user || model == null, "model", "is only for workload user; leave workload out or set it to user");
        require(user || data == null, "data", "is only for workload user; leave workload out or set it to user");
    }

    /** A spec of a built-in workload, which has no model or data files. */
    public RunSpec(WorkloadKind workload, Cell cell, Act activation, double recurrentGain, int hidden,
                   Optimizer optimizer, double learningRate, int batchSize, long steps, long seed, int evalInterval,
                   int evalExamples, int sequenceLength) {
        this(workload, cell, activation, recurrentGain, hidden, optimizer, (Double) learningRate, batchSize, steps,
                seed, evalInterval, evalExamples, sequenceLength, null, null);
    }

    /** The default spec of a built-in workload: a configuration that trains healthily. */
    public static RunSpec defaults(WorkloadKind workload) {
        return switch (workload) {
            case FASHION_MLP -> new RunSpec(workload, Cell.LSTM, Act.RELU, 1.0, 64, Optimizer.SGD, 0.1, 128, 2000,
                    42, 250, 2000, 100);
            case FASHION_RNN -> new RunSpec(workload, Cell.LSTM, Act.TANH, 1.0, 64, Optimizer.ADAM, 0.005, 128, 500,
                    42, 100, 1000, 100);
            case ADDING -> new RunSpec(workload, Cell.LSTM, Act.TANH, 1.0, 32, Optimizer.ADAM, 0.005, 64, 1000,
                    42, 100, 1000, 100);
            case USER -> throw new InvalidSettingException("model", "model is required for workload user");
        };
    }

    /**
     * The default spec of a user's model on the user's data: the model brings its own layers and optimizer (cell,
     * activation, gain and width are not used), and the whole held-out set is evaluated.
     */
    public static RunSpec user(String model, UserData data) {
        return new RunSpec(WorkloadKind.USER, Cell.LSTM, Act.TANH, 1.0, 1, null, null, 32, 1000, 42, 100, 10_000,
                100, model, data);
    }

    /**
     * A configuration of the workload under which training without clipping explodes within a few steps for the
     * default seed (measured, see docs/workloads.md): the guard's test cases and benchmarks start from these.
     */
    public static RunSpec exploding(WorkloadKind workload) {
        RunSpec d = defaults(workload);
        return switch (workload) {
            // Plain SGD at lr 10: global norm above 1e3 by step 2, then dead ReLUs at chance accuracy.
            case FASHION_MLP -> d.withSgd(d.cell(), d.activation(), d.recurrentGain(), 10);
            // ReLU RNN with recurrent gain 1.5: NaN loss by step 4.
            case FASHION_RNN -> d.withSgd(Cell.RNN, Act.RELU, 1.5, 0.1);
            // tanh RNN with recurrent gain 2 over T=100: trains briefly, NaN loss by step 28.
            case ADDING -> d.withSgd(Cell.RNN, Act.TANH, 2.0, 0.1);
            case USER -> throw new IllegalArgumentException("a user's model has no exploding configuration");
        };
    }

    /** This spec trained with plain SGD and another cell, activation, recurrent gain and learning rate. */
    private RunSpec withSgd(Cell cell, Act activation, double recurrentGain, double learningRate) {
        return new RunSpec(workload, cell, activation, recurrentGain, hidden, Optimizer.SGD, learningRate, batchSize,
                steps, seed, evalInterval, evalExamples, sequenceLength);
    }

    private static void require(boolean ok, String field, String message) {
        if (!ok) {
            throw new InvalidSettingException(field, field + " " + message);
        }
    }
}
