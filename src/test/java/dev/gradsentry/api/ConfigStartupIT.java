package dev.gradsentry.api;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The packaged jar started with one bad setting: it must exit non-zero after printing one line that names the key,
 * without a stack trace or the banner. Values Quarkus cannot convert and values out of range go through different
 * paths; both are here, as system properties and as environment variables.
 */
class ConfigStartupIT {

    private static final Path JAR = Path.of("target", "quarkus-app", "quarkus-run.jar");

    @ParameterizedTest(name = "{0}={1} ({3})")
    @CsvSource(delimiter = '|', value = {
        "gradsentry.threads                      | -1        | between 1 and 256   | property",
        "gradsentry.threads                      | abc       | integer             | property",
        "gradsentry.threads                      | abc       | integer             | environment",
        "gradsentry.guard.mode                   | bogus     | auto, observe, off  | property",
        "gradsentry.guard.policy                 | clip-all  | adaptive            | property",
        "gradsentry.guard.policy-settings.threshold | abc    | double              | property",
        "gradsentry.guard.spike-z                | -1        | > 0                 | property",
        "gradsentry.progress-interval            | abc       | such as 10s         | property",
        "gradsentry.progress-interval            | 0s        | positive duration   | environment",
        "gradsentry.norm-window                  | 500ms     | at least 1s         | property",
        "gradsentry.norm-window                  | 2h        | at most 1h          | environment",
        "gradsentry.alerts.max-body-bytes        | -5        | at least 1024       | property",
        "gradsentry.api-token-file               | /nonexistent/token | cannot read | property",
        "gradsentry.fashion-mnist-path           | /nonexistent/fashion | dataset-fashion-mnist | property",
        "gradsentry.resume-interrupted           | maybe     | true or false       | property",
        "gradsentry.alerts.relax-on-resolve      | yes       | true or false       | environment",
        "gradsentry.http.body-timeout            | 0s        | positive duration   | property",
        "gradsentry.http.max-body-reads          | 0         | between 1 and 10000 | property",
        "gradsentry.run-file                     | /nonexistent/run.json | cannot be read | property",
        "gradsentry.run | {\"model\":\"../m.json\",\"data\":{\"train\":\"t.csv\",\"task\":\"classification\"}} | outside the user directory | property",
        "gradsentry.run | {\"model\":\"m.json\"}   | data is required    | environment",
        "gradsentry.run | {\"model\":\"m.json\",\"data\":{\"train\":\"t.csv\",\"task\":\"sorting\"}} | classification, regression | property",
        "gradsentry.steps.keep-mib               | 0         | between 1 and 1048576 | environment",
        "gradsentry.alerts.pull.url              | ftp://am  | http:// or https:// | property",
        "gradsentry.alerts.pull.interval         | 500ms     | at least 1s         | environment",
        "gradsentry.alerts.instance              | a b       | without spaces      | property",
        "gradsentry.exit-after-run               | -1s       | >= 0                | property",
    })
    void aBadSettingStopsTheJarWithOneLineNamingTheKey(String key, String value, String fix, String source)
            throws Exception {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java")
                .toString(), "-Dquarkus.http.port=0", "-Dgradsentry.data-dir=target/config-startup-it"));
        // The data path only matters when the demo trains at startup.
        command.add("-Dgradsentry.demo.enabled=" + key.equals("gradsentry.fashion-mnist-path"));
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
        if (source.equals("property")) {
            command.add("-D" + key + "=" + value);
        } else {
            builder.environment().put(key.toUpperCase().replaceAll("[^A-Z0-9]", "_"), value);
        }
        command.addAll(List.of("-jar", JAR.toString()));
        builder.environment().put("OMP_NUM_THREADS", "1");
        assertTrue(Files.isRegularFile(JAR), "run after 'mvn package': " + JAR);

        Process process = builder.start();
        if (!process.waitFor(60, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            throw new AssertionError("the jar started with " + key + "=" + value + " and kept running");
        }
        String output = read(process);
        List<String> lines = output.lines().filter(l -> !l.isBlank()).toList();
        assertNotEquals(0, process.exitValue(), output);
        assertEquals(1, lines.size(), "one line: " + output);
        assertTrue(lines.get(0).contains(key), "names the key: " + output);
        assertTrue(lines.get(0).contains(fix), "says what is expected (" + fix + "): " + output);
        assertFalse(output.contains("\tat ") || output.contains("Exception:"), "no stack trace: " + output);
    }

    private static String read(Process process) throws IOException {
        return new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    }
}
