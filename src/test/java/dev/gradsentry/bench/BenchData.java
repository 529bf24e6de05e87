package dev.gradsentry.bench;

import dev.gradsentry.training.FashionMnist;
import dev.gradsentry.training.Workloads;
import org.nd4j.linalg.dataset.DataSet;

/**
 * The data every run of one benchmark shares, each part loaded on first use: Fashion-MNIST, the service's
 * {@link Workloads} over it, and the whole test set in both layouts for the final evaluations.
 */
final class BenchData {

    /** Images in the Fashion-MNIST test set. */
    static final int FASHION_TEST_SIZE = 10_000;

    private final Workloads workloads = new Workloads(this::fashion);
    private FashionMnist fashion;
    private DataSet flatTest;
    private DataSet sequenceTest;

    FashionMnist fashion() {
        if (fashion == null) {
            fashion = FashionMnist.load(FashionMnist.DEBIAN_PATH);
        }
        return fashion;
    }

    Workloads workloads() {
        return workloads;
    }

    /** All 10,000 test images, flat [n, 784] or as sequences of rows [n, 28, 28]. */
    DataSet fashionTest(boolean sequence) {
        if (sequence) {
            if (sequenceTest == null) {
                sequenceTest = FashionStream.heldOut(fashion(), FASHION_TEST_SIZE, true);
            }
            return sequenceTest;
        }
        if (flatTest == null) {
            flatTest = FashionStream.heldOut(fashion(), FASHION_TEST_SIZE, false);
        }
        return flatTest;
    }
}
