package dev.gradsentry.api;

import io.restassured.http.ContentType;
import io.restassured.path.json.JsonPath;

import java.time.Duration;

import static dev.gradsentry.api.Api.given;
import static org.awaitility.Awaitility.await;

/** Starts runs through the REST API and waits for them, every wait bounded. */
final class Runs {

    private Runs() {
    }

    static String start(String body) {
        return given().contentType(ContentType.JSON).body(body)
                .when().post("/api/runs")
                .then().statusCode(201)
                .extract().path("id");
    }

    static JsonPath get(String id) {
        return given().when().get("/api/runs/" + id).then().statusCode(200).extract().jsonPath();
    }

    /** Waits until the run leaves {@code running}; fails after {@code timeout}. */
    static JsonPath awaitEnd(String id, Duration timeout) {
        return await("run " + id + " to end").atMost(timeout).pollInterval(Duration.ofMillis(100))
                .until(() -> get(id), run -> !"running".equals(run.getString("state")));
    }

    /** Waits until the run is in {@code state}; fails after {@code timeout}. */
    static JsonPath awaitState(String id, String state, Duration timeout) {
        return await("run " + id + " to be " + state).atMost(timeout).pollInterval(Duration.ofMillis(50))
                .until(() -> get(id), run -> state.equals(run.getString("state")));
    }

    /** Waits until the run has done {@code step} steps; fails after {@code timeout}. */
    static void awaitStep(String id, long step, Duration timeout) {
        await("run " + id + " to reach step " + step).atMost(timeout).pollInterval(Duration.ofMillis(20))
                .until(() -> get(id).getLong("step") >= step);
    }

    /** How many interventions of {@code kind} the run's audit log holds. */
    static int interventions(String id, String kind) {
        return given().when().get("/api/runs/" + id + "/interventions?kind=" + kind).then().statusCode(200)
                .extract().path("total");
    }

    /** Waits until the run's audit log holds an intervention of {@code kind}; returns how many it holds then. */
    static int awaitIntervention(String id, String kind, Duration timeout) {
        return await("a " + kind + " intervention in run " + id).atMost(timeout)
                .pollInterval(Duration.ofMillis(50)).until(() -> interventions(id, kind), total -> total > 0);
    }

    /** Stops whatever run is active so that a test can start its own. */
    static void stopActive() {
        var current = given().when().get("/api/runs/current");
        if (current.statusCode() == 200 && "running".equals(current.jsonPath().getString("state"))) {
            given().when().delete("/api/runs/" + current.jsonPath().getString("id")).then().statusCode(200);
        }
    }
}
