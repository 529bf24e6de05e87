package dev.gradsentry.training;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonUnwrapped;
import com.fasterxml.jackson.annotation.JsonValue;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.BeanProperty;
import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.JsonDeserializer;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.JsonSerializer;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.SerializerProvider;
import com.fasterxml.jackson.databind.annotation.JsonDeserialize;
import com.fasterxml.jackson.databind.annotation.JsonSerialize;
import com.fasterxml.jackson.databind.deser.ContextualDeserializer;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.ser.ContextualSerializer;
import com.fasterxml.jackson.databind.ser.std.StdSerializer;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import dev.gradsentry.core.ExternalName;
import dev.gradsentry.core.intervene.GuardState;
import dev.gradsentry.core.probe.NetworkState;
import dev.gradsentry.core.state.SavedState;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * The JSON of the files a run keeps, the checkpoint's {@code run.json} and the audit log's lines, and the version of
 * each one's format. One mapper writes them: times as ISO-8601 text, enums as {@link ExternalName} spells them, and
 * the guard's state through mixins, because {@link GuardState} and {@link SavedState} are core records that know
 * nothing of JSON. The guard's two saved networks are too large and too binary for JSON: each goes into an entry of
 * its own beside the JSON, named after its field ({@code guard-last-good.bin}), and the JSON keeps its iteration.
 *
 * <p>Every object written starts with {@code "format": N}. A reader takes its own format and every older one, which
 * it first upgrades, one format at a time, to the current one; a newer format is refused with a message that says
 * so. A change to what a file holds adds an upgrade from the format before it, and a sample of the new format joins
 * the older ones that {@code SavedFormatsTest} reads.
 */
final class SavedJson {

    /**
     * 1: no {@code format} field, enums as Java names ({@code FASHION_MLP}, read as they are), the guard's networks as
     * {@code lastGoodIteration} and {@code candidateIteration} (-1 for none). 2: {@code format}, enums as
     * {@link ExternalName} spells them, {@code lastGood} and {@code candidate} (null for none). 3: see
     * {@link #checkpoint2To3}. 4: {@code deliveries}, the alert deliveries the run applied. 5: the adaptive policy's
     * gradient-ratio cap, see {@link #checkpoint4To5}. 6: the spec's
     * {@code model} and {@code data} (a user's own model), {@code model.zip} may hold the data normalizer, and the
     * network may be a ComputationGraph.
     */
    static final SavedJson CHECKPOINT = new SavedJson("checkpoint",
            List.of(SavedJson::checkpoint1To2, SavedJson::checkpoint2To3, SavedJson::checkpoint3To4,
                    SavedJson::checkpoint4To5, SavedJson::checkpoint5To6));
    /** 1: no {@code format} field. 2: each line starts with {@code "format": 2}. */
    static final SavedJson AUDIT = new SavedJson("audit log", List.of(line -> {
        // the stamp is all that changed
    }));

    private static final String FORMAT = "format";
    /** The writer and reader attribute holding a checkpoint's entries besides {@code run.json}, by name. */
    private static final String ENTRIES = "entries";

    private static final ObjectMapper JSON = new ObjectMapper()
            .registerModule(new JavaTimeModule())
            .registerModule(EnumJson.module())
            .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS)
            .addMixIn(GuardState.class, GuardStateFormat.class)
            .addMixIn(SavedState.class, SavedStateFormat.class);

    private final String what;
    /** The upgrade at index i turns an object of format i + 1 into one of format i + 2. */
    private final List<Consumer<ObjectNode>> upgrades;
    private final int version;

    private SavedJson(String what, List<Consumer<ObjectNode>> upgrades) {
        this.what = what;
        this.upgrades = upgrades;
        this.version = upgrades.size() + 1;
    }

    int version() {
        return version;
    }

    /** {@code value} as one JSON object stamped with this format; its networks go into {@code entries}. */
    byte[] write(Object value, Map<String, byte[]> entries) throws IOException {
        return JSON.writer().withAttribute(ENTRIES, entries).writeValueAsBytes(new Stamped(version, value));
    }

    byte[] write(Object value) throws IOException {
        return write(value, Map.of());
    }

    /** Reads what {@link #write} wrote in this format or an older one; networks come from {@code entries}. */
    <T> T read(byte[] json, Class<T> type, Map<String, byte[]> entries) throws IOException {
        JsonNode node = JSON.readTree(json);
        if (!(node instanceof ObjectNode object)) {
            throw new IOException("not a JSON object");
        }
        JsonNode stamp = object.remove(FORMAT);
        int format = stamp == null ? 1 : stamp.asInt(-1);
        if (format < 1) {
            throw new IOException("\"format\": " + stamp + " is not a " + what + " format");
        }
        if (format > version) {
            throw new IOException("written in " + what + " format " + format + "; this GradSentry reads formats 1 to "
                    + version + ", a newer one wrote it");
        }
        for (int from = format; from < version; from++) {
            upgrades.get(from - 1).accept(object);
        }
        return JSON.readerFor(type).withAttribute(ENTRIES, entries).treeToValue(object, type);
    }

    <T> T read(byte[] json, Class<T> type) throws IOException {
        return read(json, type, Map.of());
    }

    private static void checkpoint1To2(ObjectNode checkpoint) {
        if (checkpoint.get("guard") instanceof ObjectNode guard) {
            for (String network : List.of("lastGood", "candidate")) {
                JsonNode iteration = guard.remove(network + "Iteration");
                guard.set(network, iteration == null || iteration.asInt() < 0 ? NullNode.instance : iteration);
            }
        }
    }

    /**
     * Format 3: the guard holds learning rates as a factor of the user's own, judges loss progress, keeps a ledger of
     * lost steps and a pause reason, and the adaptive policy has an update-ratio cap. A format-2 guard continues with
     * the factor its rates had, fresh progress windows, an empty ledger and the cap's defaults of format 3 (0.02,
     * trigger 0.1), not engaged.
     */
    private static void checkpoint2To3(ObjectNode checkpoint) {
        if (!(checkpoint.get("guard") instanceof ObjectNode guard)) {
            return;
        }
        double base = guard.path("baseLearningRate").asDouble(Double.NaN);
        double rate = guard.path("learningRate").asDouble(Double.NaN);
        double pending = guard.path("pendingLearningRate").asDouble(Double.NaN);
        guard.remove(List.of("baseLearningRate", "learningRate", "pendingLearningRate"));
        guard.put("learningRateFactor", base > 0 && Double.isFinite(rate) ? rate / base : 1.0);
        guard.put("pendingLearningRateFactor", base > 0 && Double.isFinite(pending) ? pending / base : Double.NaN);
        ObjectNode progress = guard.putObject("progress");
        progress.putArray("counters").add(0.0).add(0.0).add(Double.POSITIVE_INFINITY).add(Double.NaN).add(0.0)
                .add(0.0).add(Double.NaN);
        progress.putArray("lastActed").add((double) (Long.MIN_VALUE / 2));
        ObjectNode lost = guard.putObject("lostSteps");
        lost.putArray("lost").add(0.0);
        lost.putArray("recentSkips");
        guard.putNull("pauseReason");
        if ("adaptive".equals(guard.path("policy").asText()) && guard.get("policySettings") instanceof ObjectNode ps
                && guard.get("policyState") instanceof ObjectNode state) {
            ps.put("updateRatioCap", 0.02);
            ps.put("updateRatioTrigger", 0.1);
            if (state.get("counters") instanceof ArrayNode counters) {
                counters.add(0.0).add(0.0); // steps seen, steps the cap has been idle
            }
            state.putArray("cap").add(0.0).add(1.0);
            state.putArray("spikeSteps").add((double) (Long.MIN_VALUE / 2)).add((double) (Long.MIN_VALUE / 2))
                    .add((double) (Long.MIN_VALUE / 2));
        }
    }

    /**
     * Format 4: the run remembers the alert deliveries it applied. A run of format 3 kept them in memory only, so it
     * continues with none remembered (as it would have after a restart).
     */
    private static void checkpoint3To4(ObjectNode checkpoint) {
        checkpoint.putArray("deliveries");
    }

    /**
     * Format 5: the adaptive policy caps layers on optimizers that normalise the gradient (Adam, RMSProp, ...) too. A
     * format-4 run continues with that cap's defaults of format 5 (0.03, trigger 100), so a resumed Adam run is
     * protected like a new one; its other settings and what it learned stay as they were.
     */
    private static void checkpoint4To5(ObjectNode checkpoint) {
        if (checkpoint.get("guard") instanceof ObjectNode guard && "adaptive".equals(guard.path("policy").asText())
                && guard.get("policySettings") instanceof ObjectNode ps) {
            ps.put("gradientRatioCap", 0.03);
            ps.put("gradientRatioTrigger", 100.0);
        }
    }

    /** Format 6: runs of the built-in workloads, all there was before, have no model or data files. */
    private static void checkpoint5To6(ObjectNode checkpoint) {
        if (checkpoint.get("spec") instanceof ObjectNode spec) {
            spec.putNull("model");
            spec.putNull("data");
        }
    }

    /** The format stamp first, then the value's own fields. */
    private record Stamped(int format, @JsonUnwrapped Object value) {
    }

    /** How a {@link GuardState} is written: each network as an entry beside the JSON, which keeps its iteration. */
    private abstract static class GuardStateFormat {
        @JsonSerialize(using = NetworkEntry.Writer.class)
        @JsonDeserialize(using = NetworkEntry.Reader.class)
        abstract NetworkState lastGood();

        @JsonSerialize(using = NetworkEntry.Writer.class)
        @JsonDeserialize(using = NetworkEntry.Reader.class)
        abstract NetworkState candidate();
    }

    /** A {@link SavedState} is its named arrays. */
    private abstract static class SavedStateFormat {
        @JsonCreator
        SavedStateFormat(Map<String, double[]> values) {
        }

        @JsonValue
        abstract Map<String, double[]> values();
    }

    /** A {@link NetworkState} field: its arrays in the entry {@code guard-<field>.bin}, its iteration in the JSON. */
    private static final class NetworkEntry {

        private NetworkEntry() {
        }

        /** {@code lastGood} is {@code guard-last-good.bin}. */
        static String name(String field) {
            return "guard-" + new PropertyNamingStrategies.KebabCaseStrategy().translate(field) + ".bin";
        }

        static final class Writer extends StdSerializer<NetworkState> implements ContextualSerializer {
            private final String entry;

            Writer() {
                this(null);
            }

            private Writer(String entry) {
                super(NetworkState.class);
                this.entry = entry;
            }

            @Override
            public JsonSerializer<?> createContextual(SerializerProvider provider, BeanProperty property) {
                return new Writer(name(property.getName()));
            }

            @Override
            @SuppressWarnings("unchecked")
            public void serialize(NetworkState state, JsonGenerator out, SerializerProvider provider)
                    throws IOException {
                ((Map<String, byte[]>) provider.getAttribute(ENTRIES)).put(entry, arrays(state));
                out.writeNumber(state.nextIteration());
            }
        }

        static final class Reader extends JsonDeserializer<NetworkState> implements ContextualDeserializer {
            private final String entry;

            Reader() {
                this(null);
            }

            private Reader(String entry) {
                this.entry = entry;
            }

            @Override
            public JsonDeserializer<?> createContextual(DeserializationContext context, BeanProperty property) {
                return new Reader(name(property.getName()));
            }

            @Override
            @SuppressWarnings("unchecked")
            public NetworkState deserialize(JsonParser in, DeserializationContext context) throws IOException {
                if (in.currentToken() != JsonToken.VALUE_NUMBER_INT) {
                    return (NetworkState) context.handleUnexpectedToken(NetworkState.class, in);
                }
                int nextIteration = in.getIntValue();
                byte[] bytes = ((Map<String, byte[]>) context.getAttribute(ENTRIES)).get(entry);
                if (bytes == null) {
                    throw JsonMappingException.from(in, "entry " + entry + " is missing");
                }
                return networkState(bytes, nextIteration);
            }
        }

        private static byte[] arrays(NetworkState s) throws IOException {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            try (DataOutputStream out = new DataOutputStream(bytes)) {
                out.writeBoolean(s.updaterState() != null);
                Nd4j.write(s.params(), out);
                if (s.updaterState() != null) {
                    Nd4j.write(s.updaterState(), out);
                }
            }
            return bytes.toByteArray();
        }

        private static NetworkState networkState(byte[] bytes, int nextIteration) throws IOException {
            try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(bytes))) {
                boolean hasUpdater = in.readBoolean();
                INDArray params = Nd4j.read(in);
                INDArray updater = hasUpdater ? Nd4j.read(in) : null;
                return new NetworkState(params, updater, nextIteration);
            }
        }
    }
}
