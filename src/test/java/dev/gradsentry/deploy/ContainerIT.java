package dev.gradsentry.deploy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The image of {@code deploy/Dockerfile}, built and run for real with podman, without a Docker engine or a registry:
 * {@code mmdebstrap} makes a Debian bookworm root file system from the package mirror, {@code podman import} makes it
 * the base image, {@code podman build} builds the Dockerfile on it, and the container runs as a restricted Kubernetes
 * pod would (read-only root file system, a writable {@code /tmp} and {@code /data}, no capabilities, no privilege
 * escalation). The demo run must train as user 1001 and checkpoint into the {@code /data} volume, the health check
 * must pass, {@code podman stop} (SIGTERM) must leave the run {@code interrupted} with a checkpoint of its last step,
 * and a new container on the same volume must resume it from there.
 *
 * <p>Skipped, with the reason, only where podman cannot run (not root, no podman); under CI it fails instead.
 */
class ContainerIT {

    static final String BASE_IMAGE = "localhost/gradsentry-base:bookworm";
    private static final String IMAGE = "localhost/gradsentry:container-it";
    private static final String TOKEN = "container-test-token";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    private final String name = "gradsentry-it-" + Integer.toHexString(ThreadLocalRandom.current().nextInt());
    private final List<String> containers = new ArrayList<>();

    @TempDir
    Path tmp;
    private Path containersConf;

    @BeforeEach
    void podmanCanRun() throws Exception {
        String reason = null;
        if (!Files.isExecutable(Path.of("/usr/bin/podman"))) {
            reason = "podman is missing: apt-get install podman mmdebstrap runc (.ci/run installs them)";
        } else if (!"root".equals(System.getProperty("user.name"))) {
            reason = "the container test runs podman as root (rootful), and this is user " + System.getProperty(
                    "user.name");
        }
        if (reason != null) {
            if (System.getenv("CI") != null) {
                fail(reason);
            }
            Assumptions.abort(reason);
        }
        // The test's own podman settings: runc, which ran here where crun did not, and limits runc may set in this
        // sandbox (with podman's defaults, or limits as high as the shell's, runc fails: "error setting rlimit").
        containersConf = tmp.resolve("containers.conf");
        Files.writeString(containersConf, """
                [containers]
                default_ulimits = ["nofile=8192:8192", "nproc=8192:8192"]

                [engine]
                runtime = "runc"
                """);
    }

    @AfterEach
    void removeContainers() throws Exception {
        for (String c : containers) {
            podman(Duration.ofSeconds(60), "rm", "--force", "--time", "0", c);
        }
        podman(Duration.ofSeconds(60), "volume", "rm", "--force", name);
    }

    @Test
    void theImageRunsTheDemoAsNonRootResumingAfterSigterm() throws Exception {
        long t0 = System.nanoTime();
        ensureBaseImage();
        long t1 = System.nanoTime();
        Result build = podman(Duration.ofMinutes(10), "build", "--format", "docker", "--pull=never",
                "--build-arg", "BASE=" + BASE_IMAGE, "-f", "deploy/Dockerfile", "-t", IMAGE, ".");
        assertEquals(0, build.exit(), build.output());
        long t2 = System.nanoTime();
        String size = podman(Duration.ofSeconds(30), "image", "inspect", "--format", "{{.Size}}", IMAGE).output()
                .strip();
        System.out.printf("container test: base image %.0f s, image build %.0f s, image %s bytes%n",
                (t1 - t0) / 1e9, (t2 - t1) / 1e9, size);
        assertEquals("1001:1001", podman(Duration.ofSeconds(30), "image", "inspect", "--format", "{{.Config.User}}",
                IMAGE).output().strip());
        podman(Duration.ofSeconds(30), "volume", "create", name);

        int port = freePort();
        String first = run(port, "first");
        awaitReady(port, first);
        assertEquals("1001", exec(first, "id", "-u"), "the service's user");
        assertTrue(healthy(first), "podman healthcheck run " + first);
        JsonNode run = await("the demo run training").atMost(Duration.ofMinutes(2))
                .pollInterval(Duration.ofMillis(500)).until(() -> get(port, "/api/runs/current"),
                        r -> r != null && r.get("state").asText().equals("running") && r.get("step").asLong() > 100);
        String id = run.get("id").asText();
        Path runDir = volume().resolve("runs").resolve(id);
        assertFalse(checkpoints(runDir).isEmpty(), "checkpoints in the /data volume, run " + runDir);
        long seenBeforeStop = get(port, "/api/runs/" + id).get("step").asLong();

        Result stop = podman(Duration.ofSeconds(30), "stop", "--time", "10", first);
        assertEquals(0, stop.exit(), stop.output());
        String exit = podman(Duration.ofSeconds(30), "inspect", "--format", "{{.State.ExitCode}}", first).output()
                .strip();
        assertFalse(exit.equals("137"), "killed after the 10 s grace period instead of ending by itself");
        String log = podman(Duration.ofSeconds(30), "logs", first).output();
        assertTrue(log.contains("run " + id + " interrupted after"), log);
        List<Path> files = checkpoints(runDir);
        long stoppedAt = Long.parseLong(files.get(files.size() - 1).getFileName().toString()
                .replaceAll("\\D", ""));
        assertTrue(stoppedAt >= seenBeforeStop, "a checkpoint of the last step: " + files);

        String second = run(port, "second");
        awaitReady(port, second);
        JsonNode resumed = get(port, "/api/runs/" + id);
        assertEquals("running", resumed.get("state").asText(), "resumed at start: " + resumed);
        // The resume event is written once the training thread has restored the run.
        JsonNode resume = await("the resume event").atMost(Duration.ofMinutes(1)).pollInterval(Duration.ofMillis(250))
                .until(() -> get(port, "/api/runs/" + id + "/interventions?kind=resume").get("items"),
                        items -> items.size() == 1).get(0);
        assertEquals("interrupted", resume.get("reason").asText(), resume.toString());
        assertEquals(stoppedAt, resume.get("step").asLong(), resume.toString());
        await("the resumed run training").atMost(Duration.ofMinutes(1)).pollInterval(Duration.ofMillis(500))
                .until(() -> get(port, "/api/runs/" + id).get("step").asLong() > stoppedAt);
        System.out.printf("container test: %.0f s in all%n", (System.nanoTime() - t0) / 1e9);
    }

    /** Makes the base image from the Debian mirror unless this machine has it already. */
    private void ensureBaseImage() throws Exception {
        if (podman(Duration.ofSeconds(30), "image", "exists", BASE_IMAGE).exit() == 0) {
            return;
        }
        Path tar = tmp.resolve("bookworm.tar");
        Result base = command(Duration.ofMinutes(20), List.of("deploy/base-image", tar.toString()));
        assertEquals(0, base.exit(), base.output());
        Result imported = podman(Duration.ofMinutes(5), "import", "--change", "CMD [\"bash\"]", tar.toString(),
                BASE_IMAGE);
        assertEquals(0, imported.exit(), imported.output());
    }

    /** Starts a container as a restricted pod runs: read-only root, writable /tmp and /data, no capabilities. */
    private String run(int port, String which) throws Exception {
        String container = name + "-" + which;
        containers.add(container);
        Result r = podman(Duration.ofMinutes(1), "run", "--detach", "--name", container,
                "--read-only", "--tmpfs", "/tmp:rw,exec,size=1g", "--cap-drop", "ALL",
                "--security-opt", "no-new-privileges", "--volume", name + ":/data",
                "--publish", "127.0.0.1:" + port + ":8080", "--env", "GRADSENTRY_API_TOKEN=" + TOKEN,
                // Checkpoints every 50 steps, so that the first lands within seconds.
                "--env", "GRADSENTRY_CHECKPOINT_EVERY=50", IMAGE);
        assertEquals(0, r.exit(), r.output());
        return container;
    }

    private void awaitReady(int port, String container) {
        await("the container ready").atMost(Duration.ofMinutes(2)).pollInterval(Duration.ofMillis(500))
                .until(() -> {
                    String state = podman(Duration.ofSeconds(30), "inspect", "--format", "{{.State.Status}}",
                            container).output().strip();
                    if (!state.equals("running")) {
                        fail("the container is " + state + ": " + podman(Duration.ofSeconds(30), "logs", container)
                                .output());
                    }
                    return status(port, "/q/health/ready") == 200;
                });
    }

    private boolean healthy(String container) throws Exception {
        return podman(Duration.ofSeconds(30), "healthcheck", "run", container).exit() == 0;
    }

    private String exec(String container, String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of("exec", container));
        command.addAll(List.of(args));
        Result r = podman(Duration.ofSeconds(30), command.toArray(String[]::new));
        assertEquals(0, r.exit(), r.output());
        return r.output().strip();
    }

    private Path volume() throws Exception {
        return Path.of(podman(Duration.ofSeconds(30), "volume", "inspect", "--format", "{{.Mountpoint}}", name)
                .output().strip());
    }

    private static List<Path> checkpoints(Path runDir) throws IOException {
        if (!Files.isDirectory(runDir)) {
            return List.of();
        }
        try (Stream<Path> files = Files.list(runDir)) {
            return files.filter(f -> f.getFileName().toString().matches("checkpoint-\\d+\\.zip")).sorted().toList();
        }
    }

    private int status(int port, String path) {
        try {
            return http.send(HttpRequest.newBuilder(uri(port, path)).timeout(Duration.ofSeconds(5)).build(),
                    HttpResponse.BodyHandlers.discarding()).statusCode();
        } catch (IOException | InterruptedException e) {
            return -1;
        }
    }

    private JsonNode get(int port, String path) throws Exception {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(uri(port, path)).timeout(Duration.ofSeconds(10))
                .build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode(), path + ": " + r.body());
        return JSON.readTree(r.body());
    }

    private static URI uri(int port, String path) {
        return URI.create("http://127.0.0.1:" + port + path);
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    private record Result(int exit, String output) {
    }

    private Result podman(Duration timeout, String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of("/usr/bin/podman"));
        command.addAll(List.of(args));
        return command(timeout, command);
    }

    private Result command(Duration timeout, List<String> command) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
        pb.environment().put("CONTAINERS_CONF", containersConf.toString());
        Path out = Files.createTempFile(tmp, "command", ".log");
        Process p = pb.redirectOutput(out.toFile()).start();
        if (!p.waitFor(timeout.toSeconds(), TimeUnit.SECONDS)) {
            p.destroyForcibly();
            fail(command + " did not finish in " + timeout + ": " + Files.readString(out));
        }
        return new Result(p.exitValue(), Files.readString(out));
    }
}
