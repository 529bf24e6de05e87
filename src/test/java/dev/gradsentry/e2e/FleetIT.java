package dev.gradsentry.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A fleet on one machine: three packaged services on loopback ports, one real Prometheus scraping all three with the
 * shipped rules, one real Alertmanager with the shipped route. Service A reads its alerts from Alertmanager (pull
 * mode); Alertmanager's webhook calls B and C (push), each with every alert. A and B train exploding runs in observe
 * mode at the same time, C a healthy one. Each exploding run is rolled back by its own alert on its own service, A's
 * through the pull and B's through the webhook; C, and B for A's alert, answer the alerts that are not theirs as
 * ignored with the reason, and C's run is untouched.
 */
class FleetIT {

    private static final String TOKEN = "fleet-token";
    private static final String EXPLODING = "{\"workload\":\"fashion-rnn\",\"cell\":\"rnn\",\"activation\":\"relu\","
            + "\"recurrentGain\":1.5,\"optimizer\":\"sgd\",\"learningRate\":0.1,\"steps\":100000,\"evalExamples\":100}";
    private static final String HEALTHY = "{\"workload\":\"fashion-mlp\",\"steps\":1000000,\"evalExamples\":100}";

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private final ObjectMapper json = new ObjectMapper();
    private Peers peers;

    @AfterEach
    void stop() throws InterruptedException {
        if (peers != null) {
            peers.close();
        }
    }

    @Test
    void eachRunsAlertLandsOnItsOwnServiceOnlyThroughPullAndThroughPush() throws Exception {
        peers = new Peers(Peers.PROMETHEUS, Peers.ALERTMANAGER);
        int a = Peers.freePort();
        int b = Peers.freePort();
        int c = Peers.freePort();
        int prometheus = Peers.freePort();
        int alertmanager = Peers.freePort();
        service("a", a, "-Dgradsentry.alerts.pull.url=http://127.0.0.1:" + alertmanager);
        service("b", b);
        service("c", c);
        peers.shipped(prometheus, alertmanager, List.of(a, b, c), List.of(b, c), TOKEN);
        for (int port : List.of(a, b, c)) {
            await("service on " + port + " ready").atMost(Duration.ofMinutes(3)).pollInterval(Duration.ofMillis(500))
                    .until(() -> peers.ok("http://127.0.0.1:" + port + "/q/health/ready"));
        }
        send(a, "PUT", "/api/policy", "{\"mode\":\"observe\"}", 200);
        send(b, "PUT", "/api/policy", "{\"mode\":\"observe\"}", 200);
        String runC = send(c, "POST", "/api/runs", HEALTHY, 201).path("id").asText();
        String runA = send(a, "POST", "/api/runs", EXPLODING, 201).path("id").asText();
        String runB = send(b, "POST", "/api/runs", EXPLODING, 201).path("id").asText();

        JsonNode rollbackA = awaitAlertRollback(a, runA);
        JsonNode rollbackB = awaitAlertRollback(b, runB);
        report("A (pull)", a, runA, rollbackA);
        report("B (push)", b, runB, rollbackB);

        String logA = Files.readString(peers.dir.resolve("a.log"));
        String logB = Files.readString(peers.dir.resolve("b.log"));
        String logC = Files.readString(peers.dir.resolve("c.log"));
        assertTrue(logA.contains("pulled alerts: GradSentryNonFiniteGradients: rollback queued for the next step of run "
                + runA), "A applied its alert from the pull");
        assertFalse(logB.contains("pulled alerts"), "B has no pull mode");
        // Alertmanager's webhook gives B and C every alert: each ignores those about another service.
        await("C ignored both alerts").atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofSeconds(1))
                .until(() -> {
                    String log = Files.readString(peers.dir.resolve("c.log"));
                    return log.contains("ignored: the alert is about instance 127.0.0.1:" + a + ", this service is "
                            + "127.0.0.1:" + c) && log.contains("ignored: the alert is about instance 127.0.0.1:" + b);
                });
        await("B ignored A's alert").atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofSeconds(1))
                .until(() -> Files.readString(peers.dir.resolve("b.log"))
                        .contains("ignored: the alert is about instance 127.0.0.1:" + a + ", this service is "
                                + "127.0.0.1:" + b));
        assertEquals(List.of(), alertDriven(c, runC), "C's healthy run got no alert-driven action");
        assertEquals(1, alertDriven(a, runA).stream().filter(i -> i.path("detail").asText().contains(
                "GradSentryNonFiniteGradients")).map(i -> i.path("detail").asText()).distinct().count());
        assertFalse(logC.contains("queued for the next step"), "nothing was applied on C");
        for (var s : Map.of(a, runA, b, runB, c, runC).entrySet()) {
            send(s.getKey(), "DELETE", "/api/runs/" + s.getValue(), null, 200);
        }
    }

    private void service(String name, int port, String... settings) throws IOException {
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> command = new ArrayList<>(List.of(java, "-Xmx768m", "-Dquarkus.http.port=" + port,
                "-Dquarkus.http.host=127.0.0.1", "-Dgradsentry.data-dir=" + peers.dir.resolve("data-" + name),
                "-Dgradsentry.demo.enabled=false", "-Dgradsentry.api-token=" + TOKEN,
                "-Dgradsentry.alerts.instance=127.0.0.1:" + port));
        command.addAll(List.of(settings));
        command.addAll(List.of("-jar", "target/quarkus-app/quarkus-run.jar"));
        peers.start(name, command, Map.of("OMP_NUM_THREADS", "1"));
    }

    /** The run's first rollback asked by an alert, once its guard applied it. */
    private JsonNode awaitAlertRollback(int port, String run) {
        return await("an alert's rollback on run " + run).atMost(Duration.ofSeconds(120))
                .pollInterval(Duration.ofMillis(500)).until(() -> alertDriven(port, run).stream()
                        .filter(i -> i.path("kind").asText().equals("rollback")).findFirst().orElse(null),
                        i -> i != null);
    }

    private List<JsonNode> alertDriven(int port, String run) throws Exception {
        List<JsonNode> found = new ArrayList<>();
        for (JsonNode i : send(port, "GET", "/api/runs/" + run + "/interventions?limit=1000", null, 200)
                .path("items")) {
            if (i.path("reason").asText().equals("alert")) {
                found.add(i);
            }
        }
        return found;
    }

    /** Prints the time from the run's first non-finite step to the applied rollback. */
    private void report(String who, int port, String run, JsonNode rollback) throws Exception {
        assertTrue(rollback.path("applied").asBoolean(), rollback.toString());
        assertEquals(run, rollback.path("run").asText());
        Instant onset = null;
        for (JsonNode i : send(port, "GET", "/api/runs/" + run + "/interventions?limit=1000", null, 200)
                .path("items")) {
            if (i.path("reason").asText().startsWith("non-finite")) {
                Instant t = Instant.parse(i.path("time").asText());
                onset = onset == null || t.isBefore(onset) ? t : onset;
            }
        }
        assertTrue(onset != null, "run " + run + " had no non-finite step");
        Duration latency = Duration.between(onset, Instant.parse(rollback.path("time").asText()));
        System.out.printf("%s: first non-finite step %s, rollback applied %s: %.1f s%n", who, onset,
                rollback.path("time").asText(), latency.toMillis() / 1000.0);
        assertTrue(latency.compareTo(Duration.ofSeconds(30)) < 0, who + ": onset to applied rollback took " + latency);
    }

    private JsonNode send(int port, String method, String path, String body, int expected) throws Exception {
        HttpRequest.Builder r = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                .timeout(Duration.ofSeconds(30)).header("Authorization", "Bearer " + TOKEN);
        if (body == null) {
            r.method(method, HttpRequest.BodyPublishers.noBody());
        } else {
            r.method(method, HttpRequest.BodyPublishers.ofString(body)).header("Content-Type", "application/json");
        }
        HttpResponse<String> answer = http.send(r.build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(expected, answer.statusCode(), method + " " + path + ": " + answer.body());
        return answer.body().isEmpty() ? json.createObjectNode() : json.readTree(answer.body());
    }
}
