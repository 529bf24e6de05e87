package dev.gradsentry.training;

import dev.gradsentry.core.clip.ClipPolicies;
import dev.gradsentry.core.intervene.GuardSettings;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Clock;
import java.time.Duration;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes the sample files {@link SavedFormatsTest} reads: a checkpoint and an audit log of a short run on the
 * exploding adding problem (no data files needed; the guard intervenes at once, so the log has lines and the
 * checkpoint a guard state). When a saved format changes, its version goes up and this writes the new samples,
 * beside the older ones that stay so that the test keeps proving files of every version are still read:
 * <pre>
 * mvn -q -DskipTests test-compile dependency:build-classpath -Dmdep.outputFile=target/cp -Dmdep.includeScope=test
 * java -cp target/classes:target/test-classes:$(cat target/cp) dev.gradsentry.training.SavedFormatSamples 3
 * </pre>
 */
public final class SavedFormatSamples {

    static final String RUN = "sample";
    static final Path DIR = Path.of("src", "test", "resources", "formats");
    /** The sample checkpoint is the one at this step, of a run of {@link #spec()}'s 80 steps. */
    static final long CRASH_STEP = 70;

    private SavedFormatSamples() {
    }

    /** The spec of the sample run: small, so that the committed checkpoint is a few kilobytes. */
    static RunSpec spec() {
        RunSpec e = RunSpec.exploding(WorkloadKind.ADDING);
        return new RunSpec(e.workload(), e.cell(), e.activation(), 4.0, 8, e.optimizer(), 0.5, 8, 80, 7, 0, 20, 20);
    }

    /** Adaptive clipping that relaxes early, so that the short run has several kinds of intervention. */
    static GuardPolicy policy() {
        Map<String, Double> s = new LinkedHashMap<>(ClipPolicies.defaults("adaptive"));
        s.put("relaxAfter", 3.0);
        s.put("cooldown", 1.0);
        // The committed samples were written while the cap's default was 0.02 (it is 0.01 since 2026-12-01): a
        // checkpoint keeps the settings its policy ran with.
        s.put("updateRatioCap", 0.02);
        return new GuardPolicy("adaptive", s, GuardSettings.defaults());
    }

    static Workloads workloads() {
        return new Workloads(() -> {
            throw new DataUnavailableException("the adding problem needs no data files");
        });
    }

    public static void main(String... args) throws IOException {
        String version = args[0];
        Path out = args.length > 1 ? Path.of(args[1]) : DIR;
        Path data = Files.createTempDirectory("gradsentry-samples");
        RunSettings settings = new RunSettings(Duration.ofHours(1), 10, data, 5, 100);
        TrainingRun run = new TrainingRun(RUN, spec(), workloads(), RunTelemetry.NONE, settings, SavedFormatSamples::policy,
                Clock.systemUTC());
        run.run();
        // What a crash right after the checkpoint at CRASH_STEP leaves: that checkpoint, and the audit log as long as
        // the checkpoint saw it.
        Path dir = TrainingRun.runDirectory(data, RUN);
        Path checkpoint = dir.resolve(String.format("%s%012d%s", CheckpointStore.PREFIX, CRASH_STEP,
                CheckpointStore.SUFFIX));
        long auditBytes = new CheckpointStore(dir, 100).read(checkpoint, List.of()).checkpoint().audit().bytes();
        Files.createDirectories(out);
        Files.copy(checkpoint, out.resolve("checkpoint-" + version + ".zip"), StandardCopyOption.REPLACE_EXISTING);
        byte[] audit = Files.readAllBytes(dir.resolve(TrainingRun.AUDIT_FILE));
        Files.write(out.resolve("interventions-" + version + ".jsonl"), Arrays.copyOf(audit, (int) auditBytes));
        System.out.println("run " + run.status().state() + " at step " + run.status().step() + "; samples in " + out);
    }
}
