package dev.gradsentry.training;

import dev.gradsentry.core.detect.SpikeDetector;
import dev.gradsentry.core.probe.LayerStats;
import dev.gradsentry.core.probe.StepStats;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32;

/**
 * The binary format of one segment of a run's step history, {@code steps/steps-<first step>.bin}.
 *
 * <p>A segment starts with a header: the magic {@code GSST}, a format version byte, the number of layers and their
 * names (varint length, UTF-8), and the CRC-32 of those bytes. Records follow, each {@code kind (1 byte), payload
 * length (varint), payload, CRC-32 of the three}, so a record cut off by a crash, or damaged, is found and the file
 * is cut back to the last whole record.
 *
 * <p>A step record holds the step index (varint), the epoch (varint), a flags byte, the loss (64-bit float), the
 * learning rate, global norm, largest absolute value and global clip threshold (32-bit floats), then for each layer
 * its norm and largest absolute value (32-bit floats). What most steps do not have is written only when a flag says
 * so: non-finite counts (varints, the step's and each layer's), the held-out metric (64-bit float), each layer's
 * update ratio (sampled every few steps) and each layer's own clip threshold (per-layer policies). At 100 layers a
 * step takes 876 bytes (1,276 with per-layer thresholds) (docs/rest-api.md has the measurement). An evaluation record (the run's final evaluation,
 * after its last step record) holds a step index and the metric's value.
 */
final class StepFile {

    static final String PREFIX = "steps-";
    static final String SUFFIX = ".bin";
    static final byte VERSION = 1;
    private static final byte[] MAGIC = "GSST".getBytes(StandardCharsets.US_ASCII);

    static final byte STEP = 1;
    static final byte EVALUATION = 2;

    private static final int CLIPPED = 1;
    private static final int UPDATE_RATIO = 2;
    private static final int LAYER_THRESHOLDS = 4;
    private static final int NON_FINITE = 8;
    private static final int HELD_OUT = 16;

    /** The payload length is a 3-byte varint: at most 2 MiB, about 80,000 layers with every optional field. */
    static final int MAX_PAYLOAD = (1 << 21) - 1;

    private StepFile() {
    }

    static String name(long firstStep) {
        return String.format("%s%012d%s", PREFIX, firstStep, SUFFIX);
    }

    /** The first step of a segment, from its name; -1 when the name is not a segment's. */
    static long firstStep(Path file) {
        String n = file.getFileName().toString();
        if (!n.startsWith(PREFIX) || !n.endsWith(SUFFIX)) {
            return -1;
        }
        try {
            return Long.parseLong(n.substring(PREFIX.length(), n.length() - SUFFIX.length()));
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    static byte[] header(List<String> layers) {
        ByteBuffer b = ByteBuffer.allocate(16 + layers.stream().mapToInt(l -> 5 + 3 * l.length()).sum());
        b.put(MAGIC).put(VERSION);
        putVarLong(b, layers.size());
        for (String layer : layers) {
            byte[] name = layer.getBytes(StandardCharsets.UTF_8);
            putVarLong(b, name.length);
            b.put(name);
        }
        CRC32 crc = new CRC32();
        crc.update(b.array(), 0, b.position());
        b.putInt((int) crc.getValue());
        byte[] out = new byte[b.position()];
        b.flip().get(out);
        return out;
    }

    /** The most a step record of {@code layers} layers can take, for sizing the writer's buffer. */
    static int maxStepBytes(int layers) {
        return 64 + layers * 26;
    }

    /** Appends one step record to {@code out}, which has at least {@link #maxStepBytes} bytes free. */
    static void putStep(ByteBuffer out, long step, StepStats s, Map<String, Double> thresholds, boolean clipped,
                        double heldOut) {
        List<LayerStats> layers = s.layers();
        int flags = clipped ? CLIPPED : 0;
        for (LayerStats l : layers) {
            if (!Double.isNaN(l.updateRatio())) {
                flags |= UPDATE_RATIO;
            }
            if (thresholds.containsKey(l.layer())) {
                flags |= LAYER_THRESHOLDS;
            }
        }
        if (s.nonFinite() > 0) {
            flags |= NON_FINITE;
        }
        if (!Double.isNaN(heldOut)) {
            flags |= HELD_OUT;
        }
        int start = out.position();
        out.put(STEP);
        // The payload length is written as a fixed 3-byte varint, so the payload can be written in place after it.
        int lengthAt = out.position();
        out.position(lengthAt + 3);
        putVarLong(out, step);
        putVarLong(out, s.epoch());
        out.put((byte) flags);
        out.putDouble(s.loss());
        out.putFloat((float) s.learningRate());
        out.putFloat((float) s.globalNorm());
        out.putFloat((float) s.maxAbs());
        Double global = thresholds.get(SpikeDetector.GLOBAL);
        out.putFloat(global == null ? Float.NaN : global.floatValue());
        if ((flags & NON_FINITE) != 0) {
            putVarLong(out, s.nonFinite());
        }
        if ((flags & HELD_OUT) != 0) {
            out.putDouble(heldOut);
        }
        for (LayerStats l : layers) {
            out.putFloat((float) l.norm());
            out.putFloat((float) l.maxAbs());
            if ((flags & NON_FINITE) != 0) {
                putVarLong(out, l.nonFinite());
            }
            if ((flags & UPDATE_RATIO) != 0) {
                out.putFloat((float) l.updateRatio());
            }
            if ((flags & LAYER_THRESHOLDS) != 0) {
                Double t = thresholds.get(l.layer());
                out.putFloat(t == null ? Float.NaN : t.floatValue());
            }
        }
        finish(out, start, lengthAt);
    }

    static void putEvaluation(ByteBuffer out, long step, double value) {
        int start = out.position();
        out.put(EVALUATION);
        int lengthAt = out.position();
        out.position(lengthAt + 3);
        putVarLong(out, step);
        out.putDouble(value);
        finish(out, start, lengthAt);
    }

    private static void finish(ByteBuffer out, int start, int lengthAt) {
        int length = out.position() - lengthAt - 3;
        out.put(lengthAt, (byte) (0x80 | (length & 0x7f)));
        out.put(lengthAt + 1, (byte) (0x80 | ((length >>> 7) & 0x7f)));
        out.put(lengthAt + 2, (byte) ((length >>> 14) & 0x7f));
        CRC32 crc = new CRC32();
        crc.update(out.array(), out.arrayOffset() + start, out.position() - start);
        out.putInt((int) crc.getValue());
    }

    /** Receives a segment's records in file order; each method returns false to stop reading. */
    interface Records {
        /** @param offset where the record starts in the file */
        boolean step(long offset, StepRow row);

        boolean evaluation(long offset, long step, double value);
    }

    /**
     * What reading a segment found.
     *
     * @param layers   the layer names of its header (empty when the header is unreadable)
     * @param validEnd where the last whole, intact record read ends
     * @param problem  why reading stopped before the end of the file (a cut-off or damaged record), or null
     */
    record Scan(List<String> layers, long validEnd, String problem) {
    }

    /** Reads a segment's header and its records up to the end, the first damaged one, or until {@code sink} stops. */
    static Scan read(Path file, Records sink) throws IOException {
        try (InputStream raw = Files.newInputStream(file);
             CountingInput in = new CountingInput(new BufferedInputStream(raw, 1 << 16))) {
            List<String> layers;
            try {
                layers = readHeader(in);
            } catch (EOFException e) {
                return new Scan(List.of(), 0, "the header is cut off");
            } catch (IOException e) {
                return new Scan(List.of(), 0, e.getMessage());
            }
            long validEnd = in.count;
            byte[] payload = new byte[256];
            DataInputStream data = new DataInputStream(in);
            while (true) {
                long offset = in.count;
                int kind = in.read();
                if (kind < 0) {
                    return new Scan(layers, validEnd, null);
                }
                try {
                    CRC32 crc = new CRC32();
                    crc.update(kind);
                    long length = readVarLong(in, crc);
                    if ((kind != STEP && kind != EVALUATION) || length < 0 || length > MAX_PAYLOAD) {
                        return new Scan(layers, validEnd, "a damaged record at byte " + offset);
                    }
                    if (payload.length < length) {
                        payload = new byte[(int) length];
                    }
                    data.readFully(payload, 0, (int) length);
                    crc.update(payload, 0, (int) length);
                    if (data.readInt() != (int) crc.getValue()) {
                        return new Scan(layers, validEnd, "the record at byte " + offset + " fails its CRC-32 check");
                    }
                    ByteBuffer p = ByteBuffer.wrap(payload, 0, (int) length);
                    boolean more = kind == STEP ? sink.step(offset, readStep(p, layers.size()))
                            : sink.evaluation(offset, getVarLong(p), p.getDouble());
                    validEnd = in.count;
                    if (!more) {
                        return new Scan(layers, validEnd, null);
                    }
                } catch (EOFException e) {
                    return new Scan(layers, validEnd, "the record at byte " + offset + " is cut off");
                } catch (RuntimeException e) {
                    // A payload whose CRC matched but that does not decode: written by another format version.
                    return new Scan(layers, validEnd, "the record at byte " + offset + " does not decode");
                }
            }
        }
    }

    /** The layer names of a segment's header. */
    static List<String> layers(Path file) throws IOException {
        try (InputStream in = new BufferedInputStream(Files.newInputStream(file))) {
            return readHeader(in);
        }
    }

    private static List<String> readHeader(InputStream in) throws IOException {
        CRC32 crc = new CRC32();
        byte[] magic = in.readNBytes(MAGIC.length + 1);
        if (magic.length < MAGIC.length + 1) {
            throw new EOFException();
        }
        crc.update(magic);
        for (int i = 0; i < MAGIC.length; i++) {
            if (magic[i] != MAGIC[i]) {
                throw new IOException("not a step history segment (no GSST magic)");
            }
        }
        if (magic[MAGIC.length] != VERSION) {
            throw new IOException("step history format version " + magic[MAGIC.length] + ", this build reads "
                    + VERSION);
        }
        long count = readVarLong(in, crc);
        if (count > 100_000) {
            throw new IOException("the header is damaged");
        }
        List<String> layers = new ArrayList<>((int) count);
        for (int i = 0; i < count; i++) {
            long length = readVarLong(in, crc);
            byte[] name = in.readNBytes((int) Math.min(length, 4096));
            if (name.length != length) {
                throw new EOFException();
            }
            crc.update(name);
            layers.add(new String(name, StandardCharsets.UTF_8));
        }
        if (new DataInputStream(in).readInt() != (int) crc.getValue()) {
            throw new IOException("the header fails its CRC-32 check");
        }
        return List.copyOf(layers);
    }

    private static StepRow readStep(ByteBuffer p, int layerCount) {
        long step = getVarLong(p);
        int epoch = (int) getVarLong(p);
        int flags = p.get();
        double loss = p.getDouble();
        double lr = p.getFloat();
        double globalNorm = p.getFloat();
        double maxAbs = p.getFloat();
        double clip = p.getFloat();
        boolean nonFinite = (flags & NON_FINITE) != 0;
        long bad = nonFinite ? getVarLong(p) : 0;
        double heldOut = (flags & HELD_OUT) != 0 ? p.getDouble() : Double.NaN;
        List<StepRow.Layer> layers = new ArrayList<>(layerCount);
        for (int i = 0; i < layerCount; i++) {
            double norm = p.getFloat();
            double max = p.getFloat();
            long layerBad = nonFinite ? getVarLong(p) : 0;
            double ratio = (flags & UPDATE_RATIO) != 0 ? p.getFloat() : Double.NaN;
            double threshold = (flags & LAYER_THRESHOLDS) != 0 ? p.getFloat() : Double.NaN;
            layers.add(new StepRow.Layer(norm, max, layerBad, ratio, threshold));
        }
        if (p.hasRemaining()) {
            throw new IllegalStateException("trailing bytes");
        }
        return new StepRow(step, epoch, loss, lr, globalNorm, maxAbs, bad, clip, (flags & CLIPPED) != 0, heldOut,
                layers);
    }

    private static void putVarLong(ByteBuffer b, long v) {
        while ((v & ~0x7fL) != 0) {
            b.put((byte) ((v & 0x7f) | 0x80));
            v >>>= 7;
        }
        b.put((byte) v);
    }

    private static long getVarLong(ByteBuffer b) {
        long v = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            byte x = b.get();
            v |= (long) (x & 0x7f) << shift;
            if ((x & 0x80) == 0) {
                return v;
            }
        }
        throw new IllegalStateException("varint too long");
    }

    private static long readVarLong(InputStream in, CRC32 crc) throws IOException {
        long v = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            int x = in.read();
            if (x < 0) {
                throw new EOFException();
            }
            crc.update(x);
            v |= (long) (x & 0x7f) << shift;
            if ((x & 0x80) == 0) {
                return v;
            }
        }
        return -1;
    }

    /** Counts the bytes read through it, so a record's offset in the file is known. */
    private static final class CountingInput extends InputStream {
        private final InputStream in;
        private long count;

        CountingInput(InputStream in) {
            this.in = in;
        }

        @Override
        public int read() throws IOException {
            int b = in.read();
            if (b >= 0) {
                count++;
            }
            return b;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            int n = in.read(b, off, len);
            if (n > 0) {
                count += n;
            }
            return n;
        }

        @Override
        public void close() throws IOException {
            in.close();
        }
    }
}
