package dev.gradsentry.examples;

import dev.gradsentry.core.probe.GradientProbe;
import dev.gradsentry.core.probe.StepStats;
import dev.gradsentry.training.RunSpec;
import dev.gradsentry.training.TrainingSetup;
import dev.gradsentry.training.UserRuns;
import dev.gradsentry.training.Workloads;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The examples under {@code examples/}: the committed files are what {@link ExampleFiles} writes, and each trains
 * from its own run file: the loss comes down over a few dozen steps and the held-out metric beats guessing.
 */
class ExamplesTest {

    @TempDir
    Path tmp;

    @Test
    void theCommittedExamplesAreWhatTheGeneratorWrites() throws IOException {
        ExampleFiles.writeAll(tmp);
        for (String name : UserRuns.ALL) {
            List<Path> written = files(tmp.resolve(name));
            List<Path> committed = files(UserRuns.EXAMPLES.resolve(name)).stream()
                    .filter(p -> !p.getFileName().toString().equals("README.md")).toList();
            assertEquals(written, committed, name + ": the same files");
            for (Path p : written) {
                assertArrayEquals(Files.readAllBytes(tmp.resolve(name).resolve(p)),
                        Files.readAllBytes(UserRuns.EXAMPLES.resolve(name).resolve(p)), name + "/" + p);
            }
        }
    }

    private static List<Path> files(Path dir) throws IOException {
        try (Stream<Path> s = Files.walk(dir)) {
            return s.filter(Files::isRegularFile).map(dir::relativize).sorted().toList();
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {ExampleFiles.TABULAR, ExampleFiles.REGRESSION, ExampleFiles.SEQUENCE})
    void eachExampleTrainsFromItsRunFile(String name) {
        RunSpec spec = UserRuns.spec(name, 60);
        TrainingSetup setup = new Workloads(() -> null, UserRuns.copy(name, tmp)).prepare(spec);
        double before = setup.evaluate(0).value();
        GradientProbe probe = setup.network().attachProbe();
        double firstLoss = Double.NaN;
        for (int i = 0; i < 60; i++) {
            setup.network().fit(setup.train().next());
            StepStats s = probe.lastStep();
            firstLoss = i == 0 ? s.loss() : firstLoss;
        }
        double after = setup.evaluate(60).value();
        double lastLoss = probe.lastStep().loss();
        assertTrue(lastLoss < firstLoss, name + ": loss " + firstLoss + " -> " + lastLoss);
        if (setup.metric().equals("accuracy")) {
            assertTrue(after > 0.5, name + ": accuracy " + before + " -> " + after + " (3 classes)");
        } else {
            assertTrue(after < before, name + ": mse " + before + " -> " + after);
        }
    }
}
