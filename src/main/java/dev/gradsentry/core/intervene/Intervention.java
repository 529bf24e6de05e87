package dev.gradsentry.core.intervene;

import dev.gradsentry.core.InterventionKind;

import java.time.Instant;
import java.util.Map;

/**
 * One audited action of the guard (or of a person or an alert through the guard).
 *
 * @param time          when it happened
 * @param run           the run's id
 * @param step          the training step (0-based count of steps done before this one)
 * @param kind          what was done
 * @param reason        what caused it: {@code non-finite-gradient}, {@code non-finite-loss}, {@code spike},
 *                      {@code divergence}, {@code healthy-stretch}, {@code recoveries-exhausted}, {@code api}, ...
 * @param measured      the value the detector measured (norm, loss, z-score), NaN when none
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
}
