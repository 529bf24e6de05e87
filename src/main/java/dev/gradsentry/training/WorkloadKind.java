package dev.gradsentry.training;

import java.util.Arrays;
import java.util.stream.Collectors;

/** The workloads a run can train, by their external names. */
public enum WorkloadKind {
    /** Small dense classifier on Fashion-MNIST: 784 inputs, two narrow ReLU layers, softmax over 10 classes. */
    FASHION_MLP("fashion-mlp"),
    /** Fashion-MNIST read row by row: 28 steps of 28 pixels into an LSTM or a plain RNN, classified at the last step. */
    FASHION_RNN("fashion-rnn"),
    /** The adding problem (Hochreiter 1997): sum the two marked values of a long random sequence; MSE loss. */
    ADDING("adding");

    private final String id;

    WorkloadKind(String id) {
        this.id = id;
    }

    public String id() {
        return id;
    }

    public boolean recurrent() {
        return this != FASHION_MLP;
    }

    public static WorkloadKind fromId(String id) {
        for (WorkloadKind k : values()) {
            if (k.id.equals(id)) {
                return k;
            }
        }
        throw new IllegalArgumentException("unknown workload '" + id + "'; valid: " + validIds());
    }

    public static String validIds() {
        return Arrays.stream(values()).map(WorkloadKind::id).collect(Collectors.joining(", "));
    }

}
