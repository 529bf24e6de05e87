package dev.gradsentry.api;

import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.path.json.JsonPath;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static dev.gradsentry.api.Api.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The run page at {@code /} in a real browser: Debian's Chromium, headless, loads it from the running service while
 * a run the guard intervenes in trains, and the DOM it leaves shows the charts drawn, the interventions marked with
 * their reasons, and no error.
 */
@QuarkusTest
@Tag("quarkus")
class PageTest {

    static final String CHROMIUM = "/usr/bin/chromium";
    /** The exploding adding problem: the guard intervenes within its first steps. */
    private static final String EXPLODING = "{\"workload\":\"adding\",\"cell\":\"rnn\",\"activation\":\"tanh\","
            + "\"recurrentGain\":2,\"hidden\":16,\"optimizer\":\"sgd\",\"learningRate\":0.1,\"batchSize\":32,"
            + "\"sequenceLength\":50,\"steps\":400,\"seed\":7,\"evalInterval\":10,\"evalExamples\":200}";
    private static final Pattern ATTRIBUTE = Pattern.compile("data-([a-z]+)=\"([^\"]*)\"");

    @TestHTTPResource("/")
    URL root;

    @TempDir
    Path tmp;

    @Test
    void theChartsDrawTheRunsStepsAndTheGuardsInterventionsAreMarkedWithTheirReasons() throws Exception {
        assertTrue(Files.isExecutable(Path.of(CHROMIUM)), CHROMIUM + " is missing: apt-get install chromium "
                + "(.ci/test installs it)");
        Runs.stopActive();
        String id = Runs.start(EXPLODING);
        Runs.awaitIntervention(id, "clip-enable", Duration.ofSeconds(120));
        Runs.awaitStep(id, 25, Duration.ofSeconds(180));
        JsonPath run = given().when().delete("/api/runs/" + id).then().statusCode(200).extract().jsonPath();
        long steps = run.getLong("step");
        JsonPath first = given().when().get("/api/runs/" + id + "/interventions?limit=1").then().statusCode(200)
                .extract().jsonPath();

        Browser page = Browser.load(tmp, root + "?run=" + id);

        Map<String, String> html = page.attributes("<html");
        assertEquals("0", html.get("errors"), "errors on the page: " + page.consoleLines());
        assertEquals(List.of(), page.consoleLines(), "console messages");
        assertEquals(id, html.get("run"));
        assertEquals(steps, Long.parseLong(html.get("rows")), "every step of the run is in the charts");
        assertTrue(Integer.parseInt(html.get("markers")) >= 1, "interventions marked: " + html);
        for (String chart : List.of("chart-loss", "chart-norm", "chart-layers", "chart-lr")) {
            int painted = Integer.parseInt(page.attributes("id=\"" + chart + "\"").getOrDefault("painted", "0"));
            assertTrue(painted > 100, chart + ": " + painted + " pixels drawn in the series' colours");
        }
        String kind = first.getString("items[0].kind");
        String reason = first.getString("items[0].reason");
        String title = kind + " at step " + first.getLong("items[0].step") + ": " + reason;
        assertTrue(page.dom().contains("data-kind=\"" + kind + "\"") && page.dom().contains("title=\"" + title),
                "a marker for '" + title + "' with its reason on hover");
    }

    /** What Chromium left after loading a page: the DOM, and its log. */
    record Browser(String dom, String log) {

        /**
         * Loads {@code url} in headless Chromium and dumps the DOM once the page has been idle for its virtual-time
         * budget (network waits do not count), time for several of the page's polls.
         */
        static Browser load(Path tmp, String url) throws IOException, InterruptedException {
            Path out = tmp.resolve("dom.html");
            Path err = tmp.resolve("chromium.log");
            Process p = new ProcessBuilder(CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                    "--user-data-dir=" + tmp.resolve("profile"), "--enable-logging=stderr", "--v=0",
                    "--window-size=1280,1500", "--virtual-time-budget=8000", "--dump-dom", url)
                    .redirectOutput(out.toFile()).redirectError(err.toFile()).start();
            if (!p.waitFor(120, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new AssertionError("Chromium did not finish within 120 s: " + Files.readString(err));
            }
            assertEquals(0, p.exitValue(), Files.readString(err));
            return new Browser(Files.readString(out, StandardCharsets.UTF_8), Files.readString(err));
        }

        /** The data attributes of the first element whose start tag contains {@code marker}. */
        Map<String, String> attributes(String marker) {
            int at = dom.indexOf(marker);
            assertTrue(at >= 0, marker + " not in the page: " + dom.substring(0, Math.min(2000, dom.length())));
            String tag = dom.substring(marker.startsWith("<") ? at : dom.lastIndexOf('<', at), dom.indexOf('>', at));
            Map<String, String> found = new java.util.HashMap<>();
            Matcher m = ATTRIBUTE.matcher(tag);
            while (m.find()) {
                found.put(m.group(1), m.group(2));
            }
            return found;
        }

        /** The page's console messages Chromium logged (errors and warnings alike). */
        List<String> consoleLines() {
            List<String> lines = new ArrayList<>();
            for (String line : log.split("\n")) {
                if (line.contains(":CONSOLE")) {
                    lines.add(line);
                }
            }
            return lines;
        }
    }
}
