package dev.gradsentry.core.intervene;

import dev.gradsentry.core.InterventionKind;
import dev.gradsentry.core.clip.ClipChange;

import java.time.Instant;
import java.util.Map;

/**
 * One audited action of the guard (or of a person or an alert through the guard). Built with the factory method of
 * its kind, which fills what does not apply with NaN or null.
 *
 * @param time          when it happened
 * @param run           the run's id
 * @param step          the training step (0-based count of steps done before this one)
 * @param kind          what was done
 * @param reason        what caused it: {@code non-finite-data}, {@code non-finite-gradient}, {@code non-finite-loss},
 *                      {@code spike}, {@code divergence}, {@code healthy-stretch}, {@code recoveries-exhausted},
 *                      {@code api}, ...
 * @param measured      the value the detector measured (norm, loss, z-score; the batch's NaN and infinite values
 *                      for {@code non-finite-data}), NaN when none
 * @param before        threshold or learning rate before, NaN when not applicable
 * @param after         threshold or learning rate after, NaN when not applicable
 * @param layer         the layer concerned, {@code all}, or null
 * @param applied       false in observe mode: the guard only recorded what it would have done
 * @param policy        the clipping policy in force
 * @param settings      that policy's settings, for provenance
 * @param detail        free text beyond the bounded reason (an alert's name and fingerprint), or null
 */
public record Intervention(Instant time, String run, long step, InterventionKind kind, String reason, double measured,
                           double before, double after, String layer, boolean applied, String policy,
                           Map<String, Double> settings, String detail) {
    public Intervention {
        settings = Map.copyOf(settings);
    }

    /**
     * What every intervention of one step shares: when, which run and step, and the clipping policy in force.
     *
     * @param policy   the policy's name
     * @param settings its settings
     */
    public record Context(Instant time, String run, long step, String policy, Map<String, Double> settings) {
    }

    private static Intervention of(Context c, InterventionKind kind, String reason, double measured, double before,
                                   double after, String layer, boolean applied, String detail) {
        return new Intervention(c.time(), c.run(), c.step(), kind, reason, measured, before, after, layer, applied,
                c.policy(), c.settings(), detail);
    }

    /** The step's update was dropped; {@code layer} is where the trouble was, or null. */
    public static Intervention skip(Context c, String reason, double measured, String layer, boolean applied) {
        return of(c, InterventionKind.SKIP, reason, measured, Double.NaN, Double.NaN, layer, applied, null);
    }

    public static Intervention rollback(Context c, String reason, double measured, boolean applied, String detail) {
        return of(c, InterventionKind.ROLLBACK, reason, measured, Double.NaN, Double.NaN, null, applied, detail);
    }

    /** The learning rate went from {@code before} to {@code after}; always applied, in every mode. */
    public static Intervention lrBackoff(Context c, String reason, double measured, double before, double after,
                                         String detail) {
        return of(c, InterventionKind.LR_BACKOFF, reason, measured, before, after, null, true, detail);
    }

    /** After {@code healthySteps} healthy steps the learning rate went from {@code before} back up to {@code after}. */
    public static Intervention lrRestore(Context c, double healthySteps, double before, double after) {
        return of(c, InterventionKind.LR_RESTORE, "healthy-stretch", healthySteps, before, after, null, true, null);
    }

    /** The clipping policy changed its state ({@code change}); {@code reason} and {@code detail} say why. */
    public static Intervention clipChange(Context c, ClipChange change, String reason, double measured,
                                          boolean applied, String detail) {
        return of(c, change.kind(), reason, measured, change.before(), change.after(), change.layer(), applied,
                detail);
    }

    /** A request scaled every clipping threshold from {@code before} to {@code after} ({@code CLIP_TIGHTEN}, ...). */
    public static Intervention thresholdScale(Context c, InterventionKind kind, String reason, double before,
                                              double after, String detail) {
        return of(c, kind, reason, Double.NaN, before, after, "all", true, detail);
    }

    /** A request the guard could not carry out (a policy with no clipping to switch on): recorded, not applied. */
    public static Intervention notApplied(Context c, InterventionKind kind, String reason, String detail) {
        return of(c, kind, reason, Double.NaN, Double.NaN, Double.NaN, null, false, detail);
    }

    public static Intervention pause(Context c, String reason, double measured, String detail) {
        return of(c, InterventionKind.PAUSE, reason, measured, Double.NaN, Double.NaN, null, true, detail);
    }

    public static Intervention resume(Context c, String reason, String detail) {
        return of(c, InterventionKind.RESUME, reason, Double.NaN, Double.NaN, Double.NaN, null, true, detail);
    }

    /** The policy or the guard's settings changed; {@code c} names the policy in force, {@code detail} what changed. */
    public static Intervention policyChange(Context c, String reason, String detail) {
        return of(c, InterventionKind.POLICY_CHANGE, reason, Double.NaN, Double.NaN, Double.NaN, null, true, detail);
    }
}
