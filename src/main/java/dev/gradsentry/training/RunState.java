package dev.gradsentry.training;

/** Where a run is in its life. Terminal states never change again. */
public enum RunState {
    RUNNING, FINISHED, FAILED, STOPPED;

    public boolean terminal() {
        return this != RUNNING;
    }
}
