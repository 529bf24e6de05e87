package dev.gradsentry.training;

/**
 * Where a run is in its life. Terminal states never change again, except that a paused run (its network on the last
 * good state the guard kept) can be resumed.
 */
public enum RunState {
    RUNNING, FINISHED, FAILED, STOPPED, PAUSED;

    public boolean terminal() {
        return this != RUNNING;
    }
}
