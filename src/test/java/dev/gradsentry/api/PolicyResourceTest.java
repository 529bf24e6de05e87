package dev.gradsentry.api;

import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import io.restassured.path.json.JsonPath;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static dev.gradsentry.api.Api.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.everyItem;
import static org.hamcrest.Matchers.hasItem;
import static org.hamcrest.Matchers.hasSize;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

@QuarkusTest
@Tag("quarkus")
class PolicyResourceTest {

    private static final String DEFAULTS = Api.DEFAULT_POLICY;

    @AfterEach
    void restoreDefaults() {
        given().contentType(ContentType.JSON).body(DEFAULTS).when().put("/api/policy").then().statusCode(200);
    }

    @Test
    void theDefaultIsTheAdaptivePolicyInAutoMode() {
        given().when().get("/api/policy").then().statusCode(200)
                .body("mode", equalTo("auto"))
                .body("policy", equalTo("adaptive"))
                .body("settings.percentile", equalTo(90.0f))
                .body("policies", hasItem("zclip"));
    }

    @Test
    void aValidChangeIsAppliedAndShown() {
        given().contentType(ContentType.JSON).body("{\"policy\":\"global-norm\",\"settings\":{\"threshold\":0.5},"
                        + "\"mode\":\"observe\",\"lrBackoffFactor\":0.25}")
                .when().put("/api/policy").then().statusCode(200)
                .body("policy", equalTo("global-norm"))
                .body("settings.threshold", equalTo(0.5f))
                .body("mode", equalTo("observe"));
        given().when().get("/api/policy").then()
                .body("policy", equalTo("global-norm"))
                .body("lrBackoffFactor", equalTo(0.25f));
        given().contentType(ContentType.JSON).body("{\"policy\":\"zclip\"}")
                .when().put("/api/policy").then().statusCode(200)
                .body("settings.zThreshold", equalTo(2.5f));
    }

    @Test
    void invalidChangesAre400sNamingTheFieldAndChangeNothing() {
        String before = given().when().get("/api/policy").then().extract().asString();
        rejected("{\"policy\":\"clip-everything\"}", "policy", "adaptive");
        rejected("{\"policy\":\"value\",\"settings\":{\"threshold\":-1}}", "settings.threshold", "threshold");
        rejected("{\"policy\":\"norm\",\"settings\":{\"treshold\":1}}", "settings.treshold", "valid settings");
        rejected("{\"mode\":\"yolo\"}", "mode", "auto, observe, off");
        rejected("{\"lrBackoffFactor\":1.5}", "lrBackoffFactor", "(0, 1)");
        rejected("{\"maxRecoveries\":0}", "maxRecoveries", ">= 1");
        rejected("{\"policy\":\"agc\",\"settings\":{\"lambda\":\"big\"}}", "settings.lambda", "wrong type");
        rejected("{\"policy\":\"value\",\"mode\":\"observe\",\"settings\":{\"threshold\":0}}", "settings.threshold",
                "threshold");
        assertEquals(before, given().when().get("/api/policy").then().extract().asString());
    }

    private static void rejected(String body, String field, String detail) {
        given().contentType(ContentType.JSON).body(body).when().put("/api/policy").then().statusCode(400)
                .contentType("application/problem+json")
                .body("field", equalTo(field))
                .body("detail", containsString(detail));
    }

    @Test
    void aChangeDuringARunIsAuditedInThatRun() {
        Runs.stopActive();
        String id = Runs.start("{\"workload\":\"fashion-mlp\",\"steps\":1000000}");
        Runs.awaitStep(id, 1, Duration.ofSeconds(60)); // a change before the first step is simply the run's policy
        given().contentType(ContentType.JSON).body("{\"policy\":\"value\",\"settings\":{\"threshold\":0.1}}")
                .when().put("/api/policy").then().statusCode(200);
        int found = Runs.awaitIntervention(id, "policy-change", Duration.ofSeconds(60));
        given().when().delete("/api/runs/" + id).then().statusCode(200);
        assertEquals(1, found);
        given().when().get("/api/runs/" + id + "/interventions?kind=policy-change").then()
                .body("items[0].policy", equalTo("value"))
                .body("items[0].reason", equalTo("api"));
    }

    @Test
    void interventionsOfARunArePagedFilteredAndKeptOnDisk() throws Exception {
        Runs.stopActive();
        String id = Runs.start("{\"workload\":\"fashion-rnn\",\"cell\":\"rnn\",\"activation\":\"relu\","
                + "\"recurrentGain\":1.5,\"optimizer\":\"sgd\",\"learningRate\":0.1,\"steps\":30,"
                + "\"evalExamples\":100}");
        JsonPath run = Runs.awaitEnd(id, Duration.ofSeconds(120));
        assertEquals("finished", run.getString("state"), run.prettify());
        assertTrue(Double.isFinite(run.getDouble("loss")), "the guard kept the loss finite: " + run.prettify());

        JsonPath all = given().when().get("/api/runs/" + id + "/interventions").then().statusCode(200)
                .extract().jsonPath();
        int total = all.getInt("total");
        assertTrue(total >= 1, all.prettify());
        given().when().get("/api/runs/" + id + "/interventions?kind=clip-enable").then().statusCode(200)
                .body("items.kind", everyItem(equalTo("clip-enable")))
                .body("items[0].policy", equalTo("adaptive"))
                .body("items[0].applied", equalTo(true));
        given().when().get("/api/runs/" + id + "/interventions?limit=1&offset=0").then().statusCode(200)
                .body("items", hasSize(1)).body("total", equalTo(total));
        // A step clipped without a change of the clipping state is audited as clip; it filters like every kind.
        given().when().get("/api/runs/" + id + "/interventions?kind=clip").then().statusCode(200)
                .body("items.kind", everyItem(equalTo("clip")));
        given().when().get("/api/runs/" + id + "/interventions?kind=explode").then().statusCode(400)
                .body("field", equalTo("kind")).body("detail", containsString("lr-backoff, lr-restore, clip-enable"));
        given().when().get("/api/runs/" + id + "/interventions?limit=0").then().statusCode(400)
                .body("field", equalTo("limit"));
        given().when().get("/api/runs/nope/interventions").then().statusCode(404);

        Path log = Path.of("target/test-data/runs", id, "interventions.jsonl");
        assertEquals(total, Files.readAllLines(log).size(), "every intervention is on disk");
        assertTrue(Files.readAllLines(log).get(0).contains("\"run\":\"" + id + "\""));

        String scrape = given().accept("text/plain").when().get("/q/metrics").then().extract().asString();
        assertTrue(scrape.contains("gradsentry_interventions_total{"), "interventions counter missing");
        assertTrue(scrape.contains("gradsentry_clip_threshold{layer=\"0_rnn\""), "threshold gauge missing");
        assertTrue(scrape.contains("gradsentry_clip_active_ratio"), "clip ratio missing");
        assertEquals(List.of(), MetricsEndpointTest.promtoolCheckMetrics(scrape).stream()
                .filter(line -> line.contains("gradsentry")).toList(), "promtool on the guard's meters");
    }
}
