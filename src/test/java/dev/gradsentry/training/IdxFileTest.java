package dev.gradsentry.training;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class IdxFileTest {

    @TempDir
    Path dir;

    @Test
    void readsPlainAndGzippedFilesWithUnsignedValues() throws IOException {
        byte[] data = {0, 1, (byte) 127, (byte) 128, (byte) 200, (byte) 255};
        byte[] encoded = IdxFiles.encode(new int[] {2, 3}, data);
        for (String name : new String[] {"plain-idx2-ubyte", "zipped-idx2-ubyte.gz"}) {
            IdxFile f = IdxFile.read(IdxFiles.write(dir.resolve(name), encoded));
            assertArrayEquals(new int[] {2, 3}, f.shape());
            assertEquals(2, f.count());
            assertEquals(128, f.unsigned(3));
            assertEquals(255, f.unsigned(5));
            assertArrayEquals(data, f.data());
        }
    }

    @Test
    void rejectsABadMagicNumber() throws IOException {
        byte[] encoded = IdxFiles.encode(new int[] {1}, new byte[] {5});
        encoded[0] = 1;
        IOException e = assertThrows(IOException.class, () -> IdxFile.read(IdxFiles.write(dir.resolve("x"), encoded)));
        assertTrue(e.getMessage().contains("not an IDX file"), e.getMessage());
    }

    @Test
    void rejectsAnElementTypeOtherThanUnsignedByte() throws IOException {
        byte[] encoded = IdxFiles.encode(new int[] {1}, new byte[] {5});
        encoded[2] = 0x0D;
        IOException e = assertThrows(IOException.class, () -> IdxFile.read(IdxFiles.write(dir.resolve("x"), encoded)));
        assertTrue(e.getMessage().contains("0xd"), e.getMessage());
    }

    @Test
    void rejectsATruncatedFileNamingIt() throws IOException {
        byte[] encoded = IdxFiles.encode(new int[] {4, 28, 28}, new byte[4 * 784]);
        Path file = IdxFiles.write(dir.resolve("short-idx3-ubyte.gz"), Arrays.copyOf(encoded, encoded.length - 10));
        IOException e = assertThrows(IOException.class, () -> IdxFile.read(file));
        assertTrue(e.getMessage().contains("truncated") && e.getMessage().contains("short-idx3-ubyte.gz"),
                e.getMessage());
    }

    @Test
    void fashionMnistLoadsScaledPixelsAndLabels() throws IOException {
        FashionMnist data = FashionMnist.load(IdxFiles.fashionDirectory(dir, 12));
        assertEquals(12, data.train().size());
        assertEquals(12, data.test().size());
        assertEquals(3, data.train().labels()[3]);
        assertEquals(((5 * 7 + 10) % 256) / 255f, data.train().pixels()[5 * 784 + 10], 0f);
    }

    @Test
    void missingFashionMnistNamesTheDebianPackage() {
        DataUnavailableException e = assertThrows(DataUnavailableException.class,
                () -> FashionMnist.load(dir.resolve("nowhere")));
        assertTrue(e.getMessage().contains("apt-get install dataset-fashion-mnist"), e.getMessage());
        assertTrue(e.getMessage().contains("gradsentry.fashion-mnist-path"), e.getMessage());
        assertEquals(1, e.getMessage().lines().count());
    }

    @Test
    void labelsOutOfRangeAreReported() throws IOException {
        IdxFiles.fashionDirectory(dir, 2);
        IdxFiles.write(dir.resolve("train-labels-idx1-ubyte.gz"), IdxFiles.encode(new int[] {2}, new byte[] {1, 42}));
        DataUnavailableException e = assertThrows(DataUnavailableException.class, () -> FashionMnist.load(dir));
        assertTrue(e.getMessage().contains("label 42"), e.getMessage());
        assertTrue(Files.exists(dir.resolve("train-labels-idx1-ubyte.gz")));
    }
}
