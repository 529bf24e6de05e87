package dev.gradsentry.training;

/** A workload's data cannot be read; the message says what is missing and how to fix it, in one line. */
public class DataUnavailableException extends RuntimeException {
    public DataUnavailableException(String message) {
        super(message);
    }
}
