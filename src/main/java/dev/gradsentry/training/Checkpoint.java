package dev.gradsentry.training;

import dev.gradsentry.core.intervene.GuardState;
import dev.gradsentry.core.intervene.Intervention;

import java.time.Instant;
import java.util.List;

/**
 * What a checkpoint file says about its run besides the network itself: enough to rebuild the run and continue it at
 * the next step with the same data, the same guard and an audit log that neither loses nor repeats an event.
 *
 * @param runId        the run's id
 * @param spec         the run's spec (workload, optimizer, seed, steps)
 * @param state        the run's state when written: {@code running} for checkpoints taken during training
 * @param step         training steps completed
 * @param epoch        the network's epoch counter
 * @param batchesDrawn minibatches taken from the run's data stream; with the spec's seed this fixes the position and
 *                     the state of the data order's random generator
 * @param evaluation   the latest evaluation, or null
 * @param error        why the run failed or paused on an error, or null
 * @param createdAt    when the run was created
 * @param savedAt      when this checkpoint was written
 * @param audit        how far the audit log was: all events up to this checkpoint, and the length and CRC-32 of its
 *                     file without the pending ones
 * @param pendingAudit the last events of {@code audit}, not yet in the audit log file when this checkpoint was
 *                     written (they are appended right after it)
 * @param guard        the guard's state, or null for a run whose guard never started; its two networks are written
 *                     beside this record ({@link SavedJson})
 * @param deliveries   the keys of the alert deliveries handed to the guard up to this checkpoint, oldest first: a
 *                     redelivery of one of them after a resume is a duplicate
 */
public record Checkpoint(String runId, RunSpec spec, RunState state, long step, int epoch, long batchesDrawn,
                         Evaluation evaluation, String error, Instant createdAt, Instant savedAt, AuditLog.Mark audit,
                         List<Intervention> pendingAudit, GuardState guard, List<String> deliveries) {

    public Checkpoint {
        pendingAudit = List.copyOf(pendingAudit);
        deliveries = List.copyOf(deliveries);
    }

}
