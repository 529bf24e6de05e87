package dev.gradsentry.dashboards;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.gradsentry.metrics.GradientMeters;
import dev.gradsentry.metrics.GuardMeters;
import dev.gradsentry.metrics.RunMeters;
import org.junit.jupiter.api.Test;

import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What makes a dashboard worth keeping open, checked on every panel: a unit, a description, an instant value where a
 * panel shows one number, each layer's norm drawn against its own threshold, and every meter the binders name on
 * some panel. (That every query returns data from a real Prometheus is {@code AlertDrivenTuningTest}'s part.)
 */
class DashboardPanelsTest {

    /** Panel types that show one value per series (the last), so a range query only costs and misleads. */
    private static final Set<String> ONE_VALUE = Set.of("stat", "gauge", "bargauge");

    /** Meters no panel shows, each with the reason. */
    private static final Map<String, String> NOT_ON_A_DASHBOARD = Map.of(
            GuardMeters.SKIPPED_STEPS, "registered at the first skip only, so an empty panel on a healthy run; "
                    + "skips show in the Interventions panel (kind skip)");

    private static List<JsonNode> panels(JsonNode dashboard) {
        List<JsonNode> out = new ArrayList<>();
        dashboard.path("panels").forEach(p -> {
            out.add(p);
            p.path("panels").forEach(out::add);
        });
        return out;
    }

    private static void forEachPanel(PanelCheck check) {
        Dashboards.all().forEach((file, d) -> panels(d).forEach(p -> {
            if (!p.path("type").asText().equals("row")) {
                check.accept(file.getFileName() + " '" + p.path("title").asText() + "'", p);
            }
        }));
    }

    private interface PanelCheck {
        void accept(String where, JsonNode panel);
    }

    @Test
    void everyPanelStatesAUnitAndWhatItShows() {
        forEachPanel((where, p) -> {
            assertNull(unitProblem(p), where);
            assertFalse(p.path("description").asText().isBlank(), where + " has no description");
        });
    }

    /** Why the panel's unit is wrong, or null: a panel needs one, and {@code none} only when it shows names. */
    private static String unitProblem(JsonNode panel) {
        String unit = panel.path("fieldConfig").path("defaults").path("unit").asText();
        if (unit.isBlank()) {
            return "no unit";
        }
        boolean showsNames = ONE_VALUE.contains(panel.path("type").asText())
                && panel.path("options").path("textMode").asText().equals("name");
        return unit.equals("none") && !showsNames ? "unit none is only for a panel that shows a name, not a number"
                : null;
    }

    @Test
    void aPanelOfSecondsSaysSecondsAndAPanelOfRatiosSaysPercent() {
        forEachPanel((where, p) -> {
            String unit = p.path("fieldConfig").path("defaults").path("unit").asText();
            for (JsonNode t : p.path("targets")) {
                String expr = t.path("expr").asText();
                if (expr.contains("_seconds_bucket")) {
                    assertEquals("s", unit, where);
                }
                if (expr.matches(".*_ratio\\{.*") && !expr.contains("update_ratio")) {
                    assertEquals("percentunit", unit, where + ": a 0..1 ratio");
                }
            }
        });
    }

    @Test
    void panelsThatShowOneValueAskForAnInstantOne() {
        forEachPanel((where, p) -> {
            if (ONE_VALUE.contains(p.path("type").asText())) {
                for (JsonNode t : p.path("targets")) {
                    assertTrue(t.path("instant").asBoolean() && !t.path("range").asBoolean(),
                            where + " " + t.path("refId").asText() + " must be an instant query: a range query shows "
                                    + "every value the time range saw (e.g. three run states at once)");
                }
            }
        });
    }

    @Test
    void theRunsStateIdentityProgressAndEtaAreOnTheOverview() {
        JsonNode overview = Dashboards.all().get(Dashboards.DIR.resolve("gradsentry-overview.json"));
        Map<String, String> exprs = Dashboards.expressions(overview);
        assertTrue(exprs.values().stream().anyMatch(e -> e.startsWith("gradsentry_run_info{")), "run identity");
        assertTrue(exprs.values().stream().anyMatch(e -> e.contains("gradsentry_run_planned_steps")
                && e.contains("rate(gradsentry_steps_total")), "an ETA from the planned steps and the speed");
        assertTrue(exprs.values().stream().anyMatch(e -> e.contains("gradsentry_run_step")
                && e.contains("/ gradsentry_run_planned_steps")), "progress");
    }

    @Test
    void eachLayersNormIsDrawnAgainstItsOwnThreshold() {
        JsonNode layers = Dashboards.all().get(Dashboards.DIR.resolve("gradsentry-layers.json"));
        List<JsonNode> repeated = panels(layers).stream()
                .filter(p -> p.path("repeat").asText().equals("layer")).toList();
        assertEquals(1, repeated.size(), "one panel repeated per layer");
        Set<String> metrics = new HashSet<>();
        for (JsonNode t : repeated.get(0).path("targets")) {
            String expr = t.path("expr").asText();
            assertTrue(expr.contains("layer=~\"$layer\""), "every series of the panel is its layer's: " + expr);
            metrics.add(expr.substring(0, expr.indexOf('{')));
        }
        assertTrue(metrics.containsAll(Set.of("gradsentry_layer_gradient_norm_window_max",
                "gradsentry_clip_threshold")), metrics.toString());
    }

    /** Metric names as PromQL expressions use them: identifiers followed by a selector, a range or the end. */
    private static final Pattern METRIC = Pattern.compile("\\b(gradsentry_[a-z0-9_]+)\\b");

    @Test
    void everyMeterTheBindersNameIsOnADashboard() throws IllegalAccessException {
        Set<String> used = new HashSet<>();
        Dashboards.all().values().forEach(d -> Dashboards.expressions(d).values().forEach(e -> {
            Matcher m = METRIC.matcher(e);
            while (m.find()) {
                used.add(m.group(1));
            }
        }));
        List<String> missing = new ArrayList<>();
        for (Class<?> binder : List.of(GradientMeters.class, RunMeters.class, GuardMeters.class)) {
            for (Field f : binder.getFields()) {
                if (!Modifier.isStatic(f.getModifiers()) || f.getType() != String.class) {
                    continue;
                }
                String meter = (String) f.get(null);
                if (!meter.startsWith("gradsentry.") || NOT_ON_A_DASHBOARD.containsKey(meter)) {
                    continue;
                }
                String name = meter.replace('.', '_');
                // Prometheus' names: counters end in _total, histograms in _bucket, timers in _seconds_bucket.
                boolean shown = used.stream().anyMatch(u -> u.equals(name) || u.equals(name + "_total")
                        || u.equals(name + "_bucket") || u.equals(name + "_seconds_bucket"));
                if (!shown) {
                    missing.add(binder.getSimpleName() + "." + f.getName() + " (" + name + ")");
                }
            }
        }
        assertEquals(List.of(), missing, "meters no dashboard shows; show them or say why not in NOT_ON_A_DASHBOARD");
    }

    @Test
    void theUnitCheckFindsAPanelWithoutOneOrANumberWithoutOne() {
        JsonNode overview = Dashboards.all().get(Dashboards.DIR.resolve("gradsentry-overview.json"));
        ObjectNode loss = (ObjectNode) panels(overview).stream()
                .filter(p -> p.path("title").asText().equals("Loss")).findFirst().orElseThrow().deepCopy();
        assertNull(unitProblem(loss));
        ObjectNode defaults = (ObjectNode) loss.path("fieldConfig").path("defaults");
        defaults.put("unit", "none");
        assertNotNull(unitProblem(loss), "a number without a unit");
        defaults.remove("unit");
        assertNotNull(unitProblem(loss), "no unit at all");
    }
}
