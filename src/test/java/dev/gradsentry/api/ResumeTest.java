package dev.gradsentry.api;

import io.quarkus.test.junit.QuarkusTest;
import io.restassured.RestAssured;
import io.restassured.http.ContentType;
import io.restassured.path.json.JsonPath;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

import static dev.gradsentry.api.Api.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A run the guard paused can be resumed, through the API or by an alert; nothing else can. */
@QuarkusTest
@Tag("quarkus")
class ResumeTest {

    @AfterEach
    void restoreDefaults() {
        given().contentType(ContentType.JSON).body(Api.DEFAULT_POLICY).when().put("/api/policy").then().statusCode(200);
        Runs.stopActive();
    }

    private String alert(String action, String fingerprint, String run) throws IOException {
        try (InputStream in = getClass().getResourceAsStream("/alertmanager/payload-firing.json")) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8)
                    .replace("\"tune_clipping\"", "\"" + action + "\"").replace("b2d491ae0c9151f9", fingerprint)
                    .replace("\"run\": \"r1\"", "\"run\": \"" + run + "\"");
        }
    }

    @Test
    void aPausedRunResumesThroughTheApiAndThroughAnAlert() throws Exception {
        Runs.stopActive();
        // Without clipping (the adaptive policy would rescue this run) the first rollback exhausts the recoveries.
        given().contentType(ContentType.JSON).body(Api.DEFAULT_POLICY.replace("\"maxRecoveries\":8",
                "\"maxRecoveries\":1").replace("\"adaptive\"", "\"none\"")).when().put("/api/policy").then()
                .statusCode(200);
        String id = Runs.start("{\"workload\":\"fashion-mlp\",\"learningRate\":10,\"steps\":100000,"
                + "\"evalExamples\":100}");
        long pausedAt = Runs.awaitState(id, "paused", Duration.ofSeconds(90)).getLong("step");

        RestAssured.given().when().post("/api/runs/" + id + "/resume").then().statusCode(401);
        given().when().get("/api/runs/" + id + "/interventions?kind=pause").then().body("total", equalTo(1));
        given().when().post("/api/runs/" + id + "/resume").then().statusCode(200).body("state", equalTo("running"));
        Runs.awaitStep(id, pausedAt + 1, Duration.ofSeconds(60));
        given().when().get("/api/runs/" + id + "/interventions?kind=resume").then()
                .body("total", equalTo(1)).body("items[0].reason", equalTo("api"));

        // An alert pauses it and another resumes it: the same engine, audited with reason alert.
        given().contentType(ContentType.JSON).body(alert("pause", "feedbeef00000008", id))
                .when().post("/api/alerts/alertmanager").then().statusCode(200);
        Runs.awaitState(id, "paused", Duration.ofSeconds(90));
        given().contentType(ContentType.JSON).body(alert("resume", "feedbeef00000009", id))
                .when().post("/api/alerts/alertmanager").then().statusCode(200).body("applied", equalTo(1));
        given().when().get("/api/runs/" + id + "/interventions?kind=resume").then()
                .body("total", equalTo(2)).body("items[1].reason", equalTo("alert"));

        given().when().delete("/api/runs/" + id).then().statusCode(200);
        JsonPath stopped = given().when().get("/api/runs/" + id).then().extract().jsonPath();
        assertTrue(stopped.getString("state").equals("stopped") || stopped.getString("state").equals("paused"),
                stopped.prettify());
        assertTrue(stopped.getLong("step") > pausedAt);
    }

    @Test
    void aSuspendedRunIsInterruptedAndResumesFromItsLastStepWhileAStoppedOneCannot() {
        Runs.stopActive();
        String body = "{\"workload\":\"adding\",\"steps\":100000,\"sequenceLength\":5,\"evalExamples\":10}";
        String id = Runs.start(body);
        Runs.awaitStep(id, 5, Duration.ofSeconds(60));
        given().when().delete("/api/runs/" + id + "?suspend=maybe").then().statusCode(400)
                .contentType("application/problem+json").body("detail", containsString("suspend"));
        JsonPath suspended = given().when().delete("/api/runs/" + id + "?suspend=true").then().statusCode(200)
                .extract().jsonPath();
        assertEquals("interrupted", suspended.getString("state"), suspended.prettify());
        long suspendedAt = suspended.getLong("step");
        given().when().post("/api/runs/" + id + "/resume").then().statusCode(200).body("state", equalTo("running"));
        Runs.awaitStep(id, suspendedAt + 1, Duration.ofSeconds(60));
        given().when().get("/api/runs/" + id + "/interventions?kind=resume").then()
                .body("total", equalTo(1)).body("items[0].step", equalTo((int) suspendedAt));

        given().when().delete("/api/runs/" + id).then().statusCode(200).body("state", equalTo("stopped"));
        given().when().post("/api/runs/" + id + "/resume").then().statusCode(409);
    }

    @Test
    void onlyAPausedRunCanBeResumed() throws IOException {
        Runs.stopActive();
        String id = Runs.start("{\"workload\":\"adding\",\"steps\":2,\"sequenceLength\":5,\"evalExamples\":10}");
        assertEquals("finished", Runs.awaitEnd(id, Duration.ofSeconds(60)).getString("state"));
        given().when().post("/api/runs/" + id + "/resume").then().statusCode(409)
                .contentType("application/problem+json");
        given().when().post("/api/runs/unknown/resume").then().statusCode(404);
    }
}
