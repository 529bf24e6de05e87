package dev.gradsentry.training;

/** Where a run is in its life. Terminal states never change again; a paused run's network holds its last good state. */
public enum RunState {
    RUNNING, FINISHED, FAILED, STOPPED, PAUSED;

    public boolean terminal() {
        return this != RUNNING;
    }
}
