package dev.gradsentry.core.clip;

import dev.gradsentry.core.InterventionKind;

/**
 * A change of a policy's clipping state, reported to the audit log.
 *
 * @param kind   {@code CLIP_ENABLE}, {@code CLIP_TIGHTEN}, {@code CLIP_RELAX}, {@code CLIP_DISABLE}, or {@code CLIP}
 *               for one step clipped without a change of state (a lone spike)
 * @param reason what caused it: {@code update-ratio}, {@code gradient-ratio}, {@code spike}, {@code repeated-spikes},
 *               {@code lost-step}, {@code healthy-stretch}, {@code cap-set-steps} (the cap annealed), {@code request}
 * @param layer  the layer whose threshold changed, or {@code all}
 * @param before threshold before (NaN when clipping was off); for {@code all}, the global bound: the square root of
 *               the summed squared per-layer thresholds
 * @param after  threshold after (NaN when clipping is now off); for {@code all}, the global bound
 * @param detail each layer's threshold after the change, or null
 */
public record ClipChange(InterventionKind kind, String reason, String layer, double before, double after,
                         String detail) {
}
