package dev.gradsentry.core.probe;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link FlatArray} reads ND4J's native memory in place; until 1 December it copied the array to the heap first. The
 * guard's decisions depend on these sums, so the in-place reads must give bitwise the values the copy gave: this
 * test keeps the heap-copy loops as the reference and compares every statistic's raw bits over arrays with NaN,
 * infinities, negative zeros, subnormals and huge values, at every alignment of the range.
 */
class FlatArrayTest {

    @Test
    void inPlaceReadsGiveBitwiseTheValuesOfTheHeapCopy() {
        Random random = new Random(14);
        for (DataType type : new DataType[] {DataType.FLOAT, DataType.DOUBLE}) {
            for (int trial = 0; trial < 40; trial++) {
                int n = 1 + random.nextInt(3000);
                double[] values = new double[n];
                for (int i = 0; i < n; i++) {
                    values[i] = awkward(random);
                }
                INDArray flat = Nd4j.create(values, new long[] {1, n}, DataType.DOUBLE).castTo(type);
                FlatArray memory = new FlatArray();
                assertTrue(memory.load(flat), "a plain " + type + " array is read in place");
                HeapCopy reference = new HeapCopy(flat);
                for (int range = 0; range < 20; range++) {
                    int from = random.nextInt(n);
                    int count = 1 + random.nextInt(n - from);
                    String where = type + " n=" + n + " [" + from + ", " + (from + count) + ")";
                    assertBits(reference.sumOfSquares(from, count), memory.sumOfSquares(from, count), where);
                    assertBits(reference.sumOfSquaresAndMax(from, count), memory.sumOfSquaresAndMax(from, count),
                            where);
                    assertBits(reference.maxAbs, memory.lastMaxAbs(), where + " max");
                    assertEquals(reference.nonFinite(from, count), memory.nonFinite(from, count), where);
                }
            }
        }
    }

    @Test
    void aViewThatDoesNotStartTheBufferIsNotReadInPlace() {
        INDArray whole = Nd4j.linspace(1, 20, 20, DataType.FLOAT).reshape(1, 20);
        INDArray tail = whole.get(org.nd4j.linalg.indexing.NDArrayIndex.point(0),
                org.nd4j.linalg.indexing.NDArrayIndex.interval(5, 20));
        assertFalse(new FlatArray().load(tail));
        assertFalse(new FlatArray().load(Nd4j.linspace(1, 8, 8, DataType.INT32)));
    }

    /** Mostly ordinary gradient-sized values, with the special ones the guard must see exactly. */
    private static double awkward(Random random) {
        return switch (random.nextInt(40)) {
            case 0 -> Double.NaN;
            case 1 -> Double.POSITIVE_INFINITY;
            case 2 -> Double.NEGATIVE_INFINITY;
            case 3 -> -0.0;
            case 4 -> Float.MIN_VALUE * (1 + random.nextInt(100));
            case 5 -> (random.nextBoolean() ? -1 : 1) * 1e30 * random.nextDouble();
            case 6, 7, 8 -> 0.0;
            default -> random.nextGaussian() * Math.pow(10, random.nextInt(9) - 6);
        };
    }

    private static void assertBits(double expected, double actual, String where) {
        assertEquals(Double.doubleToRawLongBits(expected), Double.doubleToRawLongBits(actual),
                where + ": expected " + expected + ", got " + actual);
    }

    /** The loops as they were when the array was copied to the heap (FlatArray before 1 December 2026). */
    private static final class HeapCopy {
        private final float[] floats;
        private final double[] doubles;
        double maxAbs;

        HeapCopy(INDArray flat) {
            boolean isFloat = flat.dataType() == DataType.FLOAT;
            floats = isFloat ? flat.data().asFloat() : null;
            doubles = isFloat ? null : flat.data().asDouble();
        }

        double sumOfSquares(int start, int count) {
            int end = start + count;
            if (doubles != null) {
                return doubleSquares(start, end, false);
            }
            float[] f = floats;
            float a = 0;
            float b = 0;
            float c = 0;
            float d = 0;
            float e = 0;
            float g = 0;
            float h = 0;
            float k = 0;
            int i = start;
            for (; i + 7 < end; i += 8) {
                a += f[i] * f[i];
                b += f[i + 1] * f[i + 1];
                c += f[i + 2] * f[i + 2];
                d += f[i + 3] * f[i + 3];
                e += f[i + 4] * f[i + 4];
                g += f[i + 5] * f[i + 5];
                h += f[i + 6] * f[i + 6];
                k += f[i + 7] * f[i + 7];
            }
            double sum = ((double) a + b) + ((double) c + d) + ((double) e + g) + ((double) h + k);
            for (; i < end; i++) {
                sum += (double) f[i] * f[i];
            }
            return sum;
        }

        double sumOfSquaresAndMax(int start, int count) {
            int end = start + count;
            if (doubles != null) {
                return doubleSquares(start, end, true);
            }
            double sum = sumOfSquares(start, count);
            float max = 0;
            for (int i = start; i < end; i++) {
                max = Math.max(max, Math.abs(floats[i]));
            }
            maxAbs = max;
            return sum;
        }

        private double doubleSquares(int from, int end, boolean withMax) {
            double[] f = doubles;
            double a = 0;
            double b = 0;
            int i = from;
            for (; i + 1 < end; i += 2) {
                a += f[i] * f[i];
                b += f[i + 1] * f[i + 1];
            }
            for (; i < end; i++) {
                a += f[i] * f[i];
            }
            if (withMax) {
                double max = 0;
                for (int j = from; j < end; j++) {
                    max = Math.max(max, Math.abs(f[j]));
                }
                maxAbs = max;
            }
            return a + b;
        }

        long nonFinite(int from, int count) {
            long bad = 0;
            for (int i = from; i < from + count; i++) {
                double v = floats != null ? floats[i] : doubles[i];
                if (!Double.isFinite(v)) {
                    bad++;
                }
            }
            return bad;
        }
    }
}
