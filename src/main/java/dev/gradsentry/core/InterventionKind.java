package dev.gradsentry.core;

/**
 * What the guard (or a person or an alert through it) did at a step: the {@code kind} of an audit event, of its JSON,
 * of the {@code kind} filter of the REST API and of the {@code gradsentry_interventions_total} metric's label, all
 * spelled as {@link ExternalName} spells it ({@code LR_BACKOFF} is {@code lr-backoff}).
 */
public enum InterventionKind {
    /** The step's update was dropped: weights, updater state and iteration counter stay as they were. */
    SKIP,
    /** The network went back to its last good state. */
    ROLLBACK,
    /** Every layer's learning rate (or schedule) was scaled down. */
    LR_BACKOFF,
    /** A backed-off learning rate came back one step towards the configured one. */
    LR_RESTORE,
    /** Clipping switched on. */
    CLIP_ENABLE,
    /** Clipping thresholds went down. */
    CLIP_TIGHTEN,
    /** Clipping thresholds went back up. */
    CLIP_RELAX,
    /** Clipping switched off. */
    CLIP_DISABLE,
    /** One step was clipped without a change of the clipping state (a lone spike). */
    CLIP,
    /** The guard gave up on the run. */
    PAUSE,
    /** Training went on after a pause. */
    RESUME,
    /** The clipping policy was replaced. */
    POLICY_CHANGE
}
