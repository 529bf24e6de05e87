package dev.gradsentry.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The real Prometheus (and Alertmanager) a test starts from Debian's packages: on 127.0.0.1 with free ports, in a
 * temporary directory, every wait bounded; {@link #close()} stops what was started.
 */
final class Peers implements AutoCloseable {

    static final String PROMETHEUS = "/usr/bin/prometheus";
    static final String ALERTMANAGER = "/usr/bin/prometheus-alertmanager";

    private final List<Process> processes = new ArrayList<>();
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    private final ObjectMapper json = new ObjectMapper();
    final Path dir;

    Peers(String... binaries) throws IOException {
        for (String binary : binaries) {
            assertTrue(Files.isExecutable(Path.of(binary)), binary + " is missing: apt-get install prometheus "
                    + "prometheus-alertmanager (.ci/run installs them)");
        }
        dir = Files.createTempDirectory("gradsentry-peers");
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    /** Starts {@code command}, its output in {@code name.log} of the directory. */
    Process start(String name, List<String> command) throws IOException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(dir.resolve(name + ".log").toFile()).start();
        processes.add(p);
        return p;
    }

    /** Starts Prometheus on {@code port} with {@code config} (a prometheus.yml, relative to the directory). */
    void prometheus(int port, String config) throws IOException {
        Files.writeString(dir.resolve("prometheus.yml"), config);
        start("prometheus", List.of(PROMETHEUS, "--config.file=" + dir.resolve("prometheus.yml"),
                "--storage.tsdb.path=" + dir.resolve("prom-data"), "--web.listen-address=127.0.0.1:" + port,
                "--web.external-url=http://127.0.0.1:" + port + "/"));
        awaitReady("Prometheus", "http://127.0.0.1:" + port + "/-/ready");
    }

    void awaitReady(String what, String url) {
        await(what + " ready").atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(250)).until(() -> ok(url));
    }

    boolean ok(String url) {
        try {
            return http.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(2)).build(),
                    HttpResponse.BodyHandlers.discarding()).statusCode() == 200;
        } catch (IOException | InterruptedException e) {
            return false;
        }
    }

    JsonNode getJson(String url) throws IOException, InterruptedException {
        return json.readTree(http.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(10))
                .build(), HttpResponse.BodyHandlers.ofString()).body());
    }

    /** The answer of an instant query, which must succeed; its {@code data.result} may be empty. */
    JsonNode query(int prometheusPort, String expr) throws IOException, InterruptedException {
        JsonNode answer = getJson("http://127.0.0.1:" + prometheusPort + "/api/v1/query?query="
                + URLEncoder.encode(expr, StandardCharsets.UTF_8));
        assertEquals("success", answer.path("status").asText(), expr + ": " + answer);
        return answer.path("data").path("result");
    }

    HttpResponse<String> post(String url, String jsonBody) throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(5))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(jsonBody))
                .build(), HttpResponse.BodyHandlers.ofString());
    }

    @Override
    public void close() throws InterruptedException {
        for (Process p : processes) {
            p.destroy();
            if (!p.waitFor(10, TimeUnit.SECONDS)) {
                p.destroyForcibly();
            }
        }
    }
}
