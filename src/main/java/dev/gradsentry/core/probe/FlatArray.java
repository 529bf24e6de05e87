package dev.gradsentry.core.probe;

import org.nd4j.linalg.api.buffer.DataBuffer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import sun.misc.Unsafe;

import java.lang.reflect.Field;

/**
 * A network's flattened parameter or gradient array, read in place in ND4J's native memory, so that the statistics
 * of every parameter come from tight Java loops instead of one ND4J op (and one native round trip) per statistic per
 * parameter. Measured on the small MLP: per-parameter ND4J reductions and per-element reads through ND4J's buffer
 * both cost over 10% of a step; a heap copy of the gradients and the parameters plus these loops cost 3-4% (the
 * copies push DL4J's own data out of the cache), reading in place about 1% (see docs/benchmarks.md, 1 December).
 *
 * <p>The native memory is read through {@link Unsafe} (module {@code jdk.unsupported}, there in every JDK 17
 * runtime): {@code ByteBuffer} reads check bounds and the buffer's liveness on every element and ran about three
 * times slower here. Bounds are checked once per range instead ({@link #covers}), and the array is read only during
 * the listener call that loaded it, while the network holds it. Where {@code Unsafe} is missing {@link #load}
 * returns false and the probe uses ND4J ops.
 *
 * <p>Offsets are element offsets into the flattened array, as DL4J's per-parameter views report them. The sums are
 * the ones the earlier heap copy computed, in the same order, so every statistic is bitwise what it was.
 */
final class FlatArray {

    private static final Unsafe UNSAFE = unsafe();
    /** A float's or double's bits without the sign bit: its absolute value's bits. */
    private static final int FLOAT_MAGNITUDE = 0x7fffffff;
    private static final long DOUBLE_MAGNITUDE = 0x7fffffffffffffffL;

    private long address;
    private boolean isFloat;
    private long length;
    private double lastMaxAbs;

    private static Unsafe unsafe() {
        try {
            Field f = Unsafe.class.getDeclaredField("theUnsafe");
            f.setAccessible(true);
            return (Unsafe) f.get(null);
        } catch (ReflectiveOperationException | RuntimeException e) {
            return null;
        }
    }

    /**
     * Points at {@code flat}'s memory; returns false when it is not a plain float or double buffer starting at its
     * first element, in which case the caller must use ND4J ops instead.
     */
    boolean load(INDArray flat) {
        length = 0;
        if (UNSAFE == null || flat == null || flat.offset() != 0 || flat.data().length() != flat.length()
                || flat.length() > Integer.MAX_VALUE - 8 || flat.isEmpty()) {
            return false;
        }
        DataType type = flat.dataType();
        if (type != DataType.FLOAT && type != DataType.DOUBLE) {
            return false;
        }
        DataBuffer data = flat.data();
        long at = data.address();
        if (at == 0) {
            return false;
        }
        isFloat = type == DataType.FLOAT;
        address = at;
        length = flat.length();
        // The buffer's own reads of its first and last element must see what the address holds: a buffer laid out
        // differently (an offset pointer, another backend) falls back to ND4J ops instead of reading wrong memory.
        if (!sameBits(0, data) || !sameBits(length - 1, data)) {
            length = 0;
            return false;
        }
        return true;
    }

    private boolean sameBits(long i, DataBuffer data) {
        return isFloat ? Float.floatToRawIntBits(floatAt(i)) == Float.floatToRawIntBits(data.getFloat(i))
                : Double.doubleToRawLongBits(doubleAt(i)) == Double.doubleToRawLongBits(data.getDouble(i));
    }

    private float floatAt(long i) {
        return UNSAFE.getFloat(address + 4 * i);
    }

    private double doubleAt(long i) {
        return UNSAFE.getDouble(address + 8 * i);
    }

    /** True when {@code view} is a contiguous slice of the loaded array, so that it can be read by offset. */
    boolean covers(INDArray view) {
        return length > 0 && view.elementWiseStride() == 1 && view.offset() >= 0
                && view.offset() + view.length() <= length;
    }

    /** Sum of squares of {@code count} values from {@code from}; the range must be {@link #covers covered}. */
    double sumOfSquares(long from, long count) {
        int start = (int) from;
        int end = (int) (from + count);
        if (!isFloat) {
            return doubleSquares(start, end);
        }
        long base = address;
        // Eight float accumulators keep the adds independent; each holds about an eighth of the sum.
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
            long p = base + 4L * i;
            float x0 = UNSAFE.getFloat(p);
            float x1 = UNSAFE.getFloat(p + 4);
            float x2 = UNSAFE.getFloat(p + 8);
            float x3 = UNSAFE.getFloat(p + 12);
            float x4 = UNSAFE.getFloat(p + 16);
            float x5 = UNSAFE.getFloat(p + 20);
            float x6 = UNSAFE.getFloat(p + 24);
            float x7 = UNSAFE.getFloat(p + 28);
            a += x0 * x0;
            b += x1 * x1;
            c += x2 * x2;
            d += x3 * x3;
            e += x4 * x4;
            g += x5 * x5;
            h += x6 * x6;
            k += x7 * x7;
        }
        double sum = ((double) a + b) + ((double) c + d) + ((double) e + g) + ((double) h + k);
        for (; i < end; i++) {
            float x = UNSAFE.getFloat(base + 4L * i);
            sum += (double) x * x;
        }
        return sum;
    }

    /**
     * Sum of squares of {@code count} values from {@code from}, and their largest absolute value (read it with
     * {@link #lastMaxAbs()}; NaN if any value is NaN), in one pass: the sum as {@link #sumOfSquares} adds it, the
     * maximum over the values' bits with the sign cleared. For non-negative floats the order of those bits as integers
     * is the order of the values, and every NaN's bits lie above infinity's, so an integer maximum gives exactly the
     * NaN-propagating maximum without {@code Math.max(float)}'s NaN checks: half the time of a sum loop followed by
     * a float max loop on the MLP's gradient (68 against 36 us per step, docs/benchmarks.md, "Overhead").
     */
    double sumOfSquaresAndMax(long from, long count) {
        int start = (int) from;
        int end = (int) (from + count);
        if (!isFloat) {
            return doubleSquaresAndMax(start, end);
        }
        long base = address;
        float a = 0;
        float b = 0;
        float c = 0;
        float d = 0;
        float e = 0;
        float g = 0;
        float h = 0;
        float k = 0;
        int m0 = 0;
        int m1 = 0;
        int m2 = 0;
        int m3 = 0;
        int i = start;
        for (; i + 7 < end; i += 8) {
            long p = base + 4L * i;
            int y0 = UNSAFE.getInt(p);
            int y1 = UNSAFE.getInt(p + 4);
            int y2 = UNSAFE.getInt(p + 8);
            int y3 = UNSAFE.getInt(p + 12);
            int y4 = UNSAFE.getInt(p + 16);
            int y5 = UNSAFE.getInt(p + 20);
            int y6 = UNSAFE.getInt(p + 24);
            int y7 = UNSAFE.getInt(p + 28);
            float x0 = Float.intBitsToFloat(y0);
            float x1 = Float.intBitsToFloat(y1);
            float x2 = Float.intBitsToFloat(y2);
            float x3 = Float.intBitsToFloat(y3);
            float x4 = Float.intBitsToFloat(y4);
            float x5 = Float.intBitsToFloat(y5);
            float x6 = Float.intBitsToFloat(y6);
            float x7 = Float.intBitsToFloat(y7);
            a += x0 * x0;
            b += x1 * x1;
            c += x2 * x2;
            d += x3 * x3;
            e += x4 * x4;
            g += x5 * x5;
            h += x6 * x6;
            k += x7 * x7;
            m0 = Math.max(m0, Math.max(y0 & FLOAT_MAGNITUDE, y4 & FLOAT_MAGNITUDE));
            m1 = Math.max(m1, Math.max(y1 & FLOAT_MAGNITUDE, y5 & FLOAT_MAGNITUDE));
            m2 = Math.max(m2, Math.max(y2 & FLOAT_MAGNITUDE, y6 & FLOAT_MAGNITUDE));
            m3 = Math.max(m3, Math.max(y3 & FLOAT_MAGNITUDE, y7 & FLOAT_MAGNITUDE));
        }
        double sum = ((double) a + b) + ((double) c + d) + ((double) e + g) + ((double) h + k);
        int max = Math.max(Math.max(m0, m1), Math.max(m2, m3));
        for (; i < end; i++) {
            int y = UNSAFE.getInt(base + 4L * i);
            float x = Float.intBitsToFloat(y);
            sum += (double) x * x;
            max = Math.max(max, y & FLOAT_MAGNITUDE);
        }
        lastMaxAbs = Float.intBitsToFloat(max);
        return sum;
    }

    private double doubleSquares(int from, int end) {
        long base = address;
        double a = 0;
        double b = 0;
        int i = from;
        for (; i + 1 < end; i += 2) {
            double x0 = UNSAFE.getDouble(base + 8L * i);
            double x1 = UNSAFE.getDouble(base + 8L * i + 8);
            a += x0 * x0;
            b += x1 * x1;
        }
        for (; i < end; i++) {
            double x = UNSAFE.getDouble(base + 8L * i);
            a += x * x;
        }
        return a + b;
    }

    /** {@link #doubleSquares} and the largest absolute value, by the same bit order as the float loop. */
    private double doubleSquaresAndMax(int from, int end) {
        long base = address;
        double a = 0;
        double b = 0;
        long m0 = 0;
        long m1 = 0;
        int i = from;
        for (; i + 1 < end; i += 2) {
            long y0 = UNSAFE.getLong(base + 8L * i);
            long y1 = UNSAFE.getLong(base + 8L * i + 8);
            double x0 = Double.longBitsToDouble(y0);
            double x1 = Double.longBitsToDouble(y1);
            a += x0 * x0;
            b += x1 * x1;
            m0 = Math.max(m0, y0 & DOUBLE_MAGNITUDE);
            m1 = Math.max(m1, y1 & DOUBLE_MAGNITUDE);
        }
        long max = Math.max(m0, m1);
        for (; i < end; i++) {
            long y = UNSAFE.getLong(base + 8L * i);
            double x = Double.longBitsToDouble(y);
            a += x * x;
            max = Math.max(max, y & DOUBLE_MAGNITUDE);
        }
        lastMaxAbs = Double.longBitsToDouble(max);
        return a + b;
    }

    /** The largest absolute value seen by the last {@link #sumOfSquaresAndMax} call. */
    double lastMaxAbs() {
        return lastMaxAbs;
    }

    long nonFinite(long from, long count) {
        long end = from + count;
        long bad = 0;
        for (long i = from; i < end; i++) {
            double v = isFloat ? floatAt(i) : doubleAt(i);
            if (!Double.isFinite(v)) {
                bad++;
            }
        }
        return bad;
    }
}
