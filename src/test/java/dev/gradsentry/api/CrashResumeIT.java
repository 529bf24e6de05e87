package dev.gradsentry.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.gradsentry.training.RunRegistry;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.ServerSocket;
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
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The packaged service is killed with SIGKILL while it trains; a new process finds the run {@code interrupted},
 * resumes it from the last checkpoint, and the step counter, the guard and the audit log carry on: every event
 * written before the kill is still there, once, and an alert applied before the kill is a duplicate when Alertmanager
 * delivers it again to the new process. Ended with SIGTERM instead (podman stop, a rollout, a node drain), the
 * service checkpoints the run's last step and leaves it {@code interrupted}, and the next one resumes it from there.
 */
class CrashResumeIT {

    private static final String TOKEN = "crash-test-token";
    private static final long STEPS = 400;
    private static final int CHECKPOINT_EVERY = 25;
    private static final ObjectMapper JSON = new ObjectMapper();
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private final List<Process> processes = new ArrayList<>();

    @TempDir
    Path tmp;

    @AfterEach
    void killAll() {
        processes.forEach(Process::destroyForcibly);
    }

    @Test
    void aRunKilledMidTrainingResumesWithoutLosingOrRepeatingAnything() throws Exception {
        Path data = tmp.resolve("data");
        int port = freePort();
        Process first = start(data, port, tmp.resolve("first.log"), CHECKPOINT_EVERY);
        awaitReady(port, first, tmp.resolve("first.log"));
        // Relaxing after 5 healthy steps keeps the audit log busy all through the run.
        send(port, "PUT", "/api/policy", "{\"mode\":\"auto\",\"policy\":\"adaptive\","
                + "\"settings\":{\"relaxAfter\":5,\"cooldown\":1}}", 200);
        JsonNode started = send(port, "POST", "/api/runs", "{\"workload\":\"adding\",\"cell\":\"rnn\","
                + "\"activation\":\"tanh\",\"recurrentGain\":2,\"hidden\":16,\"optimizer\":\"sgd\","
                + "\"learningRate\":0.1,\"batchSize\":32,\"sequenceLength\":50,\"steps\":" + STEPS + ","
                + "\"seed\":7,\"evalInterval\":0,\"evalExamples\":200}", 201);
        String id = started.get("id").asText();
        awaitRun(port, id, r -> r.get("step").asLong() >= 20, first);
        String alert = alert(id);
        assertEquals(1, send(port, "POST", "/api/alerts/alertmanager", alert, 200).get("applied").asInt());
        await("the alert applied").atMost(Duration.ofSeconds(60)).until(() -> send(port, "GET", "/api/runs/" + id
                + "/interventions?kind=clip-tighten&limit=1000", null, 200).get("items").findValuesAsText("reason")
                .contains("alert"));
        long seenBeforeKill = awaitRun(port, id, r -> r.get("step").asLong() >= 150, first).get("step").asLong();
        first.destroyForcibly().waitFor();
        assertEquals(137, first.exitValue(), "SIGKILL");

        Path audit = data.resolve("runs").resolve(id).resolve("interventions.jsonl");
        byte[] beforeKill = Files.readAllBytes(audit);
        List<JsonNode> eventsBeforeKill = events(beforeKill);
        assertTrue(eventsBeforeKill.size() >= 3, "the guard must have written to the audit log before the kill");

        Process second = start(data, port, tmp.resolve("second.log"), CHECKPOINT_EVERY);
        awaitReady(port, second, tmp.resolve("second.log"));
        JsonNode found = send(port, "GET", "/api/runs/" + id, null, 200);
        assertEquals("interrupted", found.get("state").asText(), found.toString());
        long checkpointStep = found.get("step").asLong();
        // The kill can land between a step and its checkpoint, so the newest checkpoint is at most one interval behind
        // the last step seen, never more.
        assertTrue(checkpointStep >= seenBeforeKill - CHECKPOINT_EVERY && checkpointStep <= STEPS,
                "seen at step " + seenBeforeKill + " before the kill: " + found);

        JsonNode resumed = send(port, "POST", "/api/runs/" + id + "/resume", "", 200);
        assertEquals("running", resumed.get("state").asText(), resumed.toString());
        JsonNode redelivered = send(port, "POST", "/api/alerts/alertmanager", alert, 200);
        assertEquals(0, redelivered.get("applied").asInt(), redelivered.toString());
        assertEquals(1, redelivered.get("duplicates").asInt(), "applied before the kill: " + redelivered);
        JsonNode finished = awaitRun(port, id, r -> !r.get("state").asText().equals("running"), second);
        assertEquals("finished", finished.get("state").asText(), finished.toString());
        assertEquals(STEPS, finished.get("step").asLong());

        byte[] after = Files.readAllBytes(audit);
        assertTrue(after.length > beforeKill.length);
        assertArrayEquals(beforeKill, Arrays.copyOf(after, beforeKill.length),
                "every line written before the kill is still there, unchanged");
        List<JsonNode> all = events(after);
        List<JsonNode> added = all.subList(eventsBeforeKill.size(), all.size());
        JsonNode resume = added.get(0);
        assertEquals("resume", resume.get("kind").asText(), resume.toString());
        assertEquals("interrupted", resume.get("reason").asText());
        assertEquals(checkpointStep, resume.get("step").asLong());
        for (JsonNode e : eventsBeforeKill) {
            assertTrue(e.get("step").asLong() <= checkpointStep, "written before the kill, covered by the checkpoint: "
                    + e);
        }
        for (JsonNode e : added.subList(1, added.size())) {
            assertTrue(e.get("step").asLong() > checkpointStep, "trained after the resume, not a repeat: " + e);
        }
        Set<String> distinct = new HashSet<>();
        for (JsonNode e : all) {
            assertTrue(distinct.add(e.get("step") + " " + e.get("kind") + " " + e.get("reason") + " "
                    + e.get("layer")), "an event appears twice: " + e);
        }
        assertEquals(1, all.stream().filter(e -> e.get("kind").asText().equals("clip-tighten")
                        && e.get("reason").asText().equals("alert")).count(),
                "the alert was applied once, before the kill");
        JsonNode page = send(port, "GET", "/api/runs/" + id + "/interventions?limit=1000", null, 200);
        assertEquals(all.size(), page.get("total").asLong(), page.toString());
    }

    @Test
    void aRunEndedBySigtermIsInterruptedAtItsLastStepAndTheNextProcessResumesItFromThere() throws Exception {
        Path data = tmp.resolve("data");
        int port = freePort();
        // With the guard off nothing is audited, and with this interval no checkpoint is due: the only ones are the
        // run's first (step 0) and what the shutdown writes.
        int never = 1_000_000;
        Process first = start(data, port, tmp.resolve("first.log"), never, "-Dgradsentry.guard.mode=off");
        awaitReady(port, first, tmp.resolve("first.log"));
        String id = send(port, "POST", "/api/runs", "{\"workload\":\"adding\",\"cell\":\"rnn\",\"hidden\":16,"
                + "\"sequenceLength\":20,\"steps\":" + never + ",\"evalInterval\":0,\"evalExamples\":100}", 201)
                .get("id").asText();
        long seenBeforeTerm = awaitRun(port, id, r -> r.get("step").asLong() >= 50, first).get("step").asLong();
        first.destroy();
        assertTrue(first.waitFor(RunRegistry.SHUTDOWN_WAIT.toSeconds() + 5, TimeUnit.SECONDS),
                "the service must end by itself after SIGTERM, before podman's SIGKILL");

        Process second = start(data, port, tmp.resolve("second.log"), never, "-Dgradsentry.guard.mode=off");
        awaitReady(port, second, tmp.resolve("second.log"));
        JsonNode found = send(port, "GET", "/api/runs/" + id, null, 200);
        assertEquals("interrupted", found.get("state").asText(), found.toString());
        long stoppedAt = found.get("step").asLong();
        assertTrue(stoppedAt >= seenBeforeTerm, "checkpointed at the last step, not the first: " + found);
        assertTrue(Files.exists(data.resolve("runs").resolve(id).resolve(String.format("checkpoint-%012d.zip",
                stoppedAt))), "the checkpoint written at SIGTERM");
        send(port, "POST", "/api/runs/" + id + "/resume", "", 200);
        awaitRun(port, id, r -> r.get("step").asLong() > stoppedAt, second);
        JsonNode resume = send(port, "GET", "/api/runs/" + id + "/interventions?kind=resume", null, 200)
                .get("items").get(0);
        assertEquals("interrupted", resume.get("reason").asText(), resume.toString());
        assertEquals(stoppedAt, resume.get("step").asLong(), resume.toString());
        second.destroy();
        assertTrue(second.waitFor(RunRegistry.SHUTDOWN_WAIT.toSeconds() + 5, TimeUnit.SECONDS));

        // gradsentry.resume-interrupted=true (the container's default) resumes it at startup.
        Process third = start(data, port, tmp.resolve("third.log"), never, "-Dgradsentry.guard.mode=off",
                "-Dgradsentry.resume-interrupted=true");
        awaitReady(port, third, tmp.resolve("third.log"));
        // The resume event is written once the training thread has restored the run.
        JsonNode resumes = await("the resume at startup").atMost(Duration.ofMinutes(1))
                .pollInterval(Duration.ofMillis(100)).until(() -> send(port, "GET", "/api/runs/" + id
                        + "/interventions?kind=resume", null, 200).get("items"), items -> items.size() == 2);
        long secondStop = resumes.get(1).get("step").asLong();
        assertEquals("interrupted", resumes.get(1).get("reason").asText(), resumes.toString());
        assertTrue(secondStop > stoppedAt, "resumed where the second process stopped: " + resumes);
        awaitRun(port, id, r -> r.get("state").asText().equals("running") && r.get("step").asLong() > secondStop,
                third);
    }

    /**
     * A user's ComputationGraph (the LSTM sequence example), started at boot by its run file, killed with SIGKILL
     * mid-training: the next process (resume-interrupted, as in the container) continues it from its checkpoint to
     * the end, and its meters carry the graph's vertex names.
     */
    @Test
    void aUsersGraphStartedByItsRunFileResumesAfterSigkill() throws Exception {
        Path data = tmp.resolve("data");
        Path user = dev.gradsentry.training.UserRuns.copy(dev.gradsentry.examples.ExampleFiles.SEQUENCE,
                data.resolve("user"));
        Path runFile = user.resolve("run.json");
        Files.writeString(runFile, Files.readString(runFile).replace("\"steps\": 300", "\"steps\": " + STEPS)
                .replace("\"evalInterval\": 50", "\"evalInterval\": 0"));
        int port = freePort();
        Process first = start(data, port, tmp.resolve("first.log"), 10, "-Dgradsentry.run-file=" + runFile);
        awaitReady(port, first, tmp.resolve("first.log"));
        JsonNode current = await("the run file's run").atMost(Duration.ofSeconds(60))
                .ignoreExceptionsInstanceOf(AssertionError.class)
                .until(() -> send(port, "GET", "/api/runs/current", null, 200), r -> r.has("id"));
        String id = current.get("id").asText();
        assertEquals("user", current.get("spec").get("workload").asText());
        awaitRun(port, id, r -> r.get("step").asLong() >= 40, first);
        String metrics = http.send(HttpRequest.newBuilder(uri(port, "/q/metrics")).build(),
                HttpResponse.BodyHandlers.ofString()).body();
        assertTrue(metrics.contains("layer=\"lstm\""), "vertex names as layers");
        assertTrue(metrics.contains("layer=\"class\""), "vertex names as layers");
        first.destroyForcibly().waitFor();

        Process second = start(data, port, tmp.resolve("second.log"), 10, "-Dgradsentry.run-file=" + runFile,
                "-Dgradsentry.resume-interrupted=true");
        awaitReady(port, second, tmp.resolve("second.log"));
        JsonNode finished = awaitRun(port, id, r -> !r.get("state").asText().equals("running")
                && !r.get("state").asText().equals("interrupted"), second);
        assertEquals("finished", finished.get("state").asText(), finished.toString());
        assertEquals(STEPS, finished.get("step").asLong());
        assertEquals("accuracy", finished.get("evaluation").get("metric").asText());
        JsonNode resume = send(port, "GET", "/api/runs/" + id + "/interventions?kind=resume", null, 200)
                .get("items").get(0);
        assertEquals("interrupted", resume.get("reason").asText(), resume.toString());
        assertEquals(1, send(port, "GET", "/api/runs", null, 200).size(), "resumed, not started again");
    }

    /** The captured firing delivery, asking for a tightening. */
    private static String alert(String run) throws IOException {
        try (var in = CrashResumeIT.class.getResourceAsStream("/alertmanager/payload-firing.json")) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8).replace("\"tune_clipping\"",
                    "\"tighten-clipping\"").replace("\"run\": \"r1\"", "\"run\": \"" + run + "\"");
        }
    }

    private Process start(Path data, int port, Path log, int checkpointEvery, String... settings) throws IOException {
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> command = new ArrayList<>(List.of(java, "-Xmx1g", "-Dquarkus.http.port=" + port,
                "-Dquarkus.http.host=127.0.0.1", "-Dgradsentry.data-dir=" + data, "-Dgradsentry.demo.enabled=false",
                "-Dgradsentry.checkpoint.every=" + checkpointEvery, "-Dgradsentry.progress-interval=2s"));
        command.addAll(List.of(settings));
        command.addAll(List.of("-jar", "target/quarkus-app/quarkus-run.jar"));
        ProcessBuilder pb = new ProcessBuilder(command);
        pb.environment().put("GRADSENTRY_API_TOKEN", TOKEN);
        pb.environment().put("OMP_NUM_THREADS", "1");
        pb.redirectErrorStream(true).redirectOutput(log.toFile());
        Process p = pb.start();
        processes.add(p);
        return p;
    }

    private void awaitReady(int port, Process p, Path log) {
        await("the service ready, log " + log).atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(200))
                .ignoreExceptionsInstanceOf(IOException.class) // not listening yet
                .until(() -> {
                    assertTrue(p.isAlive(), () -> "the service exited: " + read(log));
                    return http.send(HttpRequest.newBuilder(uri(port, "/q/health/ready")).build(),
                            HttpResponse.BodyHandlers.discarding()).statusCode() == 200;
                });
    }

    private JsonNode awaitRun(int port, String id, Predicate<JsonNode> done, Process p) {
        return await("run " + id).atMost(Duration.ofMinutes(3)).pollInterval(Duration.ofMillis(50))
                .until(() -> {
                    assertTrue(p.isAlive(), "the service exited with " + (p.isAlive() ? "" : p.exitValue()));
                    return send(port, "GET", "/api/runs/" + id, null, 200);
                }, done::test);
    }

    private static String read(Path log) {
        try {
            return Files.readString(log);
        } catch (IOException e) {
            return "(unreadable: " + e.getMessage() + ")";
        }
    }

    private JsonNode send(int port, String method, String path, String body, int expected) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(uri(port, path)).timeout(Duration.ofSeconds(30));
        if (body == null) {
            b.GET();
        } else {
            b.method(method, HttpRequest.BodyPublishers.ofString(body)).header("Content-Type", "application/json")
                    .header("Authorization", "Bearer " + TOKEN);
        }
        HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(expected, r.statusCode(), method + " " + path + ": " + r.body());
        return JSON.readTree(r.body());
    }

    private static List<JsonNode> events(byte[] file) throws IOException {
        List<JsonNode> list = new ArrayList<>();
        for (String line : new String(file, StandardCharsets.UTF_8).split("\n")) {
            if (!line.isEmpty()) {
                list.add(JSON.readTree(line));
            }
        }
        return list;
    }

    private static URI uri(int port, String path) {
        return URI.create("http://127.0.0.1:" + port + path);
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }
}
