package dev.gradsentry.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.RestAssured;
import io.restassured.http.ContentType;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;

import static dev.gradsentry.api.Api.given;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Walks a table of bad requests against every endpoint. Each must be a 4xx {@code application/problem+json} body
 * naming the field at fault, without a stack trace, and must change nothing: the policy, the run list and the bytes
 * of the last run's audit log are compared before and after every case. Requests go through {@link HttpClient} so
 * that the bytes, the content type and the framing are exactly what the table says.
 */
@QuarkusTest
@Tag("quarkus")
class BadInputTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    /** HTTP/1.1: a body of unknown length then goes out chunked, as the table says. */
    private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    private static final String RUN = "{run}";
    private static final String UNKNOWN = "20000101-000000-dead";
    private static final String JSON_TYPE = "application/json";

    /** A run that has ended, with at least one line in its audit log; made once for the whole class. */
    private static String run;

    /** One bad request and what the answer must name. */
    record Case(String name, String method, String path, String contentType, String accept, byte[] body,
                boolean chunked, int status, String field) {

        static Case json(String method, String path, String body, int status, String field) {
            return new Case(method + " " + path + " " + abbreviate(body), method, path, JSON_TYPE, JSON_TYPE,
                    body.getBytes(StandardCharsets.UTF_8), false, status, field);
        }

        static Case bytes(String name, String method, String path, String contentType, byte[] body, int status,
                          String field) {
            return new Case(method + " " + path + " " + name, method, path, contentType, JSON_TYPE, body, false,
                    status, field);
        }

        Case sentInChunks() {
            return new Case(name + " (chunked)", method, path, contentType, accept, body, true, status, field);
        }

        Case accepting(String type) {
            return new Case(name + " (Accept: " + type + ")", method, path, contentType, type, body, chunked,
                    status, field);
        }

        private static String abbreviate(String body) {
            return body.length() > 80 ? body.substring(0, 80) + "... (" + body.length() + " bytes)" : body;
        }
    }

    /** What a bad request must leave as it was. */
    record Observed(String policy, String runs, byte[] audit) {
    }

    @BeforeEach
    void oneEndedRunWithAnAuditLog() {
        if (run != null) {
            return;
        }
        Runs.stopActive();
        String id = Runs.start("{\"workload\":\"fashion-mlp\",\"steps\":1000000}");
        Runs.awaitStep(id, 1, Duration.ofSeconds(60));
        // A policy change during a run is audited in that run: the log then has a line to compare. (The policy in
        // force sent again would be no change, and audit nothing.)
        given().contentType(ContentType.JSON).body("{\"spikeZ\":4.5}").when().put("/api/policy").then()
                .statusCode(200);
        Runs.awaitIntervention(id, "policy-change", Duration.ofSeconds(60));
        given().when().delete("/api/runs/" + id).then().statusCode(200);
        run = id;
    }

    @AfterEach
    void defaultPolicy() {
        given().contentType(ContentType.JSON).body(Api.DEFAULT_POLICY).when().put("/api/policy").then()
                .statusCode(200);
    }

    @TestFactory
    Stream<DynamicTest> everyBadInputIsA4xxProblemNamingTheFieldAndChangesNothing() throws IOException {
        return cases().stream().map(c -> DynamicTest.dynamicTest(c.name(), () -> check(c)));
    }

    private static void check(Case c) throws Exception {
        Observed before = observe();
        HttpResponse<String> response = send(c);
        String body = response.body();
        assertEquals(c.status(), response.statusCode(), body);
        assertEquals(Problem.MEDIA_TYPE, response.headers().firstValue("Content-Type").orElse(""), body);
        JsonNode problem = JSON.readTree(body);
        assertEquals(c.status(), problem.path("status").asInt(), body);
        assertEquals(c.field(), problem.path("field").asText(null), body);
        assertFalse(problem.path("detail").asText("").isBlank(), body);
        assertFalse(body.contains("\tat ") || body.contains(".java:") || body.contains("Exception"),
                "no stack trace or exception name: " + body);
        Observed after = observe();
        assertEquals(before.policy(), after.policy(), "policy unchanged");
        assertEquals(before.runs(), after.runs(), "runs unchanged");
        assertArrayEquals(before.audit(), after.audit(), "audit log unchanged");
    }

    /**
     * Valid bodies at the edges: a delivery without alerts, and 1000 alerts (about 670 KB shaped like the captured
     * delivery, inside the 1 MiB limit). Both are handled, and with no run training they change nothing.
     */
    @Test
    void emptyAndThousandAlertDeliveriesAreHandledAndChangeNothing() throws Exception {
        Observed before = observe();
        HttpResponse<String> none = send(Case.json("POST", "/api/alerts/alertmanager", webhook(0, "tighten-clipping",
                0), 200, null));
        assertEquals(200, none.statusCode(), none.body());
        assertEquals(0, JSON.readTree(none.body()).path("applied").asInt(), none.body());

        String thousand = webhook(1000, "tighten-clipping", 0);
        assertTrue(thousand.length() < 1_048_576, thousand.length() + " bytes");
        HttpResponse<String> many = send(Case.json("POST", "/api/alerts/alertmanager", thousand, 200, null));
        assertEquals(200, many.statusCode(), many.body());
        JsonNode outcome = JSON.readTree(many.body());
        assertEquals(0, outcome.path("applied").asInt(), many.body());
        // Each names a run that is not training here (none is), so each is ignored with that reason; the
        // once-per-delivery rule counts only alerts about the training run (AlertResourceTest).
        assertEquals(1000, outcome.path("ignored").asInt(), "each ignored: no run is training");
        assertEquals(0, outcome.path("duplicates").asInt(), many.body());
        Observed after = observe();
        assertEquals(before.policy(), after.policy());
        assertEquals(before.runs(), after.runs());
        assertArrayEquals(before.audit(), after.audit());
    }

    private static List<Case> cases() throws IOException {
        List<Case> c = new ArrayList<>();
        String runs = "/api/runs";
        String mlp = "{\"workload\":\"fashion-mlp\",";
        c.add(Case.json("POST", runs, "{bad", 400, "body"));
        c.add(Case.json("POST", runs, "{\"workload\":", 400, "body"));
        c.add(Case.json("POST", runs, "{\"workload\":\"fashion-mlp\"} {\"workload\":\"adding\"}", 400, "body"));
        c.add(Case.json("POST", runs, "[]", 400, "body"));
        c.add(Case.json("POST", runs, "\"fashion-mlp\"", 400, "body"));
        c.add(Case.json("POST", runs, "", 400, "workload"));
        c.add(Case.json("POST", runs, "{}", 400, "workload"));
        c.add(Case.json("POST", runs, "{\"workload\":5}", 400, "workload"));
        c.add(Case.json("POST", runs, "{\"workload\":null}", 400, "workload"));
        c.add(Case.json("POST", runs, "{\"workload\":\"imagenet\"}", 400, "workload"));
        c.add(Case.json("POST", runs, "{\"workload\":\"fashion-mlp\",\"workload\":\"adding\"}", 400, "workload"));
        c.add(Case.json("POST", runs, mlp + "\"stepz\":10}", 400, "stepz"));
        c.add(Case.json("POST", runs, mlp + "\"steps\":\"100\"}", 400, "steps"));
        c.add(Case.json("POST", runs, mlp + "\"steps\":2.5}", 400, "steps"));
        c.add(Case.json("POST", runs, mlp + "\"steps\":-5}", 400, "steps"));
        c.add(Case.json("POST", runs, mlp + "\"steps\":1e30}", 400, "steps"));
        c.add(Case.json("POST", runs, mlp + "\"steps\":123456789012345678901234567890}", 400, "steps"));
        c.add(Case.json("POST", runs, mlp + "\"steps\":true}", 400, "steps"));
        c.add(Case.json("POST", runs, mlp + "\"steps\":10,\"epochs\":1}", 400, "epochs"));
        c.add(Case.json("POST", runs, mlp + "\"epochs\":100000}", 400, "epochs"));
        c.add(Case.json("POST", runs, mlp + "\"learningRate\":NaN}", 400, "learningRate"));
        c.add(Case.json("POST", runs, mlp + "\"learningRate\":\"NaN\"}", 400, "learningRate"));
        c.add(Case.json("POST", runs, mlp + "\"learningRate\":Infinity}", 400, "learningRate"));
        c.add(Case.json("POST", runs, mlp + "\"learningRate\":-Infinity}", 400, "learningRate"));
        c.add(Case.json("POST", runs, mlp + "\"learningRate\":1e999}", 400, "learningRate"));
        c.add(Case.json("POST", runs, mlp + "\"learningRate\":-0.1}", 400, "learningRate"));
        c.add(Case.json("POST", runs, mlp + "\"hidden\":99999999999}", 400, "hidden"));
        c.add(Case.json("POST", runs, mlp + "\"hidden\":-1}", 400, "hidden"));
        c.add(Case.json("POST", runs, mlp + "\"hidden\":\"64\"}", 400, "hidden"));
        c.add(Case.json("POST", runs, mlp + "\"batchSize\":0}", 400, "batchSize"));
        c.add(Case.json("POST", runs, mlp + "\"batchSize\":1e3}", 400, "batchSize"));
        c.add(Case.json("POST", runs, mlp + "\"evalExamples\":-1}", 400, "evalExamples"));
        c.add(Case.json("POST", runs, mlp + "\"recurrentGain\":1e308}", 400, "recurrentGain"));
        c.add(Case.json("POST", runs, mlp + "\"seed\":true}", 400, "seed"));
        c.add(Case.json("POST", runs, mlp + "\"cell\":{\"kind\":\"lstm\"}}", 400, "cell"));
        c.add(Case.json("POST", runs, "{\"workload\":\"fashion-rnn\",\"cell\":\"gru\"}", 400, "cell"));
        c.add(Case.json("POST", runs, mlp + "\"activation\":\"softplus\"}", 400, "activation"));
        c.add(Case.json("POST", runs, mlp + "\"optimizer\":\"lbfgs\"}", 400, "optimizer"));
        c.add(Case.json("POST", runs, "{\"workload\":\"adding\",\"sequenceLength\":1}", 400, "sequenceLength"));
        c.add(Case.json("POST", runs, mlp + "\"pad\":\"" + "x".repeat(70_000) + "\"}", 413, "body"));
        c.add(Case.json("POST", runs, mlp + "\"pad\":\"" + "x".repeat(70_000) + "\"}", 413, "body")
                .sentInChunks());
        c.addAll(encodingAndTypeCases("POST", runs, "{\"workload\":\"fashion-mlp\",\"steps\":10}"));

        c.add(Case.json("GET", runs + "/" + UNKNOWN, "", 404, "id"));
        c.add(Case.json("DELETE", runs + "/" + UNKNOWN, "", 404, "id"));
        c.add(Case.json("POST", runs + "/" + UNKNOWN + "/resume", "", 404, "id"));
        c.add(Case.json("GET", runs + "/" + UNKNOWN + "/interventions", "", 404, "id"));
        String interventions = runs + "/" + RUN + "/interventions";
        c.add(Case.json("GET", interventions + "?kind=explode", "", 400, "kind"));
        c.add(Case.json("GET", interventions + "?offset=-1", "", 400, "offset"));
        c.add(Case.json("GET", interventions + "?offset=1e3", "", 400, "offset"));
        c.add(Case.json("GET", interventions + "?limit=0", "", 400, "limit"));
        c.add(Case.json("GET", interventions + "?limit=", "", 400, "limit"));
        c.add(Case.json("GET", interventions + "?offset=", "", 400, "offset"));
        c.add(Case.json("GET", interventions + "?limit=1001", "", 400, "limit"));
        c.add(Case.json("GET", interventions + "?limit=abc", "", 400, "limit"));
        c.add(Case.json("GET", interventions + "?limit=99999999999", "", 400, "limit"));
        c.add(Case.json("PATCH", "/api/policy", "{}", 405, "method"));
        c.add(Case.json("GET", "/api/rns", "", 404, "path"));

        String policy = "/api/policy";
        c.add(Case.json("PUT", policy, "", 400, "policy"));
        c.add(Case.json("PUT", policy, "{\"mode\":\"observe\"", 400, "body"));
        c.add(Case.json("PUT", policy, "{\"mode\":\"yolo\"}", 400, "mode"));
        c.add(Case.json("PUT", policy, "{\"mode\":1}", 400, "mode"));
        c.add(Case.json("PUT", policy, "{\"policy\":\"clip-everything\"}", 400, "policy"));
        c.add(Case.json("PUT", policy, "{\"policy\":\"norm\",\"settings\":{\"threshold\":-1}}", 400,
                "settings.threshold"));
        c.add(Case.json("PUT", policy, "{\"policy\":\"norm\",\"settings\":{\"threshold\":NaN}}", 400,
                "settings.threshold"));
        c.add(Case.json("PUT", policy, "{\"policy\":\"norm\",\"settings\":{\"threshold\":\"1\"}}", 400,
                "settings.threshold"));
        c.add(Case.json("PUT", policy, "{\"policy\":\"norm\",\"settings\":{\"threshold\":1e400}}", 400,
                "settings.threshold"));
        c.add(Case.json("PUT", policy, "{\"policy\":\"norm\",\"settings\":{\"treshold\":1}}", 400,
                "settings.treshold"));
        c.add(Case.json("PUT", policy, "{\"policy\":\"norm\",\"settings\":[1]}", 400, "settings"));
        c.add(Case.json("PUT", policy, "{\"spikeZ\":Infinity}", 400, "spikeZ"));
        c.add(Case.json("PUT", policy, "{\"spikeZ\":1e400}", 400, "spikeZ"));
        c.add(Case.json("PUT", policy, "{\"spikeZ\":-4}", 400, "spikeZ"));
        c.add(Case.json("PUT", policy, "{\"snapshotEvery\":-1}", 400, "snapshotEvery"));
        c.add(Case.json("PUT", policy, "{\"snapshotEvery\":99999999999}", 400, "snapshotEvery"));
        c.add(Case.json("PUT", policy, "{\"maxRecoveries\":1.5}", 400, "maxRecoveries"));
        c.add(Case.json("PUT", policy, "{\"lrBackoffFactor\":\"0.5\"}", 400, "lrBackoffFactor"));
        c.add(Case.json("PUT", policy, "{\"lrBackoffFactor\":2}", 400, "lrBackoffFactor"));
        c.add(Case.json("PUT", policy, "{\"mode\":\"observe\",\"threshold\":1}", 400, "threshold"));
        c.add(Case.json("PUT", policy, "{\"mode\":\"observe\",\"policy\":\"norm\",\"settings\":{\"threshold\":0}}",
                400, "settings.threshold"));
        c.add(Case.json("PUT", policy, "{\"mode\":\"observe\",\"pad\":\"" + "x".repeat(70_000) + "\"}", 413,
                "body"));
        c.addAll(encodingAndTypeCases("PUT", policy, "{\"mode\":\"observe\"}"));

        String alerts = "/api/alerts/alertmanager";
        c.add(Case.json("POST", alerts, "", 400, "alerts"));
        c.add(Case.json("POST", alerts, "{\"version\":\"3\",\"alerts\":[]}", 400, "version"));
        c.add(Case.json("POST", alerts, "{\"version\":4,\"alerts\":[]}", 400, "version"));
        c.add(Case.json("POST", alerts, "{\"version\":\"4\"}", 400, "alerts"));
        c.add(Case.json("POST", alerts, "{\"version\":\"4\",\"alerts\":{}}", 400, "alerts"));
        c.add(Case.json("POST", alerts, "{\"version\":\"4\",\"alerts\":[null]}", 400, "alerts[0]"));
        c.add(Case.json("POST", alerts, edit(webhook(1, "pause", 0), "/alerts/0", "status", "bogus"), 400,
                "alerts[0].status"));
        c.add(Case.json("POST", alerts, edit(webhook(1, "pause", 0), "/alerts/0/labels", "alertname", null), 400,
                "alerts[0].labels.alertname"));
        c.add(Case.json("POST", alerts, edit(webhook(1, "pause", 0), "/alerts/0/labels", "alertname", 5), 400,
                "alerts[0].labels.alertname"));
        c.add(Case.json("POST", alerts, edit(webhook(1, "pause", 0), "/alerts/0", "fingerprint", ""), 400,
                "alerts[0].fingerprint"));
        c.add(Case.json("POST", alerts, edit(webhook(1, "pause", 0), "/alerts/0", "startsAt", "yesterday"), 400,
                "alerts[0].startsAt"));
        c.add(Case.json("POST", alerts, webhook(1, "pause", 0).replaceFirst("\"startsAt\":\"[^\"]*\"",
                "\"startsAt\":NaN"), 400, "alerts[0].startsAt"));
        // The whole body is checked before any alert is applied: the 1000th alert spoils the delivery.
        c.add(Case.json("POST", alerts, edit(webhook(1000, "pause", 0), "/alerts/999", "status", "fired"), 400,
                "alerts[999].status"));
        c.add(Case.json("POST", alerts, webhook(1000, "pause", 1100), 413, "body"));
        c.add(Case.json("POST", alerts, webhook(1000, "pause", 1100), 413, "body").sentInChunks());
        c.addAll(encodingAndTypeCases("POST", alerts, webhook(1, "pause", 0)));

        c.add(Case.json("GET", policy, "", 406, "Accept").accepting("text/csv"));
        c.add(Case.json("GET", runs + "/current", "", 406, "Accept").accepting("application/xml"));
        return c;
    }

    /** The same valid body with a wrong content type, invalid UTF-8, and another encoding of Unicode. */
    private static List<Case> encodingAndTypeCases(String method, String path, String valid) {
        byte[] utf8 = valid.getBytes(StandardCharsets.UTF_8);
        byte[] invalid = Arrays.copyOf(utf8, utf8.length);
        int quote = valid.indexOf(':') + 2; // inside the first string value
        invalid[quote] = (byte) 0xff;
        // 0xc3 opens a two-byte sequence; the ASCII byte after it cannot continue one.
        byte[] truncated = Arrays.copyOf(utf8, utf8.length);
        truncated[quote] = (byte) 0xc3;
        byte[] utf16 = valid.getBytes(StandardCharsets.UTF_16LE);
        byte[] bom16 = new byte[utf16.length + 2];
        bom16[0] = (byte) 0xff;
        bom16[1] = (byte) 0xfe;
        System.arraycopy(utf16, 0, bom16, 2, utf16.length);
        return List.of(
                Case.bytes("text/plain", method, path, "text/plain", utf8, 415, "Content-Type"),
                Case.bytes("application/xml", method, path, "application/xml", utf8, 415, "Content-Type"),
                Case.bytes("no content type", method, path, null, utf8, 415, "Content-Type"),
                Case.bytes("byte 0xff", method, path, JSON_TYPE, invalid, 400, "body"),
                Case.bytes("truncated UTF-8 sequence", method, path, JSON_TYPE, truncated, 400, "body"),
                Case.bytes("UTF-16 with a byte-order mark", method, path, JSON_TYPE, bom16, 400, "body"));
    }

    /**
     * An Alertmanager delivery of {@code count} alerts shaped like the captured one, each with its own fingerprint
     * and the given {@code action}; {@code padding} adds that many characters to each alert's summary.
     */
    private static String webhook(int count, String action, int padding) throws IOException {
        ObjectNode body;
        try (InputStream in = BadInputTest.class.getResourceAsStream("/alertmanager/payload-firing.json")) {
            body = (ObjectNode) JSON.readTree(in);
        }
        ObjectNode template = (ObjectNode) body.path("alerts").get(0);
        ArrayNode alerts = JSON.createArrayNode();
        for (int i = 0; i < count; i++) {
            ObjectNode a = template.deepCopy();
            ((ObjectNode) a.path("labels")).put("action", action);
            a.put("fingerprint", String.format("badinput%08d", i));
            ((ObjectNode) a.path("annotations")).put("summary", "gradient norm far above the threshold "
                    + "x".repeat(padding));
            alerts.add(a);
        }
        body.set("alerts", alerts);
        return JSON.writeValueAsString(body);
    }

    /** The webhook with one field of the object at {@code pointer} replaced; null removes it. */
    private static String edit(String webhook, String pointer, String field, Object value) throws IOException {
        ObjectNode body = (ObjectNode) JSON.readTree(webhook);
        ObjectNode target = (ObjectNode) body.at(pointer);
        if (value == null) {
            target.remove(field);
        } else {
            target.set(field, JSON.valueToTree(value));
        }
        return JSON.writeValueAsString(body);
    }

    private static HttpResponse<String> send(Case c) throws IOException, InterruptedException {
        HttpRequest.BodyPublisher body = c.body().length == 0 && !c.method().equals("POST")
                && !c.method().equals("PUT") ? HttpRequest.BodyPublishers.noBody()
                : c.chunked() ? HttpRequest.BodyPublishers.ofInputStream(() -> new ByteArrayInputStream(c.body()))
                : HttpRequest.BodyPublishers.ofByteArray(c.body());
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create("http://localhost:" + RestAssured.port
                        + c.path().replace(RUN, run)))
                .timeout(Duration.ofSeconds(30))
                .header("Authorization", "Bearer " + Api.TOKEN)
                .method(c.method(), body);
        if (c.contentType() != null) {
            request.header("Content-Type", c.contentType());
        }
        request.header("Accept", c.accept());
        return HTTP.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    private static Observed observe() throws IOException {
        String policy = given().when().get("/api/policy").then().statusCode(200).extract().asString();
        String runs = given().when().get("/api/runs").then().statusCode(200).extract().asString();
        Path audit = Path.of("target/test-data/runs", run, "interventions.jsonl");
        byte[] bytes = Files.readAllBytes(audit);
        assertTrue(bytes.length > 0, "the audit log to compare has content: " + audit);
        return new Observed(policy, runs, bytes);
    }
}
