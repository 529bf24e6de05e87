package dev.gradsentry.api;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.RestAssured;
import io.restassured.http.ContentType;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

import static dev.gradsentry.api.Api.given;
import static org.hamcrest.Matchers.containsString;
import static org.awaitility.Awaitility.await;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;


/** The Alertmanager webhook with real captured bodies (../shared/reference), and the bearer token. */
@QuarkusTest
@Tag("quarkus")
class AlertResourceTest {

    private static String fixture(String name) throws IOException {
        try (InputStream in = AlertResourceTest.class.getResourceAsStream("/alertmanager/" + name)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    /** The captured firing body, re-labelled with one of GradSentry's actions, a fresh fingerprint and a run. */
    private static String firing(String action, String fingerprint, String run) throws IOException {
        return fixture("payload-firing.json")
                .replace("\"tune_clipping\"", "\"" + action + "\"")
                .replace("b2d491ae0c9151f9", fingerprint)
                .replace("\"run\": \"r1\"", "\"run\": \"" + run + "\"");
    }

    private static io.restassured.response.ValidatableResponse post(String body) {
        return given().contentType(ContentType.JSON).body(body)
                .when().post("/api/alerts/alertmanager").then();
    }

    @Test
    void theCapturedBodiesAreAcceptedAndAnUnknownActionIsIgnored() throws IOException {
        post(fixture("payload-firing.json")).statusCode(200)
                .body("applied", equalTo(0)).body("ignored", equalTo(1))
                .body("notes[0]", containsString("tune_clipping"));
        post(fixture("payload-resolved.json")).statusCode(200).body("resolved", equalTo(1));
    }

    @Test
    void aFiringAlertTightensTheRunningGuardOnceAndIsAudited() throws Exception {
        Runs.stopActive();
        String id = Runs.start("{\"workload\":\"fashion-mlp\",\"steps\":1000000}");
        Runs.awaitStep(id, 1, Duration.ofSeconds(60));
        String body = firing("tighten-clipping", "feedbeef00000001", id);
        post(body).statusCode(200).body("applied", equalTo(1)).body("duplicates", equalTo(0));
        post(body).statusCode(200).body("applied", equalTo(0)).body("duplicates", equalTo(1));
        Runs.awaitIntervention(id, "clip-tighten", Duration.ofSeconds(60));
        // The repeated delivery must not tighten again: the count stays at one for a few steps.
        await("one tightening only").during(Duration.ofMillis(300)).atMost(Duration.ofSeconds(2))
                .until(() -> Runs.interventions(id, "clip-tighten"), total -> total == 1);
        given().when().get("/api/runs/" + id + "/interventions?kind=clip-tighten").then()
                .body("total", equalTo(1))
                .body("items[0].reason", equalTo("alert"))
                .body("items[0].after", equalTo(0.5f))
                .body("items[0].detail", containsString("feedbeef00000001"));
        given().when().delete("/api/runs/" + id).then().statusCode(200);
    }

    @Test
    void withoutARunningRunAnActionIsReportedAsNotApplied() throws IOException {
        Runs.stopActive();
        post(firing("rollback", "feedbeef00000002", "r1")).statusCode(200)
                .body("applied", equalTo(0)).body("ignored", equalTo(1))
                .body("notes[0]", containsString("no run is training"));
    }

    /**
     * A delivery that could not be applied (its run was paused) is not remembered: Alertmanager's redelivery, once the
     * run trains again, is applied, and only then is a further redelivery a duplicate.
     */
    @Test
    void aDeliveryNotAppliedIsAppliedWhenRedeliveredOnceItsRunTrains() throws Exception {
        Runs.stopActive();
        String id = Runs.start("{\"workload\":\"fashion-mlp\",\"steps\":1000000}");
        Runs.awaitStep(id, 1, Duration.ofSeconds(60));
        post(firing("pause", "feedbeef00000004", id)).statusCode(200).body("applied", equalTo(1));
        Runs.awaitState(id, "paused", Duration.ofSeconds(60));
        String body = firing("tighten-clipping", "feedbeef00000003", id);
        post(body).statusCode(200).body("applied", equalTo(0)).body("ignored", equalTo(1))
                .body("duplicates", equalTo(0)).body("notes[0]", containsString("no run is training"));
        given().when().post("/api/runs/" + id + "/resume").then()
                .statusCode(200);
        post(body).statusCode(200).body("applied", equalTo(1)).body("duplicates", equalTo(0));
        post(body).statusCode(200).body("applied", equalTo(0)).body("duplicates", equalTo(1));
        Runs.awaitIntervention(id, "clip-tighten", Duration.ofSeconds(60));
        given().when().delete("/api/runs/" + id).then().statusCode(200);
        assertEquals(1, Runs.interventions(id, "clip-tighten"));
    }

    /**
     * An alert is applied only to the run it names: one about another run, or naming no run, is answered as ignored
     * with the reason and changes nothing, and is not remembered.
     */
    @Test
    void anAlertAboutAnotherRunOrNoRunIsIgnoredWithTheReason() throws Exception {
        Runs.stopActive();
        String id = Runs.start("{\"workload\":\"fashion-mlp\",\"steps\":1000000}");
        Runs.awaitStep(id, 1, Duration.ofSeconds(60));
        post(firing("pause", "feedbeef00000005", "20261201-000000-abcd")).statusCode(200)
                .body("applied", equalTo(0)).body("ignored", equalTo(1))
                .body("notes[0]", containsString("run 20261201-000000-abcd is not training here (run " + id
                        + " is)"));
        post(firing("pause", "feedbeef00000006", "r1").replace("\"run\": \"r1\",", "")).statusCode(200)
                .body("applied", equalTo(0)).body("ignored", equalTo(1))
                .body("notes[0]", containsString("no run label"));
        Runs.awaitStep(id, Runs.get(id).getLong("step") + 5, Duration.ofSeconds(60));
        given().when().get("/api/runs/" + id).then().body("state", equalTo("running"));
        assertEquals(0, Runs.interventions(id, "pause"));

        // One delivery, the same action for another run first and for this one second: this one's is applied.
        String other = firing("tighten-clipping", "feedbeef00000007", "20261201-000000-abcd");
        String mine = firing("tighten-clipping", "feedbeef00000008", id);
        ObjectMapper json = new ObjectMapper();
        ObjectNode both = (ObjectNode) json.readTree(other);
        ((ArrayNode) both.path("alerts")).add(json.readTree(mine).path("alerts").get(0));
        post(both.toString()).statusCode(200).body("applied", equalTo(1)).body("ignored", equalTo(1));
        Runs.awaitIntervention(id, "clip-tighten", Duration.ofSeconds(60));
        given().when().delete("/api/runs/" + id).then().statusCode(200);
    }

    @Test
    void malformedBodiesAre400sNamingTheField() throws IOException {
        String good = fixture("payload-firing.json");
        bad(good.replace("\"version\": \"4\"", "\"version\": \"3\""), "version");
        bad("{\"version\":\"4\"}", "alerts");
        bad(good.replace("\"fingerprint\": \"b2d491ae0c9151f9\",", "").replace("\"fingerprint\": \"b2d491ae0c9151f9\"",
                "\"fingerprint\": \"\""), "alerts[0].fingerprint");
        bad(good.replace("\"startsAt\": \"2026-11-25T11:26:16.371Z\"", "\"startsAt\": \"yesterday\""),
                "alerts[0].startsAt");
        bad(good.replace("\"status\": \"firing\",\n      \"labels\"", "\"status\": \"burning\",\n      \"labels\""),
                "alerts[0].status");
        bad("{\"version\":\"4\",\"alerts\":[{\"status\":", null);
        bad("", "alerts");
    }

    private static void bad(String body, String field) {
        var r = post(body).statusCode(400).contentType("application/problem+json");
        if (field != null) {
            r.body("field", equalTo(field));
        }
    }

    @Test
    void emptyAndLargeGroupsAreFineAndOversizedBodiesAre413() {
        post("{\"version\":\"4\",\"status\":\"firing\",\"alerts\":[]}").statusCode(200).body("applied", equalTo(0));
        StringBuilder many = new StringBuilder("{\"version\":\"4\",\"status\":\"firing\",\"alerts\":[");
        for (int i = 0; i < 1000; i++) {
            many.append(i == 0 ? "" : ",").append("{\"status\":\"firing\",\"labels\":{\"alertname\":\"A\",\"action\":")
                    .append("\"none\"},\"startsAt\":\"2026-11-25T11:26:16Z\",\"fingerprint\":\"f").append(i)
                    .append("\"}");
        }
        post(many.append("]}").toString()).statusCode(200).body("ignored", equalTo(1000));
        String huge = "{\"version\":\"4\",\"alerts\":[],\"pad\":\"" + "x".repeat(1_100_000) + "\"}";
        post(huge).statusCode(413).contentType("application/problem+json");
    }

    @Test
    void mutationsNeedTheTokenReadsDoNot() throws IOException {
        int runsBefore = RestAssured.given().when().get("/api/runs").then().statusCode(200)
                .extract().jsonPath().getList("$").size();
        String policyBefore = RestAssured.given().when().get("/api/policy").then().extract().asString();
        RestAssured.given().contentType(ContentType.JSON).body("{\"workload\":\"fashion-mlp\"}")
                .when().post("/api/runs").then().statusCode(401)
                .contentType("application/problem+json")
                .header("WWW-Authenticate", containsString("Bearer"))
                .body("detail", containsString("Authorization: Bearer"));
        RestAssured.given().header("Authorization", "Bearer wrong-token").contentType(ContentType.JSON)
                .body("{\"workload\":\"fashion-mlp\"}").when().post("/api/runs").then().statusCode(401)
                .body("detail", containsString("wrong"));
        RestAssured.given().header("Authorization", "Bearer wrong-token").contentType(ContentType.JSON)
                .body("{\"mode\":\"off\"}").when().put("/api/policy").then().statusCode(401);
        RestAssured.given().contentType(ContentType.JSON).body(firing("pause", "feedbeef00000003", "r1"))
                .when().post("/api/alerts/alertmanager").then().statusCode(401);
        RestAssured.given().when().delete("/api/runs/anything").then().statusCode(401);
        assertEquals(runsBefore, RestAssured.given().when().get("/api/runs").then().extract().jsonPath()
                .getList("$").size());
        assertEquals(policyBefore, RestAssured.given().when().get("/api/policy").then().extract().asString());
        RestAssured.given().when().get("/q/metrics").then().statusCode(200);
        RestAssured.given().when().get("/q/health").then().statusCode(200);
    }
}
