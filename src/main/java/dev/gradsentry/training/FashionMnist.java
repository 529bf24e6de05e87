package dev.gradsentry.training;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * Fashion-MNIST as shipped by the Debian package {@code dataset-fashion-mnist}: 60,000 training and 10,000 test
 * images of 28x28 grey pixels in ten classes, read from the four IDX files with our own reader.
 */
public record FashionMnist(Split train, Split test) {

    public static final int ROWS = 28;
    public static final int COLS = 28;
    public static final int PIXELS = ROWS * COLS;
    public static final int CLASSES = 10;
    public static final int TRAIN_SIZE = 60_000;
    /** Where the Debian package puts the files: the default of {@code gradsentry.fashion-mnist-path}. */
    public static final String DEBIAN_DIR = "/usr/share/datasets/fashion-mnist";
    public static final Path DEBIAN_PATH = Path.of(DEBIAN_DIR);

    /** Images scaled to [0, 1], row-major, {@code PIXELS} floats per example, and labels 0..9. */
    public record Split(float[] pixels, int[] labels) {
        public int size() {
            return labels.length;
        }
    }

    /** The four IDX files, each read from {@code <name>.gz} or, failing that, {@code <name>}. */
    public static final List<String> FILES = List.of("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
            "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte");

    /** The first of the four files that {@code dir} lacks (as {@code <name>.gz}), or empty when all are there. */
    public static Optional<Path> firstMissing(Path dir) {
        return FILES.stream().filter(name -> !Files.isReadable(dir.resolve(name + ".gz"))
                && !Files.isReadable(dir.resolve(name))).map(name -> dir.resolve(name + ".gz")).findFirst();
    }

    public static FashionMnist load(Path dir) {
        return new FashionMnist(split(dir, FILES.get(0), FILES.get(1)), split(dir, FILES.get(2), FILES.get(3)));
    }

    private static Split split(Path dir, String images, String labels) {
        IdxFile img = readIdx(dir, images);
        IdxFile lab = readIdx(dir, labels);
        int[] shape = img.shape();
        if (shape.length != 3 || shape[1] != ROWS || shape[2] != COLS) {
            throw new DataUnavailableException(dir.resolve(images) + ": expected images of shape [n, 28, 28]");
        }
        if (lab.shape().length != 1 || lab.count() != img.count()) {
            throw new DataUnavailableException(dir.resolve(labels) + ": expected " + img.count() + " labels, found "
                    + lab.count());
        }
        float[] pixels = new float[img.count() * PIXELS];
        for (int i = 0; i < pixels.length; i++) {
            pixels[i] = img.unsigned(i) / 255f;
        }
        int[] y = new int[lab.count()];
        for (int i = 0; i < y.length; i++) {
            y[i] = lab.unsigned(i);
            if (y[i] >= CLASSES) {
                throw new DataUnavailableException(dir.resolve(labels) + ": label " + y[i] + " at index " + i
                        + " is outside 0..9");
            }
        }
        return new Split(pixels, y);
    }

    private static IdxFile readIdx(Path dir, String name) {
        Path gz = dir.resolve(name + ".gz");
        Path plain = dir.resolve(name);
        Path file = Files.exists(gz) ? gz : plain;
        if (!Files.isReadable(file)) {
            throw new DataUnavailableException("Fashion-MNIST not found: " + gz + " is missing. Install the Debian "
                    + "package (apt-get install dataset-fashion-mnist) or set gradsentry.fashion-mnist-path "
                    + "to a directory holding the four IDX files");
        }
        try {
            return IdxFile.read(file);
        } catch (IOException e) {
            throw new DataUnavailableException("Fashion-MNIST file unreadable: " + e.getMessage());
        } catch (UncheckedIOException e) {
            throw new DataUnavailableException("Fashion-MNIST file unreadable: " + e.getCause().getMessage());
        }
    }
}
