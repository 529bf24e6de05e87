package dev.gradsentry.bench;

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
    void csvHasOneRowPerConfigurationAndPolicyWithFiniteNumbersWhereExpected() throws IOException {
        List<Map<String, String>> rows = csv(out.resolve("stability.csv"), StabilityTable.CSV_HEADER);
        assertEquals(plan.configs().size() * plan.contenders().size(), rows.size());
        for (ExplodingConfig config : plan.configs()) {
            for (Contender contender : plan.contenders()) {
                Map<String, String> row = rows.stream().filter(r -> r.get("workload").equals(config.name())
                        && r.get("policy").equals(contender.label())).findFirst().orElse(null);
                assertNotNull(row, config.name() + " / " + contender.label());
                String where = config.name() + " / " + contender.label() + ": " + row;
                for (String column : List.of("wall_seconds_median", "non_finite_steps_median", "clipped_steps_median",
                        "interventions_median")) {
                    double v = Double.parseDouble(row.get(column));
                    assertTrue(Double.isFinite(v) && v >= 0, column + " in " + where);
                }
                assertEquals("1", row.get("seeds"), where);
                // The guard never lets a run end with NaN weights, so its metric must be a number.
                if (contender.guarded()) {
                    assertTrue(Double.isFinite(Double.parseDouble(row.get("metric_median"))), where);
                    assertEquals("0", row.get("ended_non_finite"), where);
                }
                if (config.higherIsBetter() && !row.get("metric_median").equals("NaN")) {
                    double accuracy = Double.parseDouble(row.get("metric_median"));
                    assertTrue(accuracy >= 0 && accuracy <= 1, where);
                }
            }
        }
    }

    @Test
    void runsCsvHasOneRowPerRun() throws IOException {
        List<Map<String, String>> rows = csv(out.resolve("stability-runs.csv"), StabilityTable.RUNS_CSV_HEADER);
        assertEquals(plan.configs().size() * plan.contenders().size() * plan.seeds().size(), rows.size());
        assertTrue(rows.stream().allMatch(r -> List.of("finite", "non-finite", "paused").contains(r.get("ended"))));
    }

    @Test
    void markdownHasARowPerPolicyAndAVerdictPerConfiguration() throws IOException {
        String md = Files.readString(out.resolve("stability.md"));
        assertTrue(md.contains(StabilityTable.MARKDOWN_HEADER), md);
        for (ExplodingConfig config : plan.configs()) {
            for (Contender contender : plan.contenders()) {
                String row = "| " + config.name() + " | ";
                assertTrue(md.lines().anyMatch(l -> l.startsWith(row) && (l.contains(" " + contender.label() + " ")
                        || l.contains("**" + contender.label() + "**"))), config.name() + " / " + contender.label());
            }
            assertTrue(md.lines().anyMatch(l -> l.startsWith("| " + config.name() + " (" + config.metric() + ") |")),
                    "verdict for " + config.name());
        }
        for (Contender contender : plan.replicationContenders()) {
            assertTrue(md.lines().anyMatch(l -> l.startsWith("| " + plan.replication().name() + " | ")
                    && l.contains(contender.label())), contender.label());
        }
        assertTrue(console.contains(StabilityTable.MARKDOWN_HEADER), "the table is printed too");
    }

    @Test
    void everyPlotIsAPngThatDecodes() throws IOException {
        for (ExplodingConfig config : plan.configs()) {
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
