package dev.gradsentry.deploy;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The alert rules, checked and unit-tested by Prometheus' own promtool, and each documented in the runbook. */
class AlertRulesTest {

    private static final Path RULES = Path.of("deploy/prometheus/gradsentry-alerts.yaml");
    private static final Path TESTS = Path.of("deploy/prometheus/tests/gradsentry-alerts-test.yaml");
    private static final Path RUNBOOK = Path.of("deploy/runbooks.md");

    private static List<String> alerts() throws IOException {
        List<String> names = new ArrayList<>();
        Matcher m = Pattern.compile("(?m)^\\s+- alert: (\\S+)$").matcher(Files.readString(RULES));
        while (m.find()) {
            names.add(m.group(1));
        }
        return names;
    }

    private static String promtool(String... args) throws IOException, InterruptedException {
        Path promtool = Path.of("/usr/bin/promtool");
        assertTrue(Files.isExecutable(promtool), "promtool is missing: apt-get install prometheus");
        List<String> command = new ArrayList<>(List.of(promtool.toString()));
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "promtool did not finish");
        String out = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.exitValue(), out);
        return out;
    }

    @Test
    void promtoolChecksTheRules() throws Exception {
        assertTrue(promtool("check", "rules", RULES.toString()).contains("SUCCESS"));
    }

    @Test
    void promtoolUnitTestsPass() throws Exception {
        assertTrue(promtool("test", "rules", TESTS.toString()).contains("SUCCESS"));
    }

    @Test
    void everyAlertIsNamedLikeAMixinHasItsLabelsATestAndARunbookSection() throws IOException {
        List<String> names = alerts();
        assertFalse(names.isEmpty());
        String rules = Files.readString(RULES);
        String tests = Files.readString(TESTS);
        String runbook = Files.readString(RUNBOOK);
        for (String name : names) {
            assertTrue(name.matches("GradSentry[A-Z][A-Za-z]+"), name + " is not CamelCase with the prefix");
            assertTrue(tests.contains("alertname: " + name), name + " has no promtool test");
            assertTrue(runbook.contains("\n## " + name + "\n"), name + " has no runbook section");
            assertTrue(rules.contains("runbook_url: deploy/runbooks.md#" + name.toLowerCase(Locale.ROOT)),
                    name + " has no runbook_url to its section");
        }
        int alertCount = names.size();
        for (String key : new String[] {"severity:", "action:", "summary:", "description:", "runbook_url:"}) {
            assertEquals(alertCount, rules.split("\n\\s+" + Pattern.quote(key), -1).length - 1,
                    "every alert needs " + key);
        }
    }
}
