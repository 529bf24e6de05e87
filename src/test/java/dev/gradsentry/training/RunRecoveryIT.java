package dev.gradsentry.training;

import dev.gradsentry.core.InterventionKind;
import dev.gradsentry.core.clip.ClipPolicies;
import dev.gradsentry.core.intervene.GuardSettings;
import dev.gradsentry.core.intervene.Intervention;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static dev.gradsentry.core.InterventionKind.RESUME;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Checkpoints on the exploding adding problem (no data files needed, and the guard intervenes often): a run restored
 * from a checkpoint trains on exactly as the uninterrupted run did, damaged files are detected and skipped, and a
 * checkpoint that cannot be written pauses the run without losing it.
 */
class RunRecoveryIT {

    private static final long STEPS = 60;
    private static final Workloads WORKLOADS = new Workloads(() -> {
        throw new DataUnavailableException("the adding problem needs no data files");
    });
    /** Relaxing after 5 healthy steps keeps the audit log busy all through the run. */
    private static final GuardPolicy POLICY = new GuardPolicy("adaptive", relaxingEarly(), GuardSettings.defaults());

    private static Map<String, Double> relaxingEarly() {
        Map<String, Double> s = new LinkedHashMap<>(ClipPolicies.defaults("adaptive"));
        s.put("relaxAfter", 5.0);
        s.put("cooldown", 1.0);
        return s;
    }

    @TempDir
    Path tmp;

    private static RunSpec spec() {
        RunSpec e = RunSpec.exploding(WorkloadKind.ADDING);
        return new RunSpec(e.workload(), e.cell(), e.activation(), e.recurrentGain(), 16, e.optimizer(),
                e.learningRate(), 32, STEPS, 7, 0, 200, 50);
    }

    private static RunSettings settings(Path dataDir) {
        return new RunSettings(Duration.ofHours(1), 10, dataDir, 10, 1000);
    }

    private static TrainingRun run(String id, Path dataDir) {
        return new TrainingRun(id, spec(), WORKLOADS, RunTelemetry.NONE, settings(dataDir), () -> POLICY,
                Clock.systemUTC());
    }

    private static List<String> withoutTime(List<Intervention> events) {
        return events.stream().map(i -> i.step() + " " + i.kind() + " " + i.reason() + " " + i.layer() + " "
                + i.before() + " " + i.after()).toList();
    }

    @Test
    void aRunRestoredFromACheckpointContinuesExactlyAsTheUninterruptedRun() throws IOException {
        Path a = tmp.resolve("a");
        TrainingRun whole = run("r1", a);
        whole.run();
        assertEquals(RunState.FINISHED, whole.status().state());
        List<Intervention> wholeEvents = whole.interventions().page(i -> true, 0, 10_000);
        // A crash right after the first checkpoint past the start was written, before its audit events reached the
        // log.
        Path runDir = TrainingRun.runDirectory(a, "r1");
        CheckpointStore store = new CheckpointStore(runDir, 1000);
        List<Path> oldestFirst = new ArrayList<>(store.files());
        Collections.reverse(oldestFirst);
        Path crashPoint = oldestFirst.get(1);
        CheckpointStore.Loaded loaded = store.read(crashPoint, List.of());
        long crashStep = loaded.checkpoint().step();
        assertTrue(wholeEvents.stream().filter(i -> i.step() >= crashStep).count() >= 2,
                "the exploding run must keep the guard busy after step " + crashStep + ": " + wholeEvents);
        Path b = tmp.resolve("b");
        Path crashed = TrainingRun.runDirectory(b, "r1");
        Files.createDirectories(crashed);
        Files.copy(crashPoint, crashed.resolve(crashPoint.getFileName()));
        byte[] audit = Files.readAllBytes(runDir.resolve(TrainingRun.AUDIT_FILE));
        Files.write(crashed.resolve(TrainingRun.AUDIT_FILE),
                Arrays.copyOf(audit, (int) loaded.checkpoint().audit().bytes()));
        // The history writer had written every step, past the checkpoint, and was killed inside one more record.
        Path history = Files.createDirectories(crashed.resolve(StepHistory.DIR));
        for (Path segment : whole.history().segments()) {
            Files.copy(segment, history.resolve(segment.getFileName()));
        }
        List<Path> segments = whole.history().segments();
        Files.write(history.resolve(segments.get(segments.size() - 1).getFileName()),
                new byte[] {StepFile.STEP, (byte) 0x85, (byte) 0x81, 0, 60, 0}, java.nio.file.StandardOpenOption.APPEND);

        RunRegistry registry = new RunRegistry(WORKLOADS, RunTelemetry.NONE, settings(b), 20, POLICY,
                Clock.systemUTC());
        List<TrainingRun.Recovered> found = registry.recover();
        assertEquals(1, found.size());
        assertEquals(RunState.INTERRUPTED, registry.find("r1").orElseThrow().state());
        assertEquals(crashStep, registry.find("r1").orElseThrow().step());
        registry.resume("r1", "api", null);
        TrainingRun resumed = registry.run("r1").orElseThrow();
        awaitEnd(resumed);
        registry.close();

        assertEquals(RunState.FINISHED, resumed.status().state(), String.valueOf(resumed.status().error()));
        assertEquals(STEPS, resumed.status().step());
        assertBitwiseEqual(whole.network(), resumed.network());
        List<Intervention> resumedEvents = new ArrayList<>(resumed.interventions().page(i -> true, 0, 10_000));
        Intervention resume = resumedEvents.stream().filter(i -> i.kind() == RESUME).findFirst().orElseThrow();
        assertEquals("interrupted", resume.reason());
        assertEquals(crashStep, resume.step());
        resumedEvents.remove(resume);
        assertEquals(withoutTime(wholeEvents), withoutTime(resumedEvents),
                "same events at the same steps, none lost, none twice");
        List<String> fileLines = Files.readAllLines(crashed.resolve(TrainingRun.AUDIT_FILE));
        assertEquals(wholeEvents.size() + 1, fileLines.size(), "the audit file holds each event once");
        List<String> wholeRows = rows(whole.history());
        assertEquals(STEPS, wholeRows.size());
        assertEquals(wholeRows, rows(resumed.history()), "the same steps with the same values, each once");
    }

    /** A history's rows as text: every value, the layers' included. */
    private static List<String> rows(StepHistory history) throws IOException {
        List<String> rows = new ArrayList<>();
        history.read(0, Long.MAX_VALUE, 1, r -> rows.add(r.toString()));
        return rows;
    }

    /**
     * The newest checkpoint is cut off, so the run falls back to the one before while the audit log already holds the
     * events of the steps after it. Those steps are trained again: their events are in the log once, as the
     * uninterrupted run has them, and the lines the fallback superseded are kept aside.
     */
    @Test
    void aFallbackToAnOlderCheckpointDoesNotRepeatAuditEvents() throws IOException {
        Path a = tmp.resolve("a");
        TrainingRun whole = run("r5", a);
        whole.run();
        List<Intervention> wholeEvents = whole.interventions().page(i -> true, 0, 10_000);
        Path runDir = TrainingRun.runDirectory(a, "r5");
        CheckpointStore store = new CheckpointStore(runDir, 1000);
        List<Path> files = store.files();
        // A crash while the newer of two checkpoints with audit events between them was written: that file is cut
        // off, the log already holds the events it carried.
        Path newest = null;
        Path older = null;
        for (int i = 0; i + 1 < files.size(); i++) {
            long newer = store.read(files.get(i), List.of()).checkpoint().audit().events();
            if (newer > store.read(files.get(i + 1), List.of()).checkpoint().audit().events()) {
                newest = files.get(i);
                older = files.get(i + 1);
                break;
            }
        }
        assertNotNull(newest, "the guard must act between two checkpoints: " + wholeEvents);
        Path b = tmp.resolve("b");
        Path crashed = TrainingRun.runDirectory(b, "r5");
        Files.createDirectories(crashed);
        Files.copy(older, crashed.resolve(older.getFileName()));
        byte[] cut = Files.readAllBytes(newest);
        Files.write(crashed.resolve(newest.getFileName()), Arrays.copyOf(cut, cut.length / 2));
        long olderStep = store.read(older, List.of()).checkpoint().step();
        long olderEvents = store.read(older, List.of()).checkpoint().audit().events();
        int newerEvents = (int) store.read(newest, List.of()).checkpoint().audit().events();
        List<String> auditLines = Files.readAllLines(runDir.resolve(TrainingRun.AUDIT_FILE));
        Files.write(crashed.resolve(TrainingRun.AUDIT_FILE), auditLines.subList(0, newerEvents));

        RunRegistry registry = new RunRegistry(WORKLOADS, RunTelemetry.NONE, settings(b), 20, POLICY,
                Clock.systemUTC());
        TrainingRun.Recovered found = registry.recover().get(0);
        assertEquals(olderStep, found.run().status().step());
        registry.resume("r5", "api", null);
        TrainingRun resumed = registry.run("r5").orElseThrow();
        awaitEnd(resumed);
        registry.close();
        assertEquals(RunState.FINISHED, resumed.status().state(), String.valueOf(resumed.status().error()));

        List<Intervention> events = new ArrayList<>(resumed.interventions().page(i -> true, 0, 10_000));
        events.removeIf(i -> i.kind() == InterventionKind.RESUME);
        assertEquals(withoutTime(wholeEvents), withoutTime(events), "each step's events once, none repeated");
        assertEquals(wholeEvents.size() + 1, Files.readAllLines(crashed.resolve(TrainingRun.AUDIT_FILE)).size(),
                "the file holds each event once, and the resume");
        Path superseded = crashed.resolve(TrainingRun.AUDIT_FILE + ".superseded");
        assertEquals(newerEvents - olderEvents, Files.readAllLines(superseded).size(),
                "the lines of the steps trained again are kept aside");
    }

    @Test
    void aDamagedNewestCheckpointIsReportedAndTheOlderOneUsed() throws IOException {
        Path a = tmp.resolve("a");
        TrainingRun done = run("r2", a);
        done.run();
        Path runDir = TrainingRun.runDirectory(a, "r2");
        CheckpointStore store = new CheckpointStore(runDir, 1000);
        List<Path> files = store.files();
        assertTrue(files.size() >= 3);
        // Bit rot in the newest, a cut-off second newest.
        try (RandomAccessFile f = new RandomAccessFile(files.get(0).toFile(), "rw")) {
            f.seek(f.length() / 2);
            int b = f.read();
            f.seek(f.length() / 2);
            f.write(b ^ 0x5a);
        }
        try (RandomAccessFile f = new RandomAccessFile(files.get(1).toFile(), "rw")) {
            f.setLength(f.length() / 3);
        }
        CheckpointStore.Result newest = store.newest();
        assertNotNull(newest.loaded());
        assertEquals(files.get(2), newest.loaded().file());
        assertEquals(2, newest.problems().size(), newest.problems().toString());
        assertTrue(newest.problems().get(0).startsWith(files.get(0).getFileName().toString()),
                newest.problems().toString());
        assertTrue(newest.problems().get(1).startsWith(files.get(1).getFileName().toString()),
                newest.problems().toString());
    }

    @Test
    void aDamagedAuditLogIsReportedAndMadeWholeFromTheCheckpoint() throws IOException {
        Path a = tmp.resolve("a");
        TrainingRun done = run("r3", a);
        done.run();
        List<Intervention> events = done.interventions().page(i -> true, 0, 10_000);
        Path runDir = TrainingRun.runDirectory(a, "r3");
        Path auditFile = runDir.resolve(TrainingRun.AUDIT_FILE);
        List<String> lines = new ArrayList<>(Files.readAllLines(auditFile));
        // Same length, so only the checksum can tell: an altered event, and one no longer JSON.
        lines.set(0, lines.get(0).replace("\"step\":1,", "\"step\":2,"));
        lines.set(1, "#".repeat(lines.get(1).length()));
        Files.write(auditFile, lines);

        RunRegistry registry = new RunRegistry(WORKLOADS, RunTelemetry.NONE, settings(a), 20, POLICY,
                Clock.systemUTC());
        TrainingRun.Recovered r = registry.recover().get(0);
        registry.close();
        assertTrue(r.problems().stream().anyMatch(p -> p.contains("fails the CRC-32 check")), r.problems().toString());
        assertTrue(r.problems().stream().anyMatch(p -> p.contains("line 2 is unreadable")), r.problems().toString());
        assertTrue(Files.exists(runDir.resolve(TrainingRun.AUDIT_FILE + ".damaged")));
        assertEquals(events.size() - 1, r.run().interventions().count(i -> true));
        assertEquals(events.size() - 1, Files.readAllLines(auditFile).size());
    }

    @Test
    void aCheckpointThatCannotBeWrittenPausesTheRunWithItsStateInMemory() throws IOException {
        Path a = tmp.resolve("a");
        Path runDir = TrainingRun.runDirectory(a, "r4");
        TrainingRun run = run("r4", a);
        // A file where the run's checkpoint directory should be: every write fails, as on a full or broken disk.
        Files.createDirectories(runDir.getParent());
        Files.writeString(runDir, "in the way");
        run.run();
        RunStatus paused = run.status();
        assertEquals(RunState.PAUSED, paused.state());
        assertTrue(paused.error().contains("cannot write to " + runDir), paused.error());
        assertTrue(paused.error().contains("/resume"), paused.error());
        assertEquals(0, paused.step());
        assertNotNull(run.network(), "the network stays in memory");

        Files.delete(runDir);
        run.prepareResume("api", "disk fixed");
        run.run();
        assertEquals(RunState.FINISHED, run.status().state(), String.valueOf(run.status().error()));
        assertEquals(STEPS, run.status().step());
        assertFalse(new CheckpointStore(runDir, 1000).files().isEmpty());
        try (Stream<String> lines = Files.lines(runDir.resolve(TrainingRun.AUDIT_FILE))) {
            assertTrue(lines.anyMatch(l -> l.contains("\"kind\":\"resume\"")));
        }
    }

    private static void awaitEnd(TrainingRun run) {
        await("run " + run.id() + " to end").atMost(Duration.ofMinutes(2)).pollInterval(Duration.ofMillis(20))
                .until(() -> run.status().state() != RunState.RUNNING);
    }

    static void assertBitwiseEqual(Network expected, Network actual) {
        INDArray e = expected.params();
        INDArray a = actual.params();
        assertEquals(e, a, "parameters differ after resuming");
        assertEquals(expected.updaterState(), actual.updaterState());
        assertEquals(expected.iterationCount(), actual.iterationCount());
    }

}
