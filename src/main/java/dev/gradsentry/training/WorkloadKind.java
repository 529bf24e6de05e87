package dev.gradsentry.training;

import dev.gradsentry.core.ExternalName;

/** The workloads a run can train; each is named outside Java as {@link ExternalName} spells it. */
public enum WorkloadKind {
    /** Small dense classifier on Fashion-MNIST: 784 inputs, two narrow ReLU layers, softmax over 10 classes. */
    FASHION_MLP,
    /** Fashion-MNIST read row by row: 28 steps of 28 pixels into an LSTM or a plain RNN, classified at the last step. */
    FASHION_RNN,
    /** The adding problem (Hochreiter 1997): sum the two marked values of a long random sequence; MSE loss. */
    ADDING,
    /**
     * The user's own model (a DL4J configuration JSON or a ModelSerializer zip) on the user's own CSV data, both in
     * the user directory; see {@link UserData}.
     */
    USER;

    /** The workload's name in REST bodies, configuration and metric labels: {@code fashion-mlp}. */
    public String id() {
        return ExternalName.of(this);
    }

    /** Whether the workload has a recurrent cell that {@link RunSpec#cell()} picks. */
    public boolean recurrent() {
        return this == FASHION_RNN || this == ADDING;
    }
}
