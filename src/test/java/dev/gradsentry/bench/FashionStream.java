package dev.gradsentry.bench;

import dev.gradsentry.training.BatchStream;
import dev.gradsentry.training.FashionMnist;
import dev.gradsentry.training.Workloads;
import org.nd4j.linalg.dataset.DataSet;

import java.util.Random;

/**
 * Fashion-MNIST batches for the benchmark's own networks, in the same layouts as the service's workloads: flat
 * [n, 784] images, or sequences [n, 28 features, 28 steps] where step t is image row t. The order is a function of the
 * seed alone (a Fisher-Yates shuffle per pass).
 */
final class FashionStream implements BatchStream {

    private final FashionMnist.Split train;
    private final int batchSize;
    private final boolean sequence;
    private final Random order;
    private int[] permutation;
    private int position;

    FashionStream(FashionMnist data, int batchSize, boolean sequence, long seed) {
        this.train = data.train();
        this.batchSize = batchSize;
        this.sequence = sequence;
        this.order = new Random(seed);
        this.permutation = Workloads.shuffled(train.size(), order);
    }

    @Override
    public DataSet next() {
        if (position + batchSize > permutation.length) {
            permutation = Workloads.shuffled(train.size(), order);
            position = 0;
        }
        DataSet batch = Workloads.fashionBatch(train, permutation, position, batchSize, sequence);
        position += batchSize;
        return batch;
    }

    @Override
    public void skip(long batches) {
        for (long b = 0; b < batches; b++) {
            if (position + batchSize > permutation.length) {
                permutation = Workloads.shuffled(train.size(), order);
                position = 0;
            }
            position += batchSize;
        }
    }

    @Override
    public int batchesPerEpoch() {
        return Math.max(1, train.size() / batchSize);
    }

    /** The first {@code count} test images, for held-out accuracy. */
    static DataSet heldOut(FashionMnist data, int count, boolean sequence) {
        int n = Math.min(count, data.test().size());
        int[] first = new int[n];
        for (int i = 0; i < n; i++) {
            first[i] = i;
        }
        return Workloads.fashionBatch(data.test(), first, 0, n, sequence);
    }
}
