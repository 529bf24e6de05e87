package dev.gradsentry.training;

import dev.gradsentry.core.intervene.Intervention;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The committed sample files of every format version ({@link SavedFormatSamples}: a checkpoint and the audit log as a
 * crash right after it leaves them) are still read, and the run they describe resumes and trains to its end. A
 * change to what a checkpoint or an audit line holds fails here until the format's version goes up and a sample of
 * the new version is committed beside the old ones.
 */
class SavedFormatsTest {

    @TempDir
    Path data;

    @ParameterizedTest(name = "format {0}")
    @ValueSource(ints = {1})
    void aCrashedRunOfEveryFormatVersionIsReadBackAndResumesToItsEnd(int version) throws IOException {
        Path dir = TrainingRun.runDirectory(data, SavedFormatSamples.RUN);
        Files.createDirectories(dir);
        Files.copy(SavedFormatSamples.DIR.resolve("checkpoint-" + version + ".zip"),
                dir.resolve(String.format("%s%012d%s", CheckpointStore.PREFIX, SavedFormatSamples.CRASH_STEP,
                        CheckpointStore.SUFFIX)));
        Files.copy(SavedFormatSamples.DIR.resolve("interventions-" + version + ".jsonl"),
                dir.resolve(TrainingRun.AUDIT_FILE));

        CheckpointStore.Result newest = new CheckpointStore(dir, 10).newest();
        assertEquals(List.of(), newest.problems());
        Checkpoint c = newest.loaded().checkpoint();
        assertEquals(SavedFormatSamples.RUN, c.runId());
        assertEquals(SavedFormatSamples.spec(), c.spec());
        assertEquals(RunState.RUNNING, c.state());
        assertEquals(SavedFormatSamples.CRASH_STEP, c.step());
        assertEquals(SavedFormatSamples.CRASH_STEP, c.batchesDrawn());
        assertEquals(32, c.audit().events());
        assertNotNull(c.guard(), "the guard's state");
        assertEquals("adaptive", c.guard().policy());
        assertEquals(SavedFormatSamples.policy().policySettings(), c.guard().policySettings());

        RunSettings settings = new RunSettings(Duration.ofHours(1), 10, data, 5, 10);
        TrainingRun.Recovered recovered = TrainingRun.recovered(newest.loaded(), SavedFormatSamples.workloads(),
                RunTelemetry.NONE, settings, SavedFormatSamples::policy, Clock.systemUTC());
        assertEquals(List.of(), recovered.problems());
        TrainingRun run = recovered.run();
        assertEquals(RunState.INTERRUPTED, run.status().state());
        List<Intervention> before = run.interventions().page(i -> true, 0, 1000);
        assertEquals(32, before.size());
        assertTrue(before.stream().allMatch(i -> i.run().equals(SavedFormatSamples.RUN) && i.applied()));

        run.prepareResume("api", "format " + version + " sample");
        run.run();
        assertEquals(RunState.FINISHED, run.status().state(), String.valueOf(run.status().error()));
        assertEquals(SavedFormatSamples.spec().steps(), run.status().step());
        List<Intervention> after = run.interventions().page(i -> true, 0, 1000);
        assertEquals(before, after.subList(0, before.size()), "the sample's events come first, unchanged");
        assertEquals("resume", after.get(before.size()).kind());
    }
}
