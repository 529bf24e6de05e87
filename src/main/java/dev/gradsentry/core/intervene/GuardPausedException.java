package dev.gradsentry.core.intervene;

/**
 * Thrown out of DL4J's {@code fit} at the first step after the guard paused, before that step changes anything: a
 * paused guard stops {@code fit(iterator, epochs)} instead of letting it train on. The network holds the state the
 * guard left it in (its last good state); {@link Guard#resume} lets training go on.
 */
public final class GuardPausedException extends IllegalStateException {

    public GuardPausedException(String message) {
        super(message);
    }
}
