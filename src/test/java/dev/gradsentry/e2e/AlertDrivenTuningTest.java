package dev.gradsentry.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import dev.gradsentry.api.Api;
import dev.gradsentry.dashboards.Dashboards;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.RestAssured;
import io.restassured.http.ContentType;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

import static org.awaitility.Awaitility.await;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.everyItem;
import static org.hamcrest.Matchers.hasSize;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The whole loop with the real peers and the shipped configuration, only its addresses changed: the app trains an
 * exploding run with its guard in observe mode (so only alerts act), a real Prometheus scrapes it every 5 s and
 * evaluates the shipped rules, a real Alertmanager delivers to the app's webhook with the token, and the guard of that
 * run applies the alert's action. The test measures the time from the first non-finite step to the applied rollback,
 * then stops the run and checks that its alerts end with it and that the next run on the instance inherits none.
 * Every expression of every Grafana dashboard is evaluated through Prometheus' HTTP API and must return a series.
 * Everything on 127.0.0.1 with free ports and temporary directories; every wait is bounded.
 */
@QuarkusTest
@Tag("quarkus")
class AlertDrivenTuningTest {

    private static final String TOKEN = "test-token";
    /** The acute alerts' promise (README.md, "Alerts"): well under a minute from onset to applied action. */
    private static final Duration ACUTE_LATENCY = Duration.ofSeconds(30);
    private Peers peers;

    @AfterEach
    void stopPeers() throws InterruptedException {
        if (peers != null) {
            peers.close();
        }
        RestAssured.given().header("Authorization", "Bearer " + TOKEN).contentType(ContentType.JSON)
                .body(Api.DEFAULT_POLICY).when().put("/api/policy");
    }

    @Test
    void aNonFiniteRunIsRolledBackWithinHalfAMinuteAndItsAlertsEndWithIt() throws Exception {
        peers = new Peers(Peers.PROMETHEUS, Peers.ALERTMANAGER);
        int app = RestAssured.port;
        int prometheusPort = Peers.freePort();
        int alertmanagerPort = Peers.freePort();
        peers.shipped(prometheusPort, alertmanagerPort, List.of(app), List.of(app), TOKEN);

        RestAssured.given().header("Authorization", "Bearer " + TOKEN).contentType(ContentType.JSON)
                .body("{\"mode\":\"observe\"}").when().put("/api/policy").then().statusCode(200);
        stopCurrent();
        // Prometheus sees the app without a run first, as a fleet member that waits for its job.
        await("a first scrape").atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(250))
                .until(() -> !peers.query(prometheusPort, "up == 1").isEmpty());
        String id = start(EXPLODING);

        // In observe mode the policy's own decisions are recorded too (applied: false); the alert's is the one applied.
        String alertDriven = "items.find { it.reason == 'alert' }";
        String rollbacks = "/api/runs/" + id + "/interventions?kind=rollback&limit=1000";
        await("the alert's rollback applied by the guard").atMost(Duration.ofSeconds(90))
                .pollInterval(Duration.ofMillis(250)).until(() ->
                RestAssured.given().when().get(rollbacks).then().extract().path(alertDriven) != null);
        var rollback = RestAssured.given().when().get(rollbacks).then()
                .body(alertDriven + ".detail", containsString("GradSentryNonFiniteGradients"))
                .body(alertDriven + ".applied", equalTo(true))
                .body(alertDriven + ".run", equalTo(id))
                .body("items.findAll { it.reason != 'alert' }.applied", everyItem(equalTo(false)))
                .extract().jsonPath();
        Instant applied = Instant.parse(rollback.getString(alertDriven + ".time"));
        Instant onset = Instant.parse(RestAssured.given().when()
                .get("/api/runs/" + id + "/interventions?limit=1000").then().extract()
                .path("items.findAll { it.reason.startsWith('non-finite') }.time.min()"));
        Duration latency = Duration.between(onset, applied);
        System.out.printf("GradSentryNonFiniteGradients: first non-finite step %s, rollback applied %s: %.1f s%n",
                onset, applied, latency.toMillis() / 1000.0);
        assertTrue(latency.compareTo(ACUTE_LATENCY) < 0, "onset to applied rollback took " + latency);
        String scrape = RestAssured.given().accept("text/plain").when().get("/q/metrics").then().extract().asString();
        assertTrue(scrape.contains("reason=\"alert\""), "the alert-driven intervention is counted");
        everyDashboardQueryReturnsASeries(prometheusPort, "127.0.0.1:" + app);
        onlyAlertsWithAnActionReachTheWebhook(alertmanagerPort);

        // The stale run: once it ends, its gauges keep their last values, but none of its alerts stays firing, and the
        // next run on this instance inherits none of them.
        RestAssured.given().header("Authorization", "Bearer " + TOKEN)
                .when().delete("/api/runs/" + id).then().statusCode(200);
        Instant stopped = Instant.now();
        String alertsOf = "ALERTS{alertname=~\"GradSentry.*\", run=\"%s\"}";
        await("the stopped run's alerts end").atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(500))
                .until(() -> peers.query(prometheusPort, alertsOf.formatted(id)).isEmpty());
        System.out.printf("the stopped run's alerts ended %.1f s after the stop%n",
                Duration.between(stopped, Instant.now()).toMillis() / 1000.0);
        String next = start("{\"workload\":\"fashion-mlp\",\"steps\":1000000,\"evalExamples\":100}");
        await("the next run scraped").atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(500))
                .until(() -> !peers.query(prometheusPort, "run:gradsentry_run_info:training{run=\"%s\"}"
                        .formatted(next)).isEmpty());
        // Four evaluations with the next run training: the previous run's non-finite steps are still in every
        // one-minute window of the process-wide counter.
        await("no alert for either run").during(Duration.ofSeconds(20)).atMost(Duration.ofSeconds(25))
                .pollInterval(Duration.ofSeconds(1)).until(() ->
                peers.query(prometheusPort, alertsOf.formatted(next)).isEmpty()
                        && peers.query(prometheusPort, alertsOf.formatted(id)).isEmpty());
        RestAssured.given().when().get("/api/runs/" + next + "/interventions?limit=1000").then()
                .body("items.findAll { it.reason == 'alert' }", hasSize(0));
        RestAssured.given().header("Authorization", "Bearer " + TOKEN)
                .when().delete("/api/runs/" + next).then().statusCode(200);
    }

    /** An RNN whose recurrence explodes within seconds: NaN steps from then on unless something acts. */
    static final String EXPLODING = "{\"workload\":\"fashion-rnn\",\"cell\":\"rnn\",\"activation\":\"relu\","
            + "\"recurrentGain\":1.5,\"optimizer\":\"sgd\",\"learningRate\":0.1,\"steps\":100000,"
            + "\"evalExamples\":100}";

    private static String start(String run) {
        return RestAssured.given().header("Authorization", "Bearer " + TOKEN).contentType(ContentType.JSON)
                .body(run).when().post("/api/runs").then().statusCode(201).extract().path("id");
    }

    private static void stopCurrent() {
        var current = RestAssured.given().when().get("/api/runs/current");
        if (current.statusCode() == 200 && "running".equals(current.jsonPath().getString("state"))) {
            RestAssured.given().header("Authorization", "Bearer " + TOKEN)
                    .when().delete("/api/runs/" + current.jsonPath().getString("id")).then().statusCode(200);
        }
    }

    /**
     * Alertmanager says which receivers each alert was routed to: GradSentry's alerts (with an {@code action} label) go
     * to the webhook, an alert of someone else's rules (posted here as Prometheus would) goes elsewhere.
     */
    private void onlyAlertsWithAnActionReachTheWebhook(int alertmanagerPort) throws Exception {
        String api = "http://127.0.0.1:" + alertmanagerPort + "/api/v2/alerts";
        HttpResponse<String> posted = peers.post(api,
                "[{\"labels\":{\"alertname\":\"NodeDiskFull\",\"severity\":\"critical\"}}]");
        assertEquals(200, posted.statusCode(), posted.body());
        JsonNode alerts = await("both alerts in Alertmanager").atMost(Duration.ofSeconds(30))
                .pollInterval(Duration.ofMillis(250)).until(() -> peers.getJson(api),
                        a -> receivers(a, "NodeDiskFull") != null);
        assertEquals(List.of("other-alerts"), receivers(alerts, "NodeDiskFull"));
        assertEquals(List.of("gradsentry"), receivers(alerts, "GradSentryNonFiniteGradients"));
    }

    private static List<String> receivers(JsonNode alerts, String alertname) {
        for (JsonNode alert : alerts) {
            if (alertname.equals(alert.path("labels").path("alertname").asText())) {
                List<String> names = new ArrayList<>();
                alert.path("receivers").forEach(r -> names.add(r.path("name").asText()));
                return names;
            }
        }
        return null;
    }

    /** Evaluates every panel, annotation and variable expression of every dashboard against the real Prometheus. */
    private void everyDashboardQueryReturnsASeries(int prometheusPort, String instance) throws Exception {
        List<String> empty = new ArrayList<>();
        int evaluated = 0;
        for (var dashboard : Dashboards.all().entrySet()) {
            for (var e : Dashboards.expressions(dashboard.getValue()).entrySet()) {
                String expr = Dashboards.substitute(e.getValue(), "gradsentry", instance);
                if (peers.query(prometheusPort, expr).isEmpty()) {
                    empty.add(dashboard.getKey().getFileName() + " " + e.getKey() + ": " + expr);
                }
                evaluated++;
            }
        }
        assertTrue(evaluated > 20, "evaluated " + evaluated);
        assertEquals(List.of(), empty, "dashboard expressions without any series");
    }
}
