package dev.gradsentry.training;

import dev.gradsentry.core.InterventionKind;
import dev.gradsentry.core.clip.ClipPolicies;
import dev.gradsentry.core.intervene.GuardMode;
import dev.gradsentry.core.intervene.GuardSettings;
import dev.gradsentry.core.intervene.Intervention;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * An exploding run in observe mode: the guard would act on nearly every step but applies nothing. Its events are
 * audited, but neither each one's log line nor a checkpoint per step: repeated lines become one summary per interval,
 * and events that applied nothing wait for the next regular checkpoint.
 */
class ObserveModeIT {

    private static final long STEPS = 60;
    private static final int CHECKPOINT_EVERY = 10;
    private static final Workloads WORKLOADS = new Workloads(() -> {
        throw new DataUnavailableException("the adding problem needs no data files");
    });

    @TempDir
    Path tmp;

    @Test
    void anExplodingRunInObserveModeCheckpointsOnlyOnItsIntervalAndStillAuditsEveryEvent() throws IOException {
        GuardSettings observe = GuardSettings.defaults().withMode(GuardMode.OBSERVE);
        GuardPolicy policy = new GuardPolicy("adaptive", ClipPolicies.defaults("adaptive"), observe);
        RunSpec e = RunSpec.exploding(WorkloadKind.ADDING);
        RunSpec spec = new RunSpec(e.workload(), e.cell(), e.activation(), e.recurrentGain(), 16, e.optimizer(),
                e.learningRate(), 32, STEPS, 7, 0, 200, 50);
        RunSettings settings = new RunSettings(Duration.ofHours(1), 10, tmp, CHECKPOINT_EVERY, 10_000);
        TrainingRun run = new TrainingRun("observe", spec, WORKLOADS, RunTelemetry.NONE, settings, () -> policy,
                Clock.systemUTC());
        long t0 = System.nanoTime();
        run.run();
        double seconds = (System.nanoTime() - t0) / 1e9;
        System.out.printf(Locale.ROOT, "observe mode, %d steps with checkpoints: %.1f steps/s%n", STEPS,
                STEPS / seconds);
        assertEquals(RunState.FINISHED, run.status().state(), String.valueOf(run.status().error()));

        List<Intervention> events = run.interventions().page(i -> true, 0, 100_000);
        long notApplied = events.stream().filter(i -> !i.applied()).count();
        assertTrue(notApplied >= STEPS / 2, "the guard would have acted on most steps: " + notApplied);
        Path dir = TrainingRun.runDirectory(tmp, "observe");
        assertEquals(events.size(), Files.readAllLines(dir.resolve(TrainingRun.AUDIT_FILE)).size(),
                "every event reaches the audit file");
        long checkpoints = new CheckpointStore(dir, 10_000).files().size();
        // The start, every tenth step, the end; events that applied nothing add none.
        assertTrue(checkpoints <= STEPS / CHECKPOINT_EVERY + 2, checkpoints + " checkpoints for " + STEPS
                + " steps");
    }

    @Test
    void repeatedEventsAreLoggedAsOneSummaryLinePerInterval() {
        List<String> lines = new ArrayList<>();
        AuditLog log = new AuditLog(null, lines::add);
        Instant start = Instant.parse("2026-12-01T00:00:00Z");
        // 2,000 events in 100 s of event time, 20 a second, of two kinds, none applied.
        for (int n = 0; n < 2000; n++) {
            log.onIntervention(new Intervention(start.plusMillis(50L * n), "r", n, n % 2 == 0 ? InterventionKind.SKIP : InterventionKind.ROLLBACK,
                    "spike", 1, Double.NaN, Double.NaN, null, false, "adaptive", Map.of(), null));
        }
        log.close();
        assertEquals(2000, log.count(i -> true), "every event is kept");
        // Per 10-second interval: the first of each kind, and one summary of the rest.
        assertTrue(lines.size() <= 3 * (100 / AuditLog.LOG_INTERVAL.toSeconds() + 1), lines.size() + " lines: "
                + String.join("\n", lines.subList(0, Math.min(10, lines.size()))));
        String summary = lines.stream().filter(l -> l.contains("not logged one by one")).findFirst().orElseThrow();
        assertTrue(summary.contains("skip (spike)") && summary.contains("rollback (spike)"), summary);
        long counted = lines.stream().filter(l -> l.contains("not logged one by one"))
                .mapToLong(l -> Long.parseLong(l.replaceAll(".*: (\\d+) events.*", "$1"))).sum();
        long logged = lines.stream().filter(l -> !l.contains("not logged one by one")).count();
        assertEquals(2000, counted + logged, "each event is in a line or counted in a summary");
    }
}
