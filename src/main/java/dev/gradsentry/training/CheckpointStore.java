package dev.gradsentry.training;

import com.fasterxml.jackson.core.JsonProcessingException;
import dev.gradsentry.core.intervene.GuardState;
import org.deeplearning4j.util.ModelSerializer;
import org.nd4j.linalg.dataset.api.preprocessor.DataNormalization;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;

/**
 * A run's checkpoint files in its directory: {@code checkpoint-<step>.zip}, each one a zip holding {@code run.json}
 * (a {@link Checkpoint}, format {@link SavedJson#CHECKPOINT}), {@code model.zip} (the network with its updater state
 * and the run's data normalizer, if it has one, as DL4J's {@link ModelSerializer} writes them, so DL4J can load it on
 * its own: a {@code MultiLayerNetwork} or a {@code ComputationGraph}) and the guard's two saved network
 * states, which {@link SavedJson} names.
 *
 * <p>Writes are atomic ({@link AtomicFile}), so a crash leaves either the old set of files or the new one. The newest {@code keep} are kept.
 * Reading checks every entry's CRC-32 and that every entry is there, so a truncated or damaged file is reported and
 * the next older one is used.
 */
public final class CheckpointStore {

    static final String PREFIX = "checkpoint-";
    static final String SUFFIX = ".zip";
    private static final String RUN = "run.json";
    private static final String MODEL = "model.zip";

    private final Path dir;
    private final int keep;

    public CheckpointStore(Path dir, int keep) {
        if (keep < 1) {
            throw new IllegalArgumentException("keep must be >= 1");
        }
        this.dir = dir;
        this.keep = keep;
    }

    public Path dir() {
        return dir;
    }

    /**
     * Writes a checkpoint of {@code net} and its data normalizer (null for none), with the run and guard state
     * {@code meta} describes.
     */
    public Path write(Checkpoint meta, Network net, DataNormalization normalizer) throws IOException {
        Map<String, byte[]> entries = new LinkedHashMap<>();
        entries.put(RUN, null); // first in the file, written below once the guard's networks are in the map
        ByteArrayOutputStream model = new ByteArrayOutputStream();
        net.write(model, normalizer);
        entries.put(MODEL, model.toByteArray());
        entries.put(RUN, SavedJson.CHECKPOINT.write(meta, entries));
        Path target = dir.resolve(String.format("%s%012d%s", PREFIX, meta.step(), SUFFIX));
        ByteArrayOutputStream file = new ByteArrayOutputStream();
        try (ZipOutputStream zip = new ZipOutputStream(file)) {
            for (Map.Entry<String, byte[]> entry : entries.entrySet()) {
                zip.putNextEntry(stored(entry.getKey(), entry.getValue()));
                zip.write(entry.getValue());
                zip.closeEntry();
            }
        }
        AtomicFile.replace(target, file.toByteArray());
        prune();
        return target;
    }

    /** The checkpoint files, newest (highest step) first. */
    public List<Path> files() throws IOException {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> {
                String n = p.getFileName().toString();
                return n.startsWith(PREFIX) && n.endsWith(SUFFIX);
            }).sorted(Comparator.comparing((Path p) -> p.getFileName().toString()).reversed()).toList();
        }
    }

    /** The newest readable checkpoint (null when none) and what was wrong with each newer file. */
    public Result newest() throws IOException {
        List<String> problems = new ArrayList<>();
        for (Path file : files()) {
            try {
                return new Result(read(file, problems), problems);
            } catch (IOException | RuntimeException e) {
                problems.add(file.getFileName() + ": " + describe(e));
            }
        }
        return new Result(null, problems);
    }

    /** Reads and checks one file; {@code problems} are what newer files had (carried along for reporting). */
    Loaded read(Path file, List<String> problems) throws IOException {
        Map<String, byte[]> entries = new HashMap<>();
        try (ZipFile zip = new ZipFile(file.toFile())) {
            var it = zip.entries();
            while (it.hasMoreElements()) {
                ZipEntry e = it.nextElement();
                byte[] bytes;
                try (InputStream in = zip.getInputStream(e)) {
                    bytes = in.readAllBytes();
                }
                CRC32 crc = new CRC32();
                crc.update(bytes);
                if (bytes.length != e.getSize() || crc.getValue() != e.getCrc()) {
                    throw new IOException("entry " + e.getName() + " fails its CRC-32 check");
                }
                entries.put(e.getName(), bytes);
            }
        }
        for (String required : List.of(RUN, MODEL)) {
            if (!entries.containsKey(required)) {
                throw new IOException("entry " + required + " is missing");
            }
        }
        Checkpoint meta = SavedJson.CHECKPOINT.read(entries.get(RUN), Checkpoint.class, entries);
        return new Loaded(file, meta, List.copyOf(problems), entries.get(MODEL));
    }

    /**
     * Writes the checkpoint's network (parameters, updater state, iteration and epoch counters) into {@code net},
     * which must have the same architecture, and returns the guard's state, or null when none was saved.
     */
    public static GuardState restore(Loaded loaded, Network net) throws IOException {
        net.restore(loaded.model);
        return loaded.checkpoint().guard();
    }

    /** The data normalizer saved with the checkpoint's network, or null when the run has none. */
    public static DataNormalization normalizer(Loaded loaded) throws IOException {
        return ModelSerializer.restoreNormalizerFromInputStream(new ByteArrayInputStream(loaded.model));
    }

    private static ZipEntry stored(String name, byte[] bytes) {
        // Stored, not deflated: the model entry is a zip already and float arrays barely compress, so deflating only
        // costs time in the training loop.
        ZipEntry e = new ZipEntry(name);
        e.setMethod(ZipEntry.STORED);
        e.setSize(bytes.length);
        e.setCompressedSize(bytes.length);
        CRC32 crc = new CRC32();
        crc.update(bytes);
        e.setCrc(crc.getValue());
        return e;
    }

    private void prune() throws IOException {
        List<Path> all = files();
        for (int i = keep; i < all.size(); i++) {
            Files.deleteIfExists(all.get(i));
        }
    }

    private static String describe(Exception e) {
        // Jackson's own message adds the position and the chain of fields, which say nothing to the reader of a log.
        String m = e instanceof JsonProcessingException json ? json.getOriginalMessage() : e.getMessage();
        return m == null || m.isBlank() ? e.getClass().getSimpleName() : m;
    }

    /** A checkpoint read back and checked, with the saved model the network is restored from. */
    public static final class Loaded {
        private final Path file;
        private final Checkpoint checkpoint;
        private final List<String> problems;
        private final byte[] model;

        Loaded(Path file, Checkpoint checkpoint, List<String> problems, byte[] model) {
            this.file = file;
            this.checkpoint = checkpoint;
            this.problems = problems;
            this.model = model;
        }

        public Path file() {
            return file;
        }

        public Checkpoint checkpoint() {
            return checkpoint;
        }

        /** Newer checkpoint files that were skipped, each with what is wrong with it. */
        public List<String> problems() {
            return problems;
        }
    }

    /** The newest readable checkpoint, or null, and the problems of the newer files. */
    public record Result(Loaded loaded, List<String> problems) {
    }
}
