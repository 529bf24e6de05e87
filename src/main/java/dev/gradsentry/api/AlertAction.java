package dev.gradsentry.api;

import dev.gradsentry.core.intervene.ExternalRequest;

import java.util.Optional;

/**
 * What an alert asks of GradSentry in its {@code action} label, spelled as {@code ExternalName} spells enums
 * ({@code tighten-clipping}); the alert rules in deploy/prometheus use these names.
 */
enum AlertAction {
    ENABLE_CLIPPING(ExternalRequest.Action.ENABLE_CLIPPING),
    TIGHTEN_CLIPPING(ExternalRequest.Action.TIGHTEN_CLIPPING),
    RELAX_CLIPPING(ExternalRequest.Action.RELAX_CLIPPING),
    ROLLBACK(ExternalRequest.Action.ROLLBACK),
    LR_BACKOFF(ExternalRequest.Action.LR_BACKOFF),
    PAUSE(ExternalRequest.Action.PAUSE),
    /** Train the paused run on: the run registry resumes it, no guard is asked. */
    RESUME(null);

    private final ExternalRequest.Action request;

    AlertAction(ExternalRequest.Action request) {
        this.request = request;
    }

    /** What the running run's guard is asked to do; empty for {@link #RESUME}. */
    Optional<ExternalRequest.Action> request() {
        return Optional.ofNullable(request);
    }
}
