package dev.gradsentry.training;

import dev.gradsentry.core.intervene.GuardState;
import dev.gradsentry.core.probe.NetworkState;
import dev.gradsentry.core.state.SavedState;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.util.ModelSerializer;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;

/**
 * A run's checkpoint files in its directory: {@code checkpoint-<step>.zip}, each one a zip holding {@code run.json}
 * (a {@link Checkpoint}), {@code model.zip} (the network with its updater state, as DL4J's {@link ModelSerializer}
 * writes it, so DL4J can load it on its own) and the guard's two saved network states.
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
    private static final String LAST_GOOD = "guard-last-good.bin";
    private static final String CANDIDATE = "guard-candidate.bin";

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

    /** Writes a checkpoint of {@code net} and the guard's state (null when there is no guard yet). */
    public Path write(Checkpoint meta, MultiLayerNetwork net, GuardState guard) throws IOException {
        Map<String, byte[]> entries = new HashMap<>();
        ByteArrayOutputStream model = new ByteArrayOutputStream();
        ModelSerializer.writeModel(net, model, true);
        entries.put(MODEL, model.toByteArray());
        if (guard != null) {
            entries.put(LAST_GOOD, arrays(guard.lastGood()));
            if (guard.candidate() != null) {
                entries.put(CANDIDATE, arrays(guard.candidate()));
            }
        }
        entries.put(RUN, AuditLog.JSON.writeValueAsBytes(meta));
        Path target = dir.resolve(String.format("%s%012d%s", PREFIX, meta.step(), SUFFIX));
        ByteArrayOutputStream file = new ByteArrayOutputStream();
        try (ZipOutputStream zip = new ZipOutputStream(file)) {
            for (String name : List.of(RUN, MODEL, LAST_GOOD, CANDIDATE)) {
                byte[] bytes = entries.get(name);
                if (bytes != null) {
                    zip.putNextEntry(stored(name, bytes));
                    zip.write(bytes);
                    zip.closeEntry();
                }
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
        Checkpoint meta = AuditLog.JSON.readValue(entries.get(RUN), Checkpoint.class);
        if (meta.guard() != null && !entries.containsKey(LAST_GOOD)) {
            throw new IOException("entry " + LAST_GOOD + " is missing");
        }
        if (meta.guard() != null && meta.guard().candidateIteration() >= 0 && !entries.containsKey(CANDIDATE)) {
            throw new IOException("entry " + CANDIDATE + " is missing");
        }
        return new Loaded(file, meta, List.copyOf(problems), entries);
    }

    /**
     * Writes the checkpoint's network (parameters, updater state, iteration and epoch counters) into {@code net},
     * which must have the same architecture, and returns the guard's state, or null when none was saved.
     */
    public static GuardState restore(Loaded loaded, MultiLayerNetwork net) throws IOException {
        MultiLayerNetwork saved = ModelSerializer.restoreMultiLayerNetwork(
                new ByteArrayInputStream(loaded.entries.get(MODEL)), true);
        if (saved.numParams() != net.numParams()) {
            throw new IOException("the checkpoint's network has " + saved.numParams() + " parameters, the run's has "
                    + net.numParams());
        }
        net.params().assign(saved.params());
        INDArray state = net.getUpdater(true).getStateViewArray();
        INDArray savedState = saved.getUpdater(true).getStateViewArray();
        if (state != null && savedState != null) {
            state.assign(savedState);
        }
        net.setIterationCount(saved.getIterationCount());
        net.setEpochCount(saved.getEpochCount());
        Checkpoint.SavedGuard g = loaded.checkpoint().guard();
        if (g == null) {
            return null;
        }
        NetworkState lastGood = networkState(loaded.entries.get(LAST_GOOD), g.lastGoodIteration());
        NetworkState candidate = g.candidateIteration() < 0 ? null
                : networkState(loaded.entries.get(CANDIDATE), g.candidateIteration());
        return new GuardState(g.step(), g.healthySinceSnapshot(), g.healthyStreak(), g.learningRateFactor(),
                g.pendingLearningRateFactor(), g.recoveries(), g.thresholdScale(), g.clippingRequested(),
                g.paused(), lastGood, candidate, g.policy(), g.policySettings(), new SavedState(g.policyState()),
                new SavedState(g.spikes()), new SavedState(g.divergence()), new SavedState(g.progress()),
                new SavedState(g.lostSteps()), g.pauseReason());
    }

    /** The guard's state as a checkpoint records it, without its two networks. */
    public static Checkpoint.SavedGuard describe(GuardState g) {
        return new Checkpoint.SavedGuard(g.step(), g.healthySinceSnapshot(), g.healthyStreak(),
                g.learningRateFactor(), g.pendingLearningRateFactor(), g.recoveries(), g.thresholdScale(),
                g.clippingRequested(), g.paused(), g.lastGood().nextIteration(),
                g.candidate() == null ? -1 : g.candidate().nextIteration(), g.policy(), g.policySettings(),
                g.policyState().values(), g.spikes().values(), g.divergence().values(), g.progress().values(),
                g.lostSteps().values(), g.pauseReason());
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
        String m = e.getMessage();
        return m == null || m.isBlank() ? e.getClass().getSimpleName() : m;
    }

    /** A checkpoint read back and checked, with the entries the network is restored from. */
    public static final class Loaded {
        private final Path file;
        private final Checkpoint checkpoint;
        private final List<String> problems;
        private final Map<String, byte[]> entries;

        Loaded(Path file, Checkpoint checkpoint, List<String> problems, Map<String, byte[]> entries) {
            this.file = file;
            this.checkpoint = checkpoint;
            this.problems = problems;
            this.entries = entries;
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
