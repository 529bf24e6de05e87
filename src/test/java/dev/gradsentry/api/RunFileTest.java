package dev.gradsentry.api;

import dev.gradsentry.examples.ExampleFiles;
import dev.gradsentry.training.RunRegistry;
import dev.gradsentry.training.RunSpec;
import dev.gradsentry.training.UserRuns;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Run files in JSON and in YAML (by the file's extension): the same fields give the same run, and YAML is held to the
 * JSON rules (unknown field, wrong type, repeated key), each refusal one line naming the key, the file, the field and,
 * where the parser knows it, the line.
 */
@QuarkusTest
@Tag("quarkus")
class RunFileTest {

    private static final Path DIR = UserRunResourceTest.USER.resolve("run-files");
    private static final String YAML = """
            # The tabular example's run, in YAML.
            model: model.json
            data:
              train: train.csv
              test: test.csv
              task: classification
              skipLines: 1
            steps: 40
            batchSize: 32
            learningRate: 0.005
            optimizer: adam
            """;
    private static final String JSON = """
            {"model": "model.json", "data": {"train": "train.csv", "test": "test.csv", "task": "classification",
             "skipLines": 1}, "steps": 40, "batchSize": 32, "learningRate": 0.005, "optimizer": "adam"}
            """;

    @Inject
    RunFile runFile;

    @Inject
    RunRegistry runs;

    @BeforeAll
    static void userDirectory() throws IOException {
        if (!Files.exists(UserRunResourceTest.USER.resolve("model.json"))) {
            UserRuns.copy(ExampleFiles.TABULAR, UserRunResourceTest.USER);
        }
        Files.createDirectories(DIR);
    }

    private RunFile.Prepared read(String name, String text) throws IOException {
        Path file = Files.writeString(DIR.resolve(name), text);
        return runFile.read(runFile.file(file), runs);
    }

    /** The one line the start ends with, checked for the key, the file and {@code words}. */
    private String refused(String name, String text, String... words) {
        InvalidConfigException e = assertThrows(InvalidConfigException.class, () -> read(name, text));
        String line = e.getMessage();
        assertTrue(line.contains("gradsentry.run-file") && line.contains(name), line);
        assertFalse(line.contains("\n"), "one line: " + line);
        for (String w : words) {
            assertTrue(line.contains(w), "'" + w + "' in: " + line);
        }
        return line;
    }

    @Test
    void aYamlRunFileGivesTheRunItsJsonTwinGives() throws IOException {
        RunSpec fromYaml = read("run.yaml", YAML).spec();
        RunSpec fromJson = read("run.json", JSON).spec();
        assertEquals(fromJson, fromYaml);
        assertEquals(40, fromYaml.steps());
        assertEquals(RunSpec.Optimizer.ADAM, fromYaml.optimizer());
        assertEquals("train.csv", fromYaml.data().train());
        assertEquals(fromYaml, read("run.yml", YAML).spec(), ".yml is YAML too");
    }

    @Test
    void yamlIsHeldToTheJsonRules() {
        refused("unknown.yaml", YAML.replace("skipLines: 1", "skipLines: 1\n  colour: 2"), "unknown field 'colour'",
                "data.colour");
        refused("type.yaml", YAML.replace("steps: 40", "steps: \"40\""), "steps has the wrong type",
                "a whole number");
        refused("enum.yaml", YAML.replace("task: classification", "task: sorting"), "data.task 'sorting'",
                "classification, regression");
        refused("repeated.yaml", YAML + "steps: 50\n", "'steps' appears more than once", "line 12");
        refused("syntax.yaml", YAML.replace("  test: test.csv", "  test: [test.csv"), "line 6, column 7",
                "not valid YAML");
        refused("outside.yaml", YAML.replace("model: model.json", "model: ../../model.json"),
                "outside the user directory");
    }

    @Test
    void aJsonSyntaxErrorNamesItsLine() {
        refused("broken.json", JSON.replace("\"steps\": 40,", "\"steps\": 40,,"), "line 2", "not valid JSON");
    }

    @Test
    void aYamlFileThatIsNoMappingIsRefused() {
        refused("list.yaml", "- model.json\n", "body");
    }
}
