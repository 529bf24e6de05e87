package dev.gradsentry.api;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The packaged jar as a Kubernetes Job's pod runs it (deploy/k8s/fleet): the run given by configuration trains at
 * boot, and with {@code gradsentry.exit-after-run} the process exits 0 once the run finished, so the Job completes.
 */
class ExitAfterRunIT {

    @Test
    void aProcessOfOneRunExitsZeroOnceTheRunFinished() throws Exception {
        Path data = Files.createTempDirectory("exit-after-run");
        Path log = data.resolve("service.log");
        ProcessBuilder builder = new ProcessBuilder(List.of(Path.of(System.getProperty("java.home"), "bin", "java")
                .toString(), "-Dquarkus.http.port=0", "-Dquarkus.http.host=127.0.0.1", "-Dgradsentry.data-dir=" + data,
                "-Dgradsentry.demo.workload=fashion-mlp", "-Dgradsentry.demo.steps=30",
                "-Dgradsentry.demo.eval-examples=100", "-Dgradsentry.exit-after-run=1s", "-jar",
                Path.of("target", "quarkus-app", "quarkus-run.jar").toString()))
                .redirectErrorStream(true).redirectOutput(log.toFile());
        builder.environment().put("OMP_NUM_THREADS", "1");
        Process process = builder.start();
        if (!process.waitFor(3, TimeUnit.MINUTES)) {
            process.destroyForcibly();
            throw new AssertionError("still running 3 minutes after the start: " + Files.readString(log));
        }
        String output = Files.readString(log, StandardCharsets.UTF_8);
        assertEquals(0, process.exitValue(), output);
        assertTrue(output.contains("ended finished; exiting with code 0 in 1000 ms"), output);
    }
}
