package dev.gradsentry.core.intervene;

/**
 * An action asked of the guard from outside the training loop (an alert, a person), applied at the next step in
 * every mode: it is an explicit instruction, not an automatic decision.
 *
 * @param action what to do
 * @param reason a short, bounded reason for the metrics, e.g. {@code alert}
 * @param detail free text for the audit log, e.g. the alert name and fingerprint
 */
public record ExternalRequest(Action action, String reason, String detail) {

    public enum Action {
        /** Tell the clipping policy that trouble was seen; {@code adaptive} switches clipping on. */
        ENABLE_CLIPPING,
        /** Halve every clipping threshold (down to 1% of the policy's own). */
        TIGHTEN_CLIPPING,
        /** Undo one tightening. */
        RELAX_CLIPPING,
        /** Restore the last good state and back the learning rate off. */
        ROLLBACK,
        /** Multiply the learning rate by the backoff factor. */
        LR_BACKOFF,
        /** Stop training; the run ends paused with its current weights. */
        PAUSE
    }

    public ExternalRequest {
        if (action == null || reason == null || reason.isBlank()) {
            throw new IllegalArgumentException("an external request needs an action and a reason");
        }
    }
}
