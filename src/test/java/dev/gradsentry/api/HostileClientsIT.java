package dev.gradsentry.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The packaged jar against clients that misbehave on purpose: hundreds of connections that announce a body and never
 * send it, a chunked body far over every limit, a request line over 4 KB. Each gets a problem or a closed connection
 * without holding a worker thread, the service keeps answering everyone else, and the log gets one line per incident,
 * never a stack trace.
 */
class HostileClientsIT {

    private static final String TOKEN = "hostile-test-token";
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).build();
    /** The body deadline the jar runs with here, shorter than the default so that the test sees it pass. */
    private static final Duration BODY_TIMEOUT = Duration.ofSeconds(3);

    private static Process service;
    private static Path log;
    private static int port;

    @BeforeAll
    static void startTheJar() throws Exception {
        Path tmp = Files.createTempDirectory("gradsentry-hostile");
        log = tmp.resolve("service.log");
        port = freePort();
        String java = ProcessHandle.current().info().command().orElse("java");
        ProcessBuilder pb = new ProcessBuilder(java, "-Xmx512m", "-Dquarkus.http.port=" + port,
                "-Dquarkus.http.host=127.0.0.1", "-Dgradsentry.data-dir=" + tmp.resolve("data"),
                "-Dgradsentry.demo.enabled=false", "-Dgradsentry.http.body-timeout=" + BODY_TIMEOUT.toSeconds() + "s",
                "-jar", "target/quarkus-app/quarkus-run.jar");
        pb.environment().put("GRADSENTRY_API_TOKEN", TOKEN);
        pb.environment().put("OMP_NUM_THREADS", "1");
        pb.redirectErrorStream(true).redirectOutput(log.toFile());
        service = pb.start();
        await("the service ready, log " + log).atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(200))
                .ignoreExceptionsInstanceOf(IOException.class)
                .until(() -> {
                    assertTrue(service.isAlive(), () -> "the service exited: " + logText());
                    return get("/q/health/ready").statusCode() == 200;
                });
    }

    @AfterAll
    static void stop() {
        if (service != null) {
            service.destroyForcibly();
        }
    }

    /**
     * 200 connections send the headers of {@code POST /api/runs} without a token, 20 more with the token, and then
     * stall. Every endpoint still answers within seconds; the tokenless ones are refused at once, the others time
     * out after the body deadline with one WARN line each, and nothing logs an ERROR or a stack trace. Stalled bodies
     * beyond {@code gradsentry.http.max-body-reads} (32) are answered 503 at once.
     */
    @Test
    void stalledBodiesNeitherBlockOtherRequestsNorFloodTheLog() throws Exception {
        for (String path : List.of("/api/runs", "/q/metrics", "/api/policy")) {
            assertEquals(200, get(path).statusCode(), path); // first requests load classes; they are not measured
        }
        int linesBefore = logText().split("\n").length;
        List<Socket> stalled = new ArrayList<>();
        try {
            for (int i = 0; i < 220; i++) {
                stalled.add(stall(i >= 200));
            }
            Thread.sleep(500);
            for (String path : List.of("/api/runs", "/q/metrics", "/api/policy")) {
                long t0 = System.nanoTime();
                HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(uri(path)).timeout(Duration.ofSeconds(5))
                        .build(), HttpResponse.BodyHandlers.ofString());
                long ms = (System.nanoTime() - t0) / 1_000_000;
                assertEquals(200, r.statusCode(), path + ": " + r.body());
                // Before the fix they timed out (55-60 s); 3 s leaves room for a machine shared with other builds.
                assertTrue(ms < 3000, path + " answered in " + ms + " ms with stalled bodies open");
            }
            long t0 = System.nanoTime();
            HttpResponse<String> webhook = HTTP.send(HttpRequest.newBuilder(uri("/api/alerts/alertmanager"))
                    .timeout(Duration.ofSeconds(5)).header("Authorization", "Bearer " + TOKEN)
                    .header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString("{\"version\":\"4\",\"alerts\":[]}")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(200, webhook.statusCode(), webhook.body());
            assertTrue((System.nanoTime() - t0) / 1_000_000 < 3000, "the webhook answered in time");

            // Stalled bodies over the cap are refused at once. Forty more exceed the cap of 32 by themselves (the
            // twenty stalled above may already have timed out on a slow machine), so at least eight of them are
            // refused; which ones is up to the event loops, which take connections in no fixed order (the CI run of
            // 1 December found the last one opened still being read).
            List<Socket> over = new ArrayList<>();
            for (int i = 0; i < 40; i++) {
                over.add(stall(true));
            }
            stalled.addAll(over);
            Thread.sleep(500);
            List<String> refusedOverCap = new ArrayList<>();
            for (Socket s : over) {
                // A refusal is already waiting; the rest are read well within the body deadline (3 s).
                String answer = readAll(s, Duration.ofMillis(20));
                if (!answer.isEmpty()) {
                    assertTrue(answer.startsWith("HTTP/1.1 503"), answer);
                    assertTrue(answer.contains("gradsentry.http.max-body-reads"), answer);
                    refusedOverCap.add(answer);
                }
            }
            assertTrue(refusedOverCap.size() >= 40 - 32, refusedOverCap.size() + " of 40 refused at once");

            // Without a token the answer comes before any body: a 401 problem, and the connection closes.
            String refused = readAll(stalled.get(0), Duration.ofSeconds(2));
            assertTrue(refused.startsWith("HTTP/1.1 401"), refused);
            assertTrue(refused.contains("application/problem+json"), refused);
            // With the token the body must arrive within the deadline: then a 408 problem.
            String late = readAll(stalled.get(219), BODY_TIMEOUT.plusSeconds(5));
            assertTrue(late.startsWith("HTTP/1.1 408"), late);
            assertTrue(late.contains("application/problem+json"), late);
        } finally {
            for (Socket s : stalled) {
                s.close();
            }
        }
        Thread.sleep(1000);
        List<String> added = newLines(linesBefore);
        assertFalse(added.stream().anyMatch(l -> l.contains("ERROR") || l.startsWith("\tat ")),
                "no ERROR and no stack trace: " + String.join("\n", added));
        long warnings = added.stream().filter(l -> l.contains("WARN")).count();
        assertTrue(warnings >= 1 && warnings <= 32, warnings + " WARN lines for 32 stalled bodies with the token: "
                + String.join("\n", added));
    }

    /** A connection that sends the headers of a run's start, one byte of its 100-byte body, and stalls. */
    private static Socket stall(boolean withToken) throws IOException {
        Socket s = new Socket("127.0.0.1", port);
        String auth = withToken ? "Authorization: Bearer " + TOKEN + "\r\n" : "";
        s.getOutputStream().write(("POST /api/runs HTTP/1.1\r\nHost: localhost\r\n"
                + "Content-Type: application/json\r\nContent-Length: 100\r\n" + auth + "\r\n{")
                .getBytes(StandardCharsets.US_ASCII));
        s.getOutputStream().flush();
        return s;
    }

    /** 11 MiB sent in chunks to the webhook: a 413 problem naming the body, and one WARN line, no stack trace. */
    @Test
    void anOversizedChunkedWebhookBodyIsA413ProblemAndOneLogLine() throws Exception {
        int linesBefore = logText().split("\n").length;
        String answer;
        try (Socket s = new Socket("127.0.0.1", port)) {
            OutputStream out = s.getOutputStream();
            out.write(("POST /api/alerts/alertmanager HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer " + TOKEN
                    + "\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            byte[] chunk = new byte[64 * 1024];
            java.util.Arrays.fill(chunk, (byte) 'x');
            try {
                for (int i = 0; i < 176; i++) { // 11 MiB
                    out.write((Integer.toHexString(chunk.length) + "\r\n").getBytes(StandardCharsets.US_ASCII));
                    out.write(chunk);
                    out.write("\r\n".getBytes(StandardCharsets.US_ASCII));
                }
                out.write("0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                out.flush();
            } catch (IOException closedEarly) {
                // the service may answer and close before the whole body is sent
            }
            answer = readAll(s, Duration.ofSeconds(10));
        }
        assertTrue(answer.startsWith("HTTP/1.1 413"), answer);
        JsonNode problem = JSON.readTree(answer.substring(answer.indexOf("\r\n\r\n") + 4));
        assertEquals(413, problem.path("status").asInt(), answer);
        assertEquals("body", problem.path("field").asText(), answer);
        assertTrue(problem.path("detail").asText().contains("gradsentry.alerts.max-body-bytes"), answer);
        Thread.sleep(500);
        List<String> added = newLines(linesBefore);
        assertFalse(added.stream().anyMatch(l -> l.contains("ERROR") || l.startsWith("\tat ")),
                String.join("\n", added));
        assertTrue(added.size() <= 1, "at most one line: " + String.join("\n", added));
    }

    /** A request line over 4 KB is a 414 problem, not a bare status or silence. */
    @Test
    void aRequestLineOver4KbIsA414Problem() throws Exception {
        String answer;
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.getOutputStream().write(("GET /api/runs?pad=" + "a".repeat(5000) + " HTTP/1.1\r\nHost: localhost\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            answer = readAll(s, Duration.ofSeconds(5));
        }
        assertTrue(answer.startsWith("HTTP/1.1 414"), answer);
        assertTrue(answer.toLowerCase().contains("content-type: application/problem+json"), answer);
        JsonNode problem = JSON.readTree(answer.substring(answer.indexOf("\r\n\r\n") + 4));
        assertEquals(414, problem.path("status").asInt(), answer);
        assertEquals("uri", problem.path("field").asText(), answer);
    }

    /** What the service sent before it closed the connection, or before {@code wait} passed. */
    private static String readAll(Socket s, Duration wait) throws IOException {
        s.setSoTimeout((int) wait.toMillis());
        ByteArrayOutputStream got = new ByteArrayOutputStream();
        InputStream in = s.getInputStream();
        byte[] buffer = new byte[8192];
        try {
            for (int n; (n = in.read(buffer)) > 0; ) {
                got.write(buffer, 0, n);
                String text = got.toString(StandardCharsets.UTF_8);
                int head = text.indexOf("\r\n\r\n");
                int length = text.toLowerCase().indexOf("content-length: ");
                if (head > 0 && length > 0 && length < head) {
                    int declared = Integer.parseInt(text.substring(length + 16, text.indexOf("\r\n", length)).strip());
                    if (got.size() >= head + 4 + declared) {
                        break;
                    }
                }
            }
        } catch (SocketTimeoutException | java.net.SocketException e) {
            // what arrived is the answer
        }
        return got.toString(StandardCharsets.UTF_8);
    }

    private static List<String> newLines(int before) {
        String[] lines = logText().split("\n");
        return List.of(lines).subList(Math.min(before, lines.length), lines.length);
    }

    private static HttpResponse<String> get(String path) throws IOException, InterruptedException {
        return HTTP.send(HttpRequest.newBuilder(uri(path)).timeout(Duration.ofSeconds(5)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private static String logText() {
        try {
            return Files.readString(log);
        } catch (IOException e) {
            return "(unreadable: " + e.getMessage() + ")";
        }
    }

    private static URI uri(String path) {
        return URI.create("http://127.0.0.1:" + port + path);
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }
}
