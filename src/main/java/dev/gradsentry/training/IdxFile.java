package dev.gradsentry.training;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.zip.GZIPInputStream;

/**
 * An IDX file of unsigned bytes (the MNIST family's format): a magic number {@code 0x00 0x00 0x08 ndim}, ndim
 * big-endian int32 dimension sizes, then the values in row-major order. Files ending in {@code .gz} are gunzipped.
 *
 * @param shape the dimension sizes, e.g. {@code [60000, 28, 28]} for images or {@code [60000]} for labels
 * @param data  the values, unsigned, {@code product(shape)} of them
 */
public record IdxFile(int[] shape, byte[] data) {

    private static final int UNSIGNED_BYTE = 0x08;

    public IdxFile {
        shape = shape.clone();
        long expected = 1;
        for (int d : shape) {
            expected *= d;
        }
        if (expected != data.length) {
            throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " needs " + expected
                    + " values, got " + data.length);
        }
    }

    @Override
    public int[] shape() {
        return shape.clone();
    }

    /** Value {@code i} in row-major order, as 0..255. */
    public int unsigned(int i) {
        return data[i] & 0xFF;
    }

    public int count() {
        return shape[0];
    }

    public static IdxFile read(Path path) throws IOException {
        try (InputStream raw = new BufferedInputStream(Files.newInputStream(path), 1 << 16);
             InputStream in = path.getFileName().toString().endsWith(".gz") ? new GZIPInputStream(raw, 1 << 16) : raw) {
            return read(new DataInputStream(in), path.toString());
        }
    }

    private static IdxFile read(DataInputStream in, String source) throws IOException {
        try {
            int zero1 = in.readUnsignedByte();
            int zero2 = in.readUnsignedByte();
            int type = in.readUnsignedByte();
            int ndim = in.readUnsignedByte();
            if (zero1 != 0 || zero2 != 0) {
                throw new IOException(source + ": not an IDX file (magic number must start with two zero bytes)");
            }
            if (type != UNSIGNED_BYTE) {
                throw new IOException(source + ": IDX element type 0x" + Integer.toHexString(type)
                        + " is not supported, only unsigned byte (0x08)");
            }
            if (ndim < 1 || ndim > 4) {
                throw new IOException(source + ": IDX file has " + ndim + " dimensions, expected 1 to 4");
            }
            int[] shape = new int[ndim];
            long total = 1;
            for (int i = 0; i < ndim; i++) {
                shape[i] = in.readInt();
                if (shape[i] <= 0) {
                    throw new IOException(source + ": dimension " + i + " has size " + shape[i]);
                }
                total *= shape[i];
            }
            if (total > Integer.MAX_VALUE - 8) {
                throw new IOException(source + ": " + total + " values are too many for one array");
            }
            byte[] data = new byte[(int) total];
            in.readFully(data);
            return new IdxFile(shape, data);
        } catch (EOFException e) {
            throw new IOException(source + ": file is truncated (shorter than its header says)", e);
        }
    }
}
