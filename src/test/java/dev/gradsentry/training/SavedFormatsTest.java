package dev.gradsentry.training;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.gradsentry.core.intervene.Intervention;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;

import static dev.gradsentry.core.InterventionKind.RESUME;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The committed sample files of every format version ({@link SavedFormatSamples}: a checkpoint and the audit log as a
 * crash right after it leaves them) are still read, and the run they describe resumes and trains to its end; the
 * samples of the current format are written back exactly as they are. A change to what a checkpoint or an audit line
 * holds fails here until the format's version goes up and a sample of the new version is committed beside the old
 * ones.
 */
class SavedFormatsTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path data;

    @Test
    void theCurrentFormatsHaveSamples() {
        assertTrue(Files.isRegularFile(sample("checkpoint", SavedJson.CHECKPOINT.version(), ".zip")));
        assertTrue(Files.isRegularFile(sample("interventions", SavedJson.AUDIT.version(), ".jsonl")));
    }

    @Test
    void aCheckpointOfTheCurrentFormatIsWrittenBackAsItIs() throws IOException {
        Map<String, byte[]> entries = new LinkedHashMap<>();
        try (ZipFile zip = new ZipFile(sample("checkpoint", SavedJson.CHECKPOINT.version(), ".zip").toFile())) {
            for (ZipEntry e : Collections.list(zip.entries())) {
                entries.put(e.getName(), zip.getInputStream(e).readAllBytes());
            }
        }
        Checkpoint read = SavedJson.CHECKPOINT.read(entries.get("run.json"), Checkpoint.class, entries);
        Map<String, byte[]> written = new LinkedHashMap<>();
        byte[] json = SavedJson.CHECKPOINT.write(read, written);
        assertEquals(JSON.readTree(entries.get("run.json")), JSON.readTree(json));
        assertEquals(Set.of("guard-last-good.bin", "guard-candidate.bin"), written.keySet());
        for (String network : written.keySet()) {
            assertArrayEquals(entries.get(network), written.get(network), network);
        }
    }

    @Test
    void anAuditLogOfTheCurrentFormatIsWrittenBackAsItIs() throws IOException {
        List<String> lines = Files.readAllLines(sample("interventions", SavedJson.AUDIT.version(), ".jsonl"));
        assertFalse(lines.isEmpty());
        for (String line : lines) {
            Intervention read = SavedJson.AUDIT.read(line.getBytes(StandardCharsets.UTF_8), Intervention.class);
            assertEquals(JSON.readTree(line), JSON.readTree(SavedJson.AUDIT.write(read)));
        }
    }

    @Test
    void aFileOfANewerFormatIsRefusedSayingSo() {
        String newer = "{\"format\":" + (SavedJson.AUDIT.version() + 1) + ",\"run\":\"x\"}";
        IOException refused = assertThrows(IOException.class,
                () -> SavedJson.AUDIT.read(newer.getBytes(StandardCharsets.UTF_8), Intervention.class));
        assertTrue(refused.getMessage().contains("a newer one wrote it"), refused.getMessage());
    }

    private static Path sample(String name, int version, String suffix) {
        return SavedFormatSamples.DIR.resolve(name + "-" + version + suffix);
    }

    @ParameterizedTest(name = "format {0}")
    @ValueSource(ints = {1, 2, 3, 4, 5, 6})
    void aCrashedRunOfEveryFormatVersionIsReadBackAndResumesToItsEnd(int version) throws IOException {
        Path dir = TrainingRun.runDirectory(data, SavedFormatSamples.RUN);
        Files.createDirectories(dir);
        Files.copy(sample("checkpoint", version, ".zip"),
                dir.resolve(String.format("%s%012d%s", CheckpointStore.PREFIX, SavedFormatSamples.CRASH_STEP,
                        CheckpointStore.SUFFIX)));
        Files.copy(sample("interventions", version, ".jsonl"),
                dir.resolve(TrainingRun.AUDIT_FILE));

        // Each sample's run had the guard of its day: as many events as its audit file has lines, at least one.
        long events = Files.readAllLines(sample("interventions", version, ".jsonl")).size();
        assertTrue(events > 0, "the sample must show the guard at work");
        CheckpointStore.Result newest = new CheckpointStore(dir, 10).newest();
        assertEquals(List.of(), newest.problems());
        Checkpoint c = newest.loaded().checkpoint();
        assertEquals(SavedFormatSamples.RUN, c.runId());
        assertEquals(SavedFormatSamples.spec(), c.spec());
        assertEquals(RunState.RUNNING, c.state());
        assertEquals(SavedFormatSamples.CRASH_STEP, c.step());
        assertEquals(SavedFormatSamples.CRASH_STEP, c.batchesDrawn());
        assertEquals(events, c.audit().events());
        assertNotNull(c.guard(), "the guard's state");
        assertEquals("adaptive", c.guard().policy());
        assertEquals(SavedFormatSamples.policy().policySettings(), c.guard().policySettings());
        assertEquals(List.of(), c.deliveries(), "no alert was delivered to the sample run");

        RunSettings settings = new RunSettings(Duration.ofHours(1), 10, data, 5, 10);
        TrainingRun.Recovered recovered = TrainingRun.recovered(newest.loaded(), SavedFormatSamples.workloads(),
                RunTelemetry.NONE, settings, SavedFormatSamples::policy, Clock.systemUTC());
        assertEquals(List.of(), recovered.problems());
        TrainingRun run = recovered.run();
        assertEquals(RunState.INTERRUPTED, run.status().state());
        List<Intervention> before = run.interventions().page(i -> true, 0, 1000);
        assertEquals(events, before.size());
        assertTrue(before.stream().allMatch(i -> i.run().equals(SavedFormatSamples.RUN) && i.applied()));

        run.prepareResume("api", "format " + version + " sample");
        run.run();
        assertEquals(RunState.FINISHED, run.status().state(), String.valueOf(run.status().error()));
        assertEquals(SavedFormatSamples.spec().steps(), run.status().step());
        List<Intervention> after = run.interventions().page(i -> true, 0, 1000);
        assertEquals(before, after.subList(0, before.size()), "the sample's events come first, unchanged");
        assertEquals(RESUME, after.get(before.size()).kind());
    }
}
