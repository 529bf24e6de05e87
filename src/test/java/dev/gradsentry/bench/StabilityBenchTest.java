package dev.gradsentry.bench;

import dev.gradsentry.bench.StabilityConfig.Row;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code ./bench stability --quick}: every output is written and well-formed. Who wins is the full run's question,
 * not this test's.
 */
class StabilityBenchTest {

    @TempDir
    static Path out;
    private static StabilityBench.Plan plan;
    private static List<StabilityRun.Outcome> outcomes;
    private static String console;

    @BeforeAll
    static void runQuickMode() throws IOException {
        System.setProperty("java.awt.headless", "true");
        plan = StabilityBench.quickPlan();
        ByteArrayOutputStream printed = new ByteArrayOutputStream();
        outcomes = StabilityBench.run(plan, out, new PrintStream(printed, true, StandardCharsets.UTF_8));
        console = printed.toString(StandardCharsets.UTF_8);
    }

    @Test
    void everyPlannedRunHappenedWithAProgressLine() {
        assertEquals(plan.runs(), outcomes.size());
        assertEquals(plan.runs(), console.lines().filter(l -> l.matches("\\[ *\\d+/\\d+].*ETA.*")).count(), console);
    }

    @Test
    void theQuickPlanCoversEveryKindOfRow() {
        for (Row row : Row.values()) {
            assertTrue(plan.configs().stream().anyMatch(c -> c.row() == row), row.label());
        }
    }

    @Test
    void csvHasOneRowPerConfigurationAndPolicyWithFiniteNumbersWhereExpected() throws IOException {
        List<Map<String, String>> rows = csv(out.resolve("stability.csv"), StabilityTable.CSV_HEADER);
        List<StabilityBench.Entry> entries = plan.entries().stream().filter(e -> e.config().row() != Row.ARTICLE)
                .toList();
        assertEquals(entries.stream().mapToInt(e -> e.contenders().size()).sum(), rows.size());
        for (StabilityBench.Entry entry : entries) {
            StabilityConfig config = entry.config();
            for (Contender contender : entry.contenders()) {
                Map<String, String> row = rows.stream().filter(r -> r.get("workload").equals(config.name())
                        && r.get("policy").equals(contender.label())).findFirst().orElse(null);
                assertNotNull(row, config.name() + " / " + contender.label());
                String where = config.name() + " / " + contender.label() + ": " + row;
                assertEquals(config.half().label(), row.get("half"), where);
                assertEquals(config.row().label(), row.get("row"), where);
                for (String column : List.of("wall_seconds_median", "non_finite_steps_median", "clipped_steps_median",
                        "interventions_median", "skipped_share_median")) {
                    double v = Double.parseDouble(row.get(column));
                    assertTrue(Double.isFinite(v) && v >= 0, column + " in " + where);
                }
                double share = Double.parseDouble(row.get("skipped_share_max"));
                assertTrue(share >= 0 && share <= 1, where);
                assertEquals("1", row.get("seeds"), where);
                // Steps lost are measured on late-trouble rows only, as a whole number of steps within the run.
                if (config.trouble() != null && !row.get("steps_lost_median").equals("NaN")) {
                    double lost = Double.parseDouble(row.get("steps_lost_median"));
                    assertTrue(lost >= 0 && lost <= config.steps() - config.trouble().onset(), where);
                } else if (config.trouble() == null) {
                    assertEquals("NaN", row.get("steps_lost_median"), where);
                }
                for (String column : List.of("metric_median", "best_metric_median")) {
                    if (config.higherIsBetter() && !row.get(column).equals("NaN")) {
                        double accuracy = Double.parseDouble(row.get(column));
                        assertTrue(accuracy >= 0 && accuracy <= 1, column + " in " + where);
                    }
                }
            }
        }
    }

    @Test
    void runsCsvHasOneRowPerRunWithItsInterventions() throws IOException {
        List<Map<String, String>> rows = csv(out.resolve("stability-runs.csv"), StabilityTable.RUNS_CSV_HEADER);
        assertEquals(plan.runs(), rows.size());
        assertTrue(rows.stream().allMatch(r -> List.of("finite", "non-finite", "paused").contains(r.get("ended"))));
        for (StabilityRun.Outcome o : outcomes) {
            Map<String, String> row = rows.stream().filter(r -> r.get("workload").equals(o.config().name())
                    && r.get("policy").equals(o.contender().label())
                    && r.get("seed").equals(String.valueOf(o.seed()))).findFirst().orElseThrow();
            assertEquals(String.valueOf(o.interventions()), row.get("interventions"), row.toString());
            assertEquals(o.interventions() == 0, row.get("intervention_list").isEmpty(), row.toString());
            assertTrue(o.stepsDone() >= 1 && o.stepsDone() <= o.config().steps(), row.toString());
            // Bitwise identity is asked of guarded healthy controls, which have their unguarded twin, and only them.
            boolean asked = o.config().row() == Row.HEALTHY && o.contender().guarded();
            assertEquals(asked, List.of("yes", "no").contains(row.get("params_identical_to_none")), row.toString());
        }
    }

    @Test
    void markdownHasEveryItemTableARowPerPolicyAndAVerdictPerRow() throws IOException {
        String md = Files.readString(out.resolve("stability.md"));
        assertTrue(md.contains(StabilityTable.MARKDOWN_HEADER), md);
        for (String heading : List.of("### Configurations", "### Item 1", "### Item 3", "### Item 4", "### Item 5",
                "### Late trouble", "### Per half", "### Everything", "## Seed article replication")) {
            assertTrue(md.contains(heading), heading);
        }
        for (StabilityBench.Entry entry : plan.entries()) {
            StabilityConfig config = entry.config();
            if (config.row() == Row.ARTICLE) {
                continue;
            }
            for (Contender contender : entry.contenders()) {
                String row = "| " + config.name() + " | " + config.half().label() + " | ";
                assertTrue(md.lines().anyMatch(l -> l.startsWith(row) && (l.contains(" " + contender.label() + " ")
                        || l.contains("**" + contender.label() + "**"))), config.name() + " / " + contender.label());
            }
            String verdict = config.row() == Row.HEALTHY ? "| " + config.name() + " | "
                    : "| " + config.name() + " (" + config.metric() + ") | " + config.half().label() + " |";
            assertTrue(md.lines().filter(l -> l.startsWith(verdict)).count() >= 1, "verdict for " + config.name());
        }
        StabilityBench.Entry article = plan.entries().stream().filter(e -> e.config().row() == Row.ARTICLE)
                .findFirst().orElseThrow();
        for (Contender contender : article.contenders()) {
            assertTrue(md.lines().anyMatch(l -> l.startsWith("| " + article.config().name() + " | ")
                    && l.contains(contender.label())), contender.label());
        }
        assertTrue(console.contains(StabilityTable.MARKDOWN_HEADER), "the table is printed too");
    }

    @Test
    void everyPlotIsAPngThatDecodes() throws IOException {
        for (StabilityConfig config : plan.configs()) {
            if (config.row() == Row.ARTICLE) {
                continue;
            }
            String slug = StabilityBench.slug(config.name());
            decodes(out.resolve("stability-loss-" + slug + ".png"));
            decodes(out.resolve("stability-norm-" + slug + ".png"));
        }
        decodes(out.resolve("replication-loss.png"));
        decodes(out.resolve("replication-accuracy.png"));
    }

    private static void decodes(Path png) throws IOException {
        assertTrue(Files.isRegularFile(png), png + " exists");
        BufferedImage image = ImageIO.read(png.toFile());
        assertNotNull(image, png + " decodes as an image");
        assertTrue(image.getWidth() >= 400 && image.getHeight() >= 200, png + " has a usable size");
    }

    private static List<Map<String, String>> csv(Path file, String header) throws IOException {
        List<String> lines = Files.readAllLines(file);
        assertEquals(header, lines.get(0));
        List<String> columns = Arrays.asList(header.split(","));
        return lines.subList(1, lines.size()).stream().map(line -> {
            List<String> cells = fields(line);
            assertEquals(columns.size(), cells.size(), line);
            return cells;
        }).map(cells -> columns.stream().collect(Collectors.toMap(Function.identity(),
                c -> cells.get(columns.indexOf(c))))).toList();
    }

    /** The fields of one RFC 4180 line: commas separate, double quotes enclose, a doubled quote is a quote. */
    private static List<String> fields(String line) {
        List<String> fields = new ArrayList<>();
        StringBuilder field = new StringBuilder();
        boolean quoted = false;
        for (int i = 0; i < line.length(); i++) {
            char ch = line.charAt(i);
            if (quoted && ch == '"' && i + 1 < line.length() && line.charAt(i + 1) == '"') {
                field.append('"');
                i++;
            } else if (ch == '"') {
                quoted = !quoted;
            } else if (ch == ',' && !quoted) {
                fields.add(field.toString());
                field.setLength(0);
            } else {
                field.append(ch);
            }
        }
        assertFalse(quoted, "unterminated quote in " + line);
        fields.add(field.toString());
        return fields;
    }
}
