package dev.gradsentry.bench;

import dev.gradsentry.training.BatchStream;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;

import java.util.Random;

/**
 * A synthetic sequence classification task for plain RNNs: each sequence is {@code length} steps of one-hot symbols
 * from {@code classes} channels, every step a random symbol, and the label is the symbol of the first step. The
 * network reads the sequence to its end, so it must carry the first symbol across {@code length - 1} distractors;
 * chance is {@code 1 / classes}. Batches are [n, classes, length] (DL4J's NCW layout).
 */
final class RecallTask implements BatchStream {

    /** Sequences per batch stream "epoch"; the data is generated without end. */
    static final int EPOCH = 10_000;

    private final int classes;
    private final int length;
    private final int batchSize;
    private final Random random;

    RecallTask(int classes, int length, int batchSize, long seed) {
        this.classes = classes;
        this.length = length;
        this.batchSize = batchSize;
        this.random = new Random(seed);
    }

    @Override
    public DataSet next() {
        return batch(random, batchSize);
    }

    @Override
    public void skip(long batches) {
        for (long b = 0; b < batches * batchSize * length; b++) {
            random.nextInt(classes);
        }
    }

    @Override
    public int batchesPerEpoch() {
        return Math.max(1, EPOCH / batchSize);
    }

    /** Held-out sequences, drawn from their own generator so that they never appear in training batches. */
    DataSet heldOut(long seed, int n) {
        return batch(new Random(seed ^ 0x5DEECE66DL), n);
    }

    private DataSet batch(Random r, int n) {
        float[] features = new float[n * classes * length];
        float[] labels = new float[n * classes];
        for (int i = 0; i < n; i++) {
            int label = -1;
            for (int t = 0; t < length; t++) {
                int symbol = r.nextInt(classes);
                if (t == 0) {
                    label = symbol;
                }
                features[(i * classes + symbol) * length + t] = 1f;
            }
            labels[i * classes + label] = 1f;
        }
        return new DataSet(Nd4j.create(features, new long[] {n, classes, length}, 'c'),
                Nd4j.create(labels, new long[] {n, classes}, 'c'));
    }
}
