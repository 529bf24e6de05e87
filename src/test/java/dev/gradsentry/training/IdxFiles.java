package dev.gradsentry.training;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPOutputStream;

/** Writes small IDX files for tests, in the format of the MNIST family. */
final class IdxFiles {

    private IdxFiles() {
    }

    static byte[] encode(int[] shape, byte[] data) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        DataOutputStream out = new DataOutputStream(bytes);
        out.writeByte(0);
        out.writeByte(0);
        out.writeByte(0x08);
        out.writeByte(shape.length);
        for (int d : shape) {
            out.writeInt(d);
        }
        out.write(data);
        out.flush();
        return bytes.toByteArray();
    }

    static Path write(Path file, byte[] content) throws IOException {
        if (file.getFileName().toString().endsWith(".gz")) {
            try (OutputStream out = new GZIPOutputStream(Files.newOutputStream(file))) {
                out.write(content);
            }
        } else {
            Files.write(file, content);
        }
        return file;
    }

    /** A tiny Fashion-MNIST directory: {@code n} training and {@code n} test images whose pixels encode the index. */
    static Path fashionDirectory(Path dir, int n) throws IOException {
        for (String prefix : new String[] {"train", "t10k"}) {
            byte[] pixels = new byte[n * 28 * 28];
            byte[] labels = new byte[n];
            for (int i = 0; i < n; i++) {
                labels[i] = (byte) (i % 10);
                for (int p = 0; p < 28 * 28; p++) {
                    pixels[i * 784 + p] = (byte) ((i * 7 + p) % 256);
                }
            }
            write(dir.resolve(prefix + "-images-idx3-ubyte.gz"), encode(new int[] {n, 28, 28}, pixels));
            write(dir.resolve(prefix + "-labels-idx1-ubyte.gz"), encode(new int[] {n}, labels));
        }
        return dir;
    }
}
