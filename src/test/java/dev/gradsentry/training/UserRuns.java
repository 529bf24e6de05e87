package dev.gradsentry.training;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.gradsentry.core.InvalidSettingException;
import dev.gradsentry.core.probe.GradientProbe;
import dev.gradsentry.examples.ExampleFiles;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The examples under {@code examples/} as user directories of tests: each copied into a temporary directory. */
public final class UserRuns {

    /** The committed examples, relative to the repository root where Maven runs the tests. */
    public static final Path EXAMPLES = Path.of("examples");

    private static final ObjectMapper JSON = new ObjectMapper().registerModule(EnumJson.module());

    private UserRuns() {
    }

    /** Copies the example {@code name} into {@code userDir} and returns {@code userDir}. */
    public static Path copy(String name, Path userDir) {
        Path from = EXAMPLES.resolve(name);
        try (Stream<Path> files = Files.walk(from)) {
            for (Path f : files.toList()) {
                Path to = userDir.resolve(from.relativize(f).toString());
                if (Files.isDirectory(f)) {
                    Files.createDirectories(to);
                } else {
                    Files.copy(f, to);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return userDir;
    }

    /** The example's run file as a JSON object, to change before it is read. */
    public static ObjectNode runFile(String name) {
        try {
            return (ObjectNode) JSON.readTree(EXAMPLES.resolve(name).resolve("run.json").toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The spec a run file describes, with {@code steps} steps; the built-in defaults of {@link RunSpec#user}. */
    public static RunSpec spec(ObjectNode run, long steps) {
        try {
            UserData data = JSON.treeToValue(run.get("data"), UserData.class);
            RunSpec d = RunSpec.user(run.get("model").asText(), data);
            return new RunSpec(d.workload(), d.cell(), d.activation(), d.recurrentGain(), d.hidden(), d.optimizer(),
                    d.learningRate(), run.path("batchSize").asInt(d.batchSize()), steps, d.seed(),
                    run.path("evalInterval").asInt(d.evalInterval()), d.evalExamples(), d.sequenceLength(),
                    d.model(), d.data());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static RunSpec spec(String example, long steps) {
        return spec(runFile(example), steps);
    }

    /** Asserts that {@code e} names the field {@code field} and that its message holds each of {@code words}. */
    public static void assertNames(InvalidSettingException e, String field, String... words) {
        assertEquals(field, e.field(), e.getMessage());
        for (String w : words) {
            assertTrue(e.getMessage().contains(w), "'" + w + "' in: " + e.getMessage());
        }
    }

    /** Trains {@code steps} steps, asserts that the loss came down, and returns the held-out metric after them. */
    public static double trained(TrainingSetup setup, int steps) {
        GradientProbe probe = setup.network().attachProbe();
        double first = Double.NaN;
        for (int i = 0; i < steps; i++) {
            setup.network().fit(setup.train().next());
            first = i == 0 ? probe.lastStep().loss() : first;
        }
        assertTrue(probe.lastStep().loss() < first, "loss " + first + " -> " + probe.lastStep().loss());
        return setup.evaluate(steps).value();
    }

    public static final String[] ALL = {ExampleFiles.TABULAR, ExampleFiles.REGRESSION, ExampleFiles.SEQUENCE};
}
