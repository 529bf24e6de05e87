package dev.gradsentry.api;

import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import io.restassured.path.json.JsonPath;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static dev.gradsentry.api.Api.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.endsWith;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.not;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

@QuarkusTest
@Tag("quarkus")
class RunResourceTest {

    private static final String SHORT_MLP =
            "{\"workload\":\"fashion-mlp\",\"steps\":30,\"evalInterval\":10,\"evalExamples\":200}";

    @BeforeEach
    void noActiveRun() {
        Runs.stopActive();
    }

    @Test
    void aShortRunFinishesAndItsLayersAppearOnTheMetricsEndpoint() {
        String id = given().contentType(ContentType.JSON).body(SHORT_MLP)
                .when().post("/api/runs")
                .then().statusCode(201)
                .header("Location", endsWith("/api/runs/" + given().when().get("/api/runs/current").path("id")))
                .body("state", equalTo("running"))
                .body("spec.workload", equalTo("fashion-mlp"))
                .body("spec.optimizer", equalTo("sgd"))
                .extract().path("id");
        JsonPath run = Runs.awaitEnd(id, Duration.ofSeconds(120));
        assertEquals("finished", run.getString("state"), run.prettify());
        assertEquals(30, run.getInt("step"));
        assertEquals("accuracy", run.getString("evaluation.metric"));
        assertTrue(run.getDouble("evaluation.value") > 0.3, run.prettify());
        assertTrue(Double.isFinite(run.getDouble("loss")));

        given().when().get("/api/runs/current").then().statusCode(200).body("id", equalTo(id));
        given().when().get("/api/runs").then().statusCode(200).body("[0].id", equalTo(id));

        String scrape = given().accept("text/plain").when().get("/q/metrics").then().statusCode(200)
                .extract().asString();
        for (String layer : new String[] {"0_dense", "1_dense", "2_output"}) {
            assertFinite(scrape, "gradsentry_layer_gradient_norm", Map.of("layer", layer));
            assertFinite(scrape, "gradsentry_layer_gradient_max_abs", Map.of("layer", layer));
            assertFinite(scrape, "gradsentry_layer_update_ratio", Map.of("layer", layer));
            for (String param : new String[] {"W", "b"}) {
                assertFinite(scrape, "gradsentry_param_gradient_norm", Map.of("layer", layer, "param", param));
            }
        }
        assertFinite(scrape, "gradsentry_global_gradient_norm", Map.of());
        assertFinite(scrape, "gradsentry_loss", Map.of());
        assertEquals(0.1, value(scrape, "gradsentry_learning_rate", Map.of()), 1e-9);
        assertEquals(30, value(scrape, "gradsentry_run_step", Map.of()));
        assertEquals(1, value(scrape, "gradsentry_run_state", Map.of("state", "finished")));
        assertTrue(value(scrape, "gradsentry_steps_total", Map.of()) >= 30);
        assertTrue(value(scrape, "gradsentry_step_seconds_count", Map.of()) >= 30);
        assertEquals(1, value(scrape, "gradsentry_run_info", Map.of("run", id, "workload", "fashion-mlp")));
    }

    /** The value of the one series of {@code name} whose labels include {@code labels}. */
    static double value(String scrape, String name, Map<String, String> labels) {
        Matcher m = Pattern.compile("(?m)^" + Pattern.quote(name) + "(\\{([^}]*)})? (\\S+)$").matcher(scrape);
        while (m.find()) {
            String lbls = m.group(2) == null ? "" : m.group(2);
            boolean all = labels.entrySet().stream()
                    .allMatch(e -> lbls.contains(e.getKey() + "=\"" + e.getValue() + "\""));
            if (all) {
                return Double.parseDouble(m.group(3));
            }
        }
        throw new AssertionError("no series " + name + labels + " in the scrape");
    }

    private static void assertFinite(String scrape, String name, Map<String, String> labels) {
        double v = value(scrape, name, labels);
        assertTrue(Double.isFinite(v), name + labels + " = " + v);
    }

    @Test
    void onlyOneRunTrainsAtATimeAndDeleteStopsIt() {
        String id = Runs.start("{\"workload\":\"fashion-mlp\",\"steps\":1000000}");
        given().contentType(ContentType.JSON).body(SHORT_MLP)
                .when().post("/api/runs")
                .then().statusCode(409)
                .contentType("application/problem+json")
                .body("detail", containsString(id));
        given().when().delete("/api/runs/" + id)
                .then().statusCode(200)
                .body("state", equalTo("stopped"));
        given().when().get("/api/runs/current").then().body("state", equalTo("stopped"));
    }

    @Test
    void epochsAreConvertedToSteps() {
        String id = Runs.start("{\"workload\":\"adding\",\"epochs\":2,\"batchSize\":1000,\"sequenceLength\":5,"
                + "\"evalExamples\":50}");
        JsonPath run = given().when().get("/api/runs/" + id).then().extract().jsonPath();
        assertEquals(20, run.getLong("totalSteps"));
        given().when().delete("/api/runs/" + id).then().statusCode(200);
    }

    @Test
    void unknownRunsAre404Problems() {
        given().when().get("/api/runs/nope").then().statusCode(404)
                .contentType("application/problem+json").body("status", equalTo(404))
                .body("detail", containsString("nope"));
        given().when().delete("/api/runs/nope").then().statusCode(404).contentType("application/problem+json");
    }

    @Test
    void invalidBodiesAre400ProblemsNamingTheField() {
        badRequest("{\"workload\":\"imagenet\"}", "workload", "fashion-mlp, fashion-rnn, adding");
        badRequest("{}", "workload", "required");
        badRequest("{\"workload\":\"fashion-mlp\",\"learningRate\":-1}", "learningRate", "(0, 10000]");
        badRequest("{\"workload\":\"fashion-mlp\",\"learningRate\":0}", "learningRate", "(0, 10000]");
        badRequest("{\"workload\":\"fashion-mlp\",\"learningRate\":1e400}", "learningRate", "");
        badRequest("{\"workload\":\"fashion-mlp\",\"batchSize\":0}", "batchSize", "between 1 and 60000");
        badRequest("{\"workload\":\"fashion-mlp\",\"steps\":\"many\"}", "steps", "wrong type");
        badRequest("{\"workload\":\"fashion-mlp\",\"steps\":0}", "steps", "between 1");
        badRequest("{\"workload\":\"fashion-mlp\",\"steps\":10,\"epochs\":1}", "epochs", "not both");
        badRequest("{\"workload\":\"fashion-mlp\",\"optimizer\":\"lbfgs\"}", "optimizer", "sgd, adam");
        badRequest("{\"workload\":\"fashion-rnn\",\"cell\":\"gru\"}", "cell", "lstm, rnn");
        badRequest("{\"workload\":\"fashion-mlp\",\"evalInterval\":-5}", "evalInterval", ">= 0");
        badRequest("{\"workload\":\"adding\",\"sequenceLength\":1}", "sequenceLength", "between 2");
        badRequest("{\"workload\":\"fashion-mlp\",\"stepz\":10}", "stepz", "valid fields");
        badRequest("{\"workload\":\"fashion-mlp\",\"hidden\":2.5}", "hidden", "wrong type");
        badRequest("{\"workload\":\"fashion-mlp\",\"learningRate\":NaN}", "learningRate", "not valid JSON");
        badRequest("{\"workload\":", "body", "not valid JSON");
        badRequest("", "workload", "empty");
        given().contentType(ContentType.TEXT).body("workload=fashion-mlp")
                .when().post("/api/runs")
                .then().statusCode(415).contentType("application/problem+json");
        given().when().get("/api/runs/current").then()
                .body("state", not(equalTo("running")));
    }

    private static void badRequest(String body, String field, String detailPart) {
        var response = given().contentType(ContentType.JSON).body(body)
                .when().post("/api/runs")
                .then().statusCode(400)
                .contentType("application/problem+json")
                .body("status", equalTo(400))
                .body("detail", containsString(detailPart))
                .body(not(containsString("Exception")))
                .body(not(containsString("\tat ")));
        if (field != null) {
            response.body("field", equalTo(field));
        }
    }
}
