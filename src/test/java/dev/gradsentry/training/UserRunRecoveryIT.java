package dev.gradsentry.training;

import dev.gradsentry.examples.ExampleFiles;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.util.ModelSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.dataset.api.preprocessor.Normalizer;
import org.nd4j.linalg.dataset.api.preprocessor.NormalizerStandardize;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.zip.ZipFile;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A user's ComputationGraph (the LSTM sequence example) checkpoints and resumes as the built-in networks do: a run
 * restored from a checkpoint trains on bitwise as the uninterrupted run did, with the normalizer the checkpoint saved
 * applied, not one fitted again, and the checkpoint's model is a graph with its normalizer that DL4J loads on its own.
 */
class UserRunRecoveryIT {

    private static final long STEPS = 40;

    @TempDir
    Path tmp;

    private static RunSettings settings(Path dataDir) {
        return new RunSettings(Duration.ofHours(1), 10, dataDir, 10, 1000);
    }

    private static GuardPolicy policy() {
        return GuardPolicy.defaults();
    }

    @Test
    void aGraphRunRestoredFromACheckpointContinuesExactlyAsTheUninterruptedRun() throws IOException {
        Path user = UserRuns.copy(ExampleFiles.SEQUENCE, tmp.resolve("user"));
        Workloads workloads = new Workloads(() -> null, user);
        RunSpec spec = UserRuns.spec(ExampleFiles.SEQUENCE, STEPS);
        Path a = tmp.resolve("a");
        TrainingRun whole = new TrainingRun("g1", spec, workloads.prepare(spec), workloads, RunTelemetry.NONE,
                settings(a), UserRunRecoveryIT::policy, Clock.systemUTC());
        whole.run();
        assertEquals(RunState.FINISHED, whole.status().state(), String.valueOf(whole.status().error()));
        assertInstanceOf(Network.Graph.class, whole.network());

        Path runDir = TrainingRun.runDirectory(a, "g1");
        CheckpointStore store = new CheckpointStore(runDir, 1000);
        List<Path> oldestFirst = new ArrayList<>(store.files());
        Collections.reverse(oldestFirst);
        Path crashPoint = oldestFirst.get(2);
        CheckpointStore.Loaded loaded = store.read(crashPoint, List.of());
        assertTrue(loaded.checkpoint().step() > 0 && loaded.checkpoint().step() < STEPS);

        // DL4J alone reads the checkpoint's model: the graph with its updater state and the fitted normalizer.
        try (ZipFile zip = new ZipFile(crashPoint.toFile()); InputStream model = zip.getInputStream(
                zip.getEntry("model.zip"))) {
            Pair<ComputationGraph, Normalizer> restored = ModelSerializer.restoreComputationGraphAndNormalizer(
                    new ByteArrayInputStream(model.readAllBytes()), true);
            assertEquals(List.of("lstm", "class"), List.of(restored.getFirst().getLayers()).stream()
                    .map(l -> l.conf().getLayer().getLayerName()).toList());
            assertInstanceOf(NormalizerStandardize.class, restored.getSecond());
        }

        // The training files change after the crash; the resumed run still uses the normalizer it was fitted with.
        Path b = tmp.resolve("b");
        Path crashed = TrainingRun.runDirectory(b, "g1");
        Files.createDirectories(crashed);
        Files.copy(crashPoint, crashed.resolve(crashPoint.getFileName()));
        RunRegistry registry = new RunRegistry(workloads, RunTelemetry.NONE, settings(b), 20, policy(),
                Clock.systemUTC());
        assertEquals(1, registry.recover().size());
        assertEquals(RunState.INTERRUPTED, registry.find("g1").orElseThrow().state());
        registry.resume("g1", "api", null);
        TrainingRun resumed = registry.run("g1").orElseThrow();
        await().atMost(Duration.ofMinutes(5)).until(() -> resumed.status().state().terminal());
        registry.close();

        assertEquals(RunState.FINISHED, resumed.status().state(), String.valueOf(resumed.status().error()));
        assertEquals(STEPS, resumed.status().step());
        RunRecoveryIT.assertBitwiseEqual(whole.network(), resumed.network());
        assertEquals(whole.status().evaluation(), resumed.status().evaluation());
    }

    @Test
    void theResumedRunAppliesTheSavedNormalizerNotOneFittedOnChangedFiles() throws IOException {
        Path user = UserRuns.copy(ExampleFiles.TABULAR, tmp.resolve("user"));
        Workloads workloads = new Workloads(() -> null, user);
        RunSpec spec = UserRuns.spec(ExampleFiles.TABULAR, 20);
        TrainingSetup fitted = workloads.prepare(spec);
        NormalizerStandardize saved = (NormalizerStandardize) fitted.normalizer();
        // Every training value doubled: a new fit would find another mean and spread.
        Path train = user.resolve("train.csv");
        List<String> lines = new ArrayList<>(Files.readAllLines(train));
        for (int i = 1; i < lines.size(); i++) {
            String[] v = lines.get(i).split(",");
            for (int j = 0; j < v.length - 1; j++) {
                v[j] = String.valueOf(2 * Double.parseDouble(v[j]));
            }
            lines.set(i, String.join(",", v));
        }
        Files.write(train, lines);
        NormalizerStandardize refitted = (NormalizerStandardize) workloads.prepare(spec).normalizer();
        assertTrue(!refitted.getMean().equals(saved.getMean()), "the changed file fits another mean");
        TrainingSetup restored = workloads.prepare(spec, saved);
        assertEquals(saved.getMean(), ((NormalizerStandardize) restored.normalizer()).getMean());
        // The first batch is the doubled data scaled by the saved statistics: about twice the standardized values.
        double fittedMean = fitted.train().next().getFeatures().meanNumber().doubleValue();
        double restoredMean = restored.train().next().getFeatures().meanNumber().doubleValue();
        assertTrue(Math.abs(restoredMean) > Math.abs(fittedMean), fittedMean + " vs " + restoredMean);
    }
}
