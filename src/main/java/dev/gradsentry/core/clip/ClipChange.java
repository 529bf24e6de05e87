package dev.gradsentry.core.clip;

/**
 * A change of a policy's clipping state, reported to the audit log.
 *
 * @param kind   {@code clip-enable}, {@code clip-tighten}, {@code clip-relax} or {@code clip-disable}
 * @param layer  the layer whose threshold changed, or {@code all}
 * @param before threshold before (NaN when clipping was off)
 * @param after  threshold after (NaN when clipping is now off)
 */
public record ClipChange(String kind, String layer, double before, double after) {
}
