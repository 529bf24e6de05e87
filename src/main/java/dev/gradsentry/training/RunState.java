package dev.gradsentry.training;

/**
 * Where a run is in its life. Terminal states never change again, except that a paused run (its network on the last
 * good state the guard kept, or training halted because a checkpoint could not be written) and an interrupted run
 * (found on disk after the service died while it trained) can be resumed.
 */
public enum RunState {
    RUNNING, FINISHED, FAILED, STOPPED, PAUSED, INTERRUPTED;

    /** Whether {@code POST /api/runs/{id}/resume} can continue a run in this state. */
    public boolean resumable() {
        return this == PAUSED || this == INTERRUPTED;
    }

    public boolean terminal() {
        return this != RUNNING;
    }
}
