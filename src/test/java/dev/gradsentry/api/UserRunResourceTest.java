package dev.gradsentry.api;

import dev.gradsentry.examples.ExampleFiles;
import dev.gradsentry.training.UserRuns;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import io.restassured.path.json.JsonPath;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.stream.Stream;

import static dev.gradsentry.api.Api.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A user's own model through {@code POST /api/runs}: the tabular example, in the test profile's user directory
 * ({@code target/test-data/user}), trains to the end with its layers on the metrics endpoint; a model or data that
 * does not fit is a 400 problem naming the field, and no run starts.
 */
@QuarkusTest
@Tag("quarkus")
class UserRunResourceTest {

    static final Path USER = Path.of("target", "test-data", "user");
    private static final String RUN = "{\"model\":\"model.json\",\"data\":{\"train\":\"train.csv\","
            + "\"test\":\"test.csv\",\"task\":\"classification\",\"skipLines\":1},\"steps\":40,\"batchSize\":32,"
            + "\"evalInterval\":20}";

    @BeforeAll
    static void userDirectory() throws IOException {
        if (Files.exists(USER)) {
            try (Stream<Path> s = Files.walk(USER)) {
                for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                    Files.delete(p);
                }
            }
        }
        UserRuns.copy(ExampleFiles.TABULAR, USER);
    }

    @BeforeEach
    void noActiveRun() {
        Runs.stopActive();
    }

    @Test
    void aUsersModelTrainsToTheEndWithItsLayersOnTheMetricsEndpoint() {
        String id = given().contentType(ContentType.JSON).body(RUN)
                .when().post("/api/runs")
                .then().statusCode(201)
                .body("spec.workload", equalTo("user"))
                .body("spec.model", equalTo("model.json"))
                .body("spec.data.normalize", equalTo("standardize"))
                .extract().path("id");
        JsonPath run = Runs.awaitEnd(id, Duration.ofSeconds(120));
        assertEquals("finished", run.getString("state"), run.prettify());
        assertEquals(40, run.getInt("step"));
        assertEquals("accuracy", run.getString("evaluation.metric"));
        assertTrue(run.getDouble("evaluation.value") > 0.5, run.prettify());
        String scrape = given().accept("text/plain").when().get("/q/metrics").then().statusCode(200)
                .extract().asString();
        assertTrue(scrape.contains("gradsentry_layer_gradient_norm{layer=\"0_dense\"}")
                || scrape.contains("layer=\"0_dense\""), "the model's own layers");
        assertTrue(scrape.contains("workload=\"user\""), "run info");
    }

    @Test
    void epochsCountTheUsersTrainingExamples() {
        // 240 rows at 32 per step: 7 steps an epoch.
        String id = Runs.start(RUN.replace("\"steps\":40", "\"epochs\":2"));
        assertEquals(14, Runs.get(id).getLong("totalSteps"));
        Runs.awaitEnd(id, Duration.ofSeconds(120));
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
        "model outside         | \"model\":\"model.json\"      | \"model\":\"../model.json\"  | model        | outside the user directory",
        "model missing         | \"model\":\"model.json\"      | \"model\":\"nope.json\"      | model        | is missing",
        "classes               | \"task\":\"classification\"   | \"task\":\"classification\",\"classes\":5 | data.classes | 3 units",
        "loss against task     | \"task\":\"classification\"   | \"task\":\"regression\"      | model        | classification loss",
        "header not skipped    | \"skipLines\":1               | \"skipLines\":0              | data.train   | line 1",
        "unknown data field    | \"skipLines\":1               | \"skipLines\":1,\"colour\":2  | data.colour  | unknown field",
        "split and test        | \"skipLines\":1               | \"skipLines\":1,\"split\":0.5 | data.split  | not both",
        "alignment by name     | \"skipLines\":1               | \"skipLines\":1,\"alignment\":\"sideways\" | data.alignment | valid: equal-length, align-start, align-end",
        "alignment without labels | \"skipLines\":1            | \"skipLines\":1,\"alignment\":\"align-end\" | data.alignment | label files",
        "idx without labels    | \"skipLines\":1               | \"format\":\"idx\"           | data.trainLabels | required for format idx",
        "model for built-in    | \"model\":\"model.json\"      | \"workload\":\"adding\",\"model\":\"model.json\" | model | only for workload user",
    })
    void aModelOrDataThatDoesNotFitIsA400NamingTheField(String name, String from, String to, String field,
                                                       String detail) {
        int runsBefore = given().when().get("/api/runs").then().extract().jsonPath().getList("$").size();
        given().contentType(ContentType.JSON).body(RUN.replace(from, to))
                .when().post("/api/runs")
                .then().statusCode(400)
                .contentType("application/problem+json")
                .body("field", equalTo(field))
                .body("detail", containsString(detail));
        assertEquals(runsBefore, given().when().get("/api/runs").then().extract().jsonPath().getList("$").size(),
                "no run started");
    }
}
