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
import java.util.ArrayList;
import java.util.List;

import static org.awaitility.Awaitility.await;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.everyItem;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The whole loop with the real peers: the app trains an exploding run with its guard in observe mode (so only alerts
 * act), a real Prometheus scrapes it and evaluates a copy of the alert rules with short {@code for:}, a real
 * Alertmanager delivers to the app's webhook with the token, and the guard applies the alert's action.
 * Then every expression of every Grafana dashboard is evaluated through Prometheus' HTTP API and must return a
 * series. Everything on 127.0.0.1 with free ports and temporary directories; every wait is bounded.
 */
@QuarkusTest
@Tag("quarkus")
class AlertDrivenTuningTest {

    private static final String TOKEN = "test-token";
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
    void aFiringAlertReachesTheGuardThroughRealPrometheusAndAlertmanager() throws Exception {
        peers = new Peers(Peers.PROMETHEUS, Peers.ALERTMANAGER);
        int app = RestAssured.port;
        int prometheusPort = Peers.freePort();
        int alertmanagerPort = Peers.freePort();
        Path dir = peers.dir;

        String rules = Files.readString(Path.of("deploy/prometheus/gradsentry-alerts.yaml"))
                .replaceAll("for: \\d+m", "for: 2s");
        Files.writeString(dir.resolve("rules.yaml"), rules);
        String prometheusConfig = """
                global:
                  scrape_interval: 1s
                  evaluation_interval: 1s
                rule_files: [rules.yaml]
                alerting:
                  alertmanagers:
                    - static_configs: [{targets: ['127.0.0.1:%d']}]
                scrape_configs:
                  - job_name: gradsentry
                    metrics_path: /q/metrics
                    static_configs: [{targets: ['127.0.0.1:%d']}]
                """.formatted(alertmanagerPort, app);
        // The shipped configuration, pointed at this app and with short waits: its route decides what reaches the app.
        Files.writeString(dir.resolve("token"), TOKEN);
        String shipped = Files.readString(Path.of("deploy/alertmanager/alertmanager.yml"));
        String alertmanagerConfig = shipped
                .replace("http://gradsentry:8080/", "http://127.0.0.1:" + app + "/")
                .replace("credentials_file: /etc/alertmanager/token", "credentials_file: " + dir.resolve("token"))
                .replace("group_wait: 10s", "group_wait: 1s").replace("group_interval: 1m", "group_interval: 1s");
        assertTrue(alertmanagerConfig.contains("127.0.0.1:" + app) && alertmanagerConfig.contains("group_wait: 1s"),
                "the shipped Alertmanager configuration changed shape; adapt this test");
        Files.writeString(dir.resolve("alertmanager.yml"), alertmanagerConfig);

        RestAssured.given().header("Authorization", "Bearer " + TOKEN).contentType(ContentType.JSON)
                .body("{\"mode\":\"observe\"}").when().put("/api/policy").then().statusCode(200);
        var current = RestAssured.given().when().get("/api/runs/current");
        if (current.statusCode() == 200 && "running".equals(current.jsonPath().getString("state"))) {
            RestAssured.given().header("Authorization", "Bearer " + TOKEN)
                    .when().delete("/api/runs/" + current.jsonPath().getString("id")).then().statusCode(200);
        }
        String id = RestAssured.given().header("Authorization", "Bearer " + TOKEN).contentType(ContentType.JSON)
                .body("{\"workload\":\"fashion-rnn\",\"cell\":\"rnn\",\"activation\":\"relu\",\"recurrentGain\":1.5,"
                        + "\"optimizer\":\"sgd\",\"learningRate\":0.1,\"steps\":100000,\"evalExamples\":100}")
                .when().post("/api/runs").then().statusCode(201).extract().path("id");

        peers.start("alertmanager", List.of(Peers.ALERTMANAGER,
                "--config.file=" + dir.resolve("alertmanager.yml"), "--storage.path=" + dir.resolve("am-data"),
                "--web.listen-address=127.0.0.1:" + alertmanagerPort, "--cluster.listen-address=",
                "--web.external-url=http://127.0.0.1:" + alertmanagerPort + "/"));
        peers.prometheus(prometheusPort, prometheusConfig);
        peers.awaitReady("Alertmanager", "http://127.0.0.1:" + alertmanagerPort + "/-/ready");

        // In observe mode the policy's own decisions are recorded too (applied: false); the alert's is the one applied.
        String alertDriven = "items.find { it.reason == 'alert' }";
        await("the alert's action applied by the guard").atMost(Duration.ofSeconds(90))
                .pollInterval(Duration.ofMillis(250)).until(() ->
                RestAssured.given().when().get("/api/runs/" + id + "/interventions?kind=clip-tighten&limit=1000")
                        .then().extract().path(alertDriven) != null);
        RestAssured.given().when().get("/api/runs/" + id + "/interventions?kind=clip-tighten&limit=1000").then()
                .body(alertDriven + ".detail", containsString("GradSentryNonFiniteGradients"))
                .body(alertDriven + ".applied", equalTo(true))
                .body("items.findAll { it.reason != 'alert' }.applied", everyItem(equalTo(false)));
        String scrape = RestAssured.given().accept("text/plain").when().get("/q/metrics").then().extract().asString();
        assertTrue(scrape.contains("gradsentry_clip_threshold_scale 0.5"), "threshold scale after one tightening");
        assertTrue(scrape.contains("reason=\"alert\""), "the alert-driven intervention is counted");
        everyDashboardQueryReturnsASeries(prometheusPort, "127.0.0.1:" + app);
        onlyAlertsWithAnActionReachTheWebhook(alertmanagerPort);
        RestAssured.given().header("Authorization", "Bearer " + TOKEN)
                .when().delete("/api/runs/" + id).then().statusCode(200);
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
