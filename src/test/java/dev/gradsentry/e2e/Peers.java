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
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
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

    /** Starts {@code command} with {@code environment} added to this process' environment. */
    Process start(String name, List<String> command, Map<String, String> environment) throws IOException {
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(dir.resolve(name + ".log").toFile());
        pb.environment().putAll(environment);
        Process p = pb.start();
        processes.add(p);
        return p;
    }

    /**
     * Starts Alertmanager and Prometheus with the shipped configuration (deploy/prometheus, deploy/alertmanager), only
     * the addresses changed: Prometheus scrapes the services on {@code scraped} ports, and Alertmanager's GradSentry
     * receiver calls the webhook of each service on {@code webhooks} ports (none: the receiver calls nobody).
     */
    void shipped(int prometheusPort, int alertmanagerPort, List<Integer> scraped, List<Integer> webhooks, String token)
            throws IOException {
        Files.copy(Path.of("deploy/prometheus/gradsentry-alerts.yaml"), dir.resolve("gradsentry-alerts.yaml"));
        String targets = scraped.stream().map(p -> "'127.0.0.1:" + p + "'").collect(Collectors.joining(", "));
        String prometheus = Files.readString(Path.of("deploy/prometheus/prometheus.yml"))
                .replace("[\"alertmanager:9093\"]", "['127.0.0.1:" + alertmanagerPort + "']")
                .replace("[\"gradsentry:8080\"]", "[" + targets + "]");
        assertTrue(prometheus.contains("127.0.0.1:" + alertmanagerPort) && prometheus.contains(targets),
                "the shipped Prometheus configuration changed shape; adapt Peers.shipped");
        Files.writeString(dir.resolve("token"), token);
        String alertmanager = Files.readString(Path.of("deploy/alertmanager/alertmanager.yml"))
                .replace("credentials_file: /etc/alertmanager/token", "credentials_file: " + dir.resolve("token"));
        Matcher webhook = Pattern.compile("(?m)^( +)- url: http://gradsentry:8080/api/alerts/alertmanager\n"
                + "(?:\\1 .*\n)*").matcher(alertmanager);
        assertTrue(webhook.find(), "the shipped Alertmanager configuration changed shape; adapt Peers.shipped");
        String one = webhook.group();
        String all = webhooks.stream().map(p -> one.replace("http://gradsentry:8080/", "http://127.0.0.1:" + p + "/"))
                .collect(Collectors.joining());
        alertmanager = webhooks.isEmpty()
                ? alertmanager.replace(one, "").replace("webhook_configs:\n", "")
                : alertmanager.replace(one, all);
        Files.writeString(dir.resolve("alertmanager.yml"), alertmanager);
        start("alertmanager", List.of(ALERTMANAGER,
                "--config.file=" + dir.resolve("alertmanager.yml"), "--storage.path=" + dir.resolve("am-data"),
                "--web.listen-address=127.0.0.1:" + alertmanagerPort, "--cluster.listen-address=",
                "--web.external-url=http://127.0.0.1:" + alertmanagerPort + "/"));
        prometheus(prometheusPort, prometheus);
        awaitReady("Alertmanager", "http://127.0.0.1:" + alertmanagerPort + "/-/ready");
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
