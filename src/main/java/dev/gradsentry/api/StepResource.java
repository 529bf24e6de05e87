package dev.gradsentry.api;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.gradsentry.core.InvalidSettingException;
import dev.gradsentry.training.RunRegistry;
import dev.gradsentry.training.RunStatus;
import dev.gradsentry.training.StepHistory;
import dev.gradsentry.training.StepRow;
import dev.gradsentry.training.TrainingRun;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.HttpHeaders;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.core.StreamingOutput;
import jakarta.ws.rs.core.UriInfo;

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A run's per-step history ({@link StepHistory}): {@code GET /api/runs/{id}/steps?from=&to=&every=&layers=} in
 * columns as JSON (for charts), or in rows as CSV with {@code Accept: text/csv} (for pandas and spreadsheets).
 */
@Path("/api/runs/{id}/steps")
public class StepResource {

    static final String CSV = "text/csv";
    /** A JSON answer is built in memory, so it is bounded; a CSV answer streams and is not. */
    static final int MAX_JSON_ROWS = 10_000;

    private final RunRegistry runs;
    private final ObjectMapper json;

    public StepResource(RunRegistry runs, ObjectMapper json) {
        this.runs = runs;
        this.json = json;
    }

    /** What was asked for, checked. */
    private record Query(long from, long to, long every, List<String> names, int[] layers) {
    }

    @GET
    @Produces({MediaType.APPLICATION_JSON, CSV})
    public Response steps(@PathParam("id") String id, @Context UriInfo uri, @Context HttpHeaders headers) {
        TrainingRun run = runs.run(id).orElseThrow(() -> new ProblemMappers.NotFoundProblem("id", "no run with id '"
                + id + "'; GET /api/runs lists the known runs"));
        StepHistory history = run.history();
        if (history == null) {
            throw new ProblemMappers.NotFoundProblem("id", "the service keeps no files (gradsentry.data-dir), so "
                    + "no run has a step history");
        }
        Query q = query(uri, history.layerNames());
        RunStatus status = run.status();
        if (csv(headers)) {
            return Response.ok((StreamingOutput) out -> writeCsv(history, q, out), CSV + "; charset=utf-8").build();
        }
        long last = Math.min(q.to(), status.step() - 1);
        // One row per bucket of every steps that the range touches.
        long rows = last < q.from() ? 0 : Math.floorDiv(last, q.every()) - Math.floorDiv(q.from(), q.every()) + 1;
        if (rows > MAX_JSON_ROWS) {
            // (last - from) / every + 2 buckets at most, which this every keeps within the bound
            long every = (last - q.from()) / (MAX_JSON_ROWS - 1) + 1;
            throw new InvalidSettingException("every", "the range holds " + rows + " rows; a JSON answer holds at "
                    + "most " + MAX_JSON_ROWS + ": ask for every=" + every + " or more, a narrower from/to, or CSV "
                    + "(Accept: text/csv), which has no limit");
        }
        List<StepRow> selected = new ArrayList<>();
        try {
            // Steps written after the estimate may add a row or two; the bound holds all the same.
            history.read(q.from(), q.to(), q.every(), r -> selected.add(r) && selected.size() < 2 * MAX_JSON_ROWS);
        } catch (IOException e) {
            throw new IllegalStateException("cannot read the step history of run " + id + ": " + e.getMessage(), e);
        }
        String metric = status.evaluation() == null ? null : status.evaluation().metric();
        return Response.ok((StreamingOutput) out -> writeJson(id, q, metric, history.dropped(), selected, out),
                MediaType.APPLICATION_JSON).build();
    }

    /** CSV when the client prefers it to JSON; JSON for anything else, a browser's {@code *}{@code /*} included. */
    private static boolean csv(HttpHeaders headers) {
        for (MediaType t : headers.getAcceptableMediaTypes()) {
            if (t.isCompatible(MediaType.APPLICATION_JSON_TYPE)) {
                return false;
            }
            if (t.isCompatible(MediaType.valueOf(CSV))) {
                return !t.isWildcardType();
            }
        }
        return false;
    }

    private static Query query(UriInfo uri, List<String> names) {
        long from = wholeNumber(uri, "from", 0);
        long to = wholeNumber(uri, "to", Long.MAX_VALUE);
        long every = wholeNumber(uri, "every", 1);
        if (from < 0) {
            throw new InvalidSettingException("from", "from must be a step index >= 0, was " + from);
        }
        if (to < from) {
            throw new InvalidSettingException("to", "to (" + to + ") must be >= from (" + from + ")");
        }
        if (every < 1) {
            throw new InvalidSettingException("every", "every must be >= 1 (1 returns every step), was " + every);
        }
        List<String> values = uri.getQueryParameters().get("layers");
        if (values == null) {
            int[] all = new int[names.size()];
            Arrays.setAll(all, i -> i);
            return new Query(from, to, every, names, all);
        }
        List<String> wanted = new ArrayList<>();
        for (String value : values) {
            for (String name : value.split(",", -1)) {
                if (!name.isBlank()) {
                    wanted.add(name.strip());
                }
            }
        }
        int[] layers = new int[wanted.size()];
        for (int i = 0; i < layers.length; i++) {
            layers[i] = names.indexOf(wanted.get(i));
            if (layers[i] < 0) {
                throw new InvalidSettingException("layers", "the run has no layer '" + wanted.get(i) + "'; its "
                        + "layers: " + String.join(", ", names) + " (comma-separated; layers= for none)");
            }
        }
        return new Query(from, to, every, List.copyOf(wanted), layers);
    }

    /** A query parameter as a whole number; absent gives {@code absent}, anything else but a number is named. */
    private static long wholeNumber(UriInfo uri, String name, long absent) {
        List<String> values = uri.getQueryParameters().get(name);
        if (values == null || values.isEmpty()) {
            return absent;
        }
        if (values.size() > 1) {
            throw new InvalidSettingException(name, name + " is given " + values.size() + " times; give it once");
        }
        try {
            return Long.parseLong(values.get(0).strip());
        } catch (NumberFormatException e) {
            throw new InvalidSettingException(name, name + " must be a whole number, was '" + values.get(0) + "'");
        }
    }

    private void writeJson(String id, Query q, String metric, long dropped, List<StepRow> rows,
                           java.io.OutputStream out) throws IOException {
        try (JsonGenerator g = json.getFactory().createGenerator(out)) {
            g.writeStartObject();
            g.writeStringField("run", id);
            g.writeNumberField("from", q.from());
            if (q.to() != Long.MAX_VALUE) {
                g.writeNumberField("to", q.to());
            }
            g.writeNumberField("every", q.every());
            g.writeNumberField("rows", rows.size());
            g.writeStringField("metric", metric);
            g.writeNumberField("dropped", dropped);
            for (StepColumn c : StepColumn.values()) {
                g.writeArrayFieldStart(c.json);
                for (StepRow r : rows) {
                    writeJsonValue(g, c.kind, c.value.apply(r));
                }
                g.writeEndArray();
            }
            g.writeObjectFieldStart("layers");
            for (int i = 0; i < q.layers().length; i++) {
                int at = q.layers()[i];
                g.writeObjectFieldStart(q.names().get(i));
                for (StepColumn.Layer c : StepColumn.Layer.values()) {
                    g.writeArrayFieldStart(c.json);
                    for (StepRow r : rows) {
                        writeJsonValue(g, c.kind, c.value.apply(r.layers().get(at)));
                    }
                    g.writeEndArray();
                }
                g.writeEndObject();
            }
            g.writeEndObject();
            g.writeEndObject();
        }
    }

    /** NaN and infinities have no JSON number: they are null, which charts draw as a gap. */
    private static void writeJsonValue(JsonGenerator g, StepColumn.Kind kind, Object v) throws IOException {
        switch (kind) {
            case WHOLE -> g.writeNumber(((Number) v).longValue());
            case BOOLEAN -> g.writeBoolean((Boolean) v);
            case FLOAT, DOUBLE -> {
                double d = (Double) v;
                if (!Double.isFinite(d)) {
                    g.writeNull();
                } else if (kind == StepColumn.Kind.FLOAT) {
                    g.writeNumber((float) d);
                } else {
                    g.writeNumber(d);
                }
            }
        }
    }

    private static void writeCsv(StepHistory history, Query q, java.io.OutputStream out) throws IOException {
        Writer w = new BufferedWriter(new OutputStreamWriter(out, StandardCharsets.UTF_8), 1 << 16);
        StringBuilder header = new StringBuilder();
        for (StepColumn c : StepColumn.values()) {
            header.append(header.isEmpty() ? "" : ",").append(c.json);
        }
        for (String layer : q.names()) {
            for (StepColumn.Layer c : StepColumn.Layer.values()) {
                header.append(',').append(layer).append('.').append(c.json);
            }
        }
        w.write(header.append('\n').toString());
        StringBuilder line = new StringBuilder();
        history.read(q.from(), q.to(), q.every(), r -> {
            line.setLength(0);
            for (StepColumn c : StepColumn.values()) {
                appendCsv(line.append(line.isEmpty() ? "" : ","), c.kind, c.value.apply(r));
            }
            for (int at : q.layers()) {
                for (StepColumn.Layer c : StepColumn.Layer.values()) {
                    appendCsv(line.append(','), c.kind, c.value.apply(r.layers().get(at)));
                }
            }
            w.write(line.append('\n').toString());
            return true;
        });
        w.flush();
    }

    /** NaN is an empty cell, infinities are {@code inf} and {@code -inf}: what pandas reads as such. */
    private static void appendCsv(StringBuilder line, StepColumn.Kind kind, Object v) {
        switch (kind) {
            case WHOLE -> line.append(((Number) v).longValue());
            case BOOLEAN -> line.append(v);
            case FLOAT, DOUBLE -> {
                double d = (Double) v;
                if (Double.isNaN(d)) {
                    return;
                }
                if (Double.isInfinite(d)) {
                    line.append(d > 0 ? "inf" : "-inf");
                } else {
                    line.append(kind == StepColumn.Kind.FLOAT ? Float.toString((float) d) : Double.toString(d));
                }
            }
        }
    }
}
