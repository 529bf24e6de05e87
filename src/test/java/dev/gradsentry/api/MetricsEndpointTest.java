package dev.gradsentry.api;

import io.quarkus.test.junit.QuarkusTest;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static dev.gradsentry.api.Api.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Prometheus' own linter on a real scrape: our meters must follow its naming and help-text rules. */
@QuarkusTest
@Tag("quarkus")
class MetricsEndpointTest {

    @Test
    void promtoolFindsNoProblemWithOurMeters() throws Exception {
        Runs.stopActive();
        String id = Runs.start("{\"workload\":\"fashion-rnn\",\"cell\":\"rnn\",\"steps\":3,\"evalExamples\":50}");
        assertEquals("finished", Runs.awaitEnd(id, Duration.ofSeconds(120)).getString("state"));
        String scrape = given().accept("text/plain; version=0.0.4").when().get("/q/metrics").then().statusCode(200)
                .extract().asString();
        assertTrue(scrape.contains("gradsentry_param_gradient_norm{layer=\"0_rnn\",param=\"RW\""), scrape);

        List<String> problems = promtoolCheckMetrics(scrape).stream()
                .filter(line -> line.contains("gradsentry"))
                .toList();
        assertEquals(List.of(), problems);
    }

    static List<String> promtoolCheckMetrics(String scrape) throws IOException, InterruptedException {
        Path promtool = Path.of("/usr/bin/promtool");
        assertTrue(Files.isExecutable(promtool),
                "promtool is missing: apt-get install prometheus (.ci/run installs it)");
        Path out = Files.createTempFile("promtool", ".out");
        Process p = new ProcessBuilder(promtool.toString(), "check", "metrics")
                .redirectErrorStream(true)
                .redirectOutput(out.toFile())
                .start();
        p.getOutputStream().write(scrape.getBytes(StandardCharsets.UTF_8));
        p.getOutputStream().close();
        assertTrue(p.waitFor(30, TimeUnit.SECONDS), "promtool did not finish in 30 s");
        List<String> lines = Files.readAllLines(out);
        Files.delete(out);
        return lines;
    }
}
