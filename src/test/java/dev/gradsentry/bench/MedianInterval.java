package dev.gradsentry.bench;

import java.util.Collection;
import java.util.Locale;

/**
 * The median of a sample with its distribution-free 95% confidence interval from order statistics: with n values
 * sorted, the interval from the j-th to the (n + 1 - j)-th holds the true median with probability
 * {@code P(j <= Bin(n, 1/2) < n + 1 - j)}, and j is the largest rank that keeps this at least 95%. No assumption
 * about the shape of the distribution, which for step-time ratios on a shared machine has long tails.
 *
 * @param median the sample median
 * @param low    lower end of the 95% interval
 * @param high   upper end of the 95% interval
 * @param n      sample size
 */
record MedianInterval(double median, double low, double high, int n) {

    /** Fewer values than this cannot give a 95% interval from order statistics (2 * 0.5^5 = 6.25% > 5%). */
    static final int MIN_SAMPLE = 6;

    static MedianInterval of(Collection<Double> values) {
        double[] v = values.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        int n = v.length;
        if (n < MIN_SAMPLE) {
            throw new IllegalArgumentException("a 95% interval of the median needs at least " + MIN_SAMPLE
                    + " values, got " + n);
        }
        double median = n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
        int j = lowerRank(n);
        return new MedianInterval(median, v[j - 1], v[n - j], n);
    }

    /** The largest 1-based rank j with {@code P(Bin(n, 1/2) <= j - 1) <= 2.5%}. */
    static int lowerRank(int n) {
        double cumulative = 0;
        int j = 0;
        for (int k = 0; k < n; k++) {
            cumulative += Math.exp(logChoose(n, k) - n * Math.log(2));
            if (cumulative > 0.025) {
                break;
            }
            j = k + 1;
        }
        return Math.max(1, j);
    }

    private static double logChoose(int n, int k) {
        double s = 0;
        for (int i = 1; i <= k; i++) {
            s += Math.log(n - k + i) - Math.log(i);
        }
        return s;
    }

    double width() {
        return high - low;
    }

    /** e.g. {@code 1.004x [0.998, 1.010]}. */
    String ratio() {
        return String.format(Locale.ROOT, "%.3fx [%.3f, %.3f]", median, low, high);
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "%s (n=%d)", ratio(), n);
    }
}
