package dev.gradsentry.dashboards;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/** The Grafana dashboards under {@code dashboards/} and every PromQL expression they run. */
public final class Dashboards {

    public static final Path DIR = Path.of("dashboards");
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern LABEL_VALUES = Pattern.compile("^label_values\\((.*),\\s*\\w+\\)$");

    private Dashboards() {
    }

    public static Map<Path, JsonNode> all() {
        try (Stream<Path> files = Files.list(DIR)) {
            Map<Path, JsonNode> out = new LinkedHashMap<>();
            for (Path f : files.filter(p -> p.toString().endsWith(".json")).sorted().toList()) {
                out.put(f, JSON.readTree(f.toFile()));
            }
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Every expression of a dashboard as Prometheus can evaluate it: panel targets, annotation queries, and the
     * selector inside each {@code label_values(...)} variable query; keyed by where it stands.
     */
    public static Map<String, String> expressions(JsonNode dashboard) {
        Map<String, String> out = new LinkedHashMap<>();
        List<JsonNode> panels = new ArrayList<>();
        dashboard.path("panels").forEach(p -> {
            panels.add(p);
            p.path("panels").forEach(panels::add);
        });
        for (JsonNode p : panels) {
            for (JsonNode t : p.path("targets")) {
                out.put("panel '" + p.path("title").asText() + "' " + t.path("refId").asText(), t.path("expr").asText());
            }
        }
        for (JsonNode a : dashboard.path("annotations").path("list")) {
            if (a.has("expr")) {
                out.put("annotation '" + a.path("name").asText() + "'", a.path("expr").asText());
            }
        }
        for (JsonNode v : dashboard.path("templating").path("list")) {
            String query = v.path("query").isObject() ? v.path("query").path("query").asText() : "";
            Matcher m = LABEL_VALUES.matcher(query.strip());
            if (m.matches()) {
                out.put("variable '" + v.path("name").asText() + "'", m.group(1));
            }
        }
        return out;
    }

    /** Grafana's substitution of the dashboard variables, for one target. */
    public static String substitute(String expr, String job, String instance) {
        return expr.replace("$__rate_interval", "1m").replace("$__interval", "15s").replace("$__range", "1h")
                .replace("$job", job).replace("$instance", instance).replace("$layer", ".*");
    }
}
