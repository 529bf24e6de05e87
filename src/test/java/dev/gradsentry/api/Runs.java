package dev.gradsentry.api;

import io.restassured.http.ContentType;
import io.restassured.path.json.JsonPath;

import java.time.Duration;

import static dev.gradsentry.api.Api.given;

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

    /** Polls the run until it leaves {@code running}; fails after {@code timeout}. */
    static JsonPath awaitEnd(String id, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            JsonPath run = given().when().get("/api/runs/" + id).then().statusCode(200).extract().jsonPath();
            if (!"running".equals(run.getString("state"))) {
                return run;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("run " + id + " still running after " + timeout);
    }

    /** Polls the run until it has done {@code step} steps; fails after {@code timeout}. */
    static void awaitStep(String id, long step, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            long done = given().when().get("/api/runs/" + id).then().statusCode(200).extract().jsonPath()
                    .getLong("step");
            if (done >= step) {
                return;
            }
            Thread.sleep(20);
        }
        throw new AssertionError("run " + id + " did not reach step " + step + " within " + timeout);
    }

    /** Stops whatever run is active so that a test can start its own. */
    static void stopActive() {
        var current = given().when().get("/api/runs/current");
        if (current.statusCode() == 200 && "running".equals(current.jsonPath().getString("state"))) {
            given().when().delete("/api/runs/" + current.jsonPath().getString("id")).then().statusCode(200);
        }
    }
}
