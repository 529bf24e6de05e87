package dev.gradsentry.training;

import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;

import java.util.Random;

/**
 * The adding problem (Hochreiter and Schmidhuber 1997, as used by Pascanu et al. 2013): each sequence has T steps of
 * two channels, a value drawn from U(0, 1) and a marker that is 1 at exactly two steps, one in each half; the target
 * is the sum of the two marked values. Always answering 1.0 gives an MSE of about 1/6; below 0.01 counts as solved.
 */
public final class AddingProblem {

    private AddingProblem() {
    }

    /** A batch [n, 2 channels, T steps] with targets [n, 1]. */
    public static DataSet batch(Random random, int n, int length) {
        float[] features = new float[n * 2 * length];
        float[] targets = new float[n];
        int half = length / 2;
        for (int i = 0; i < n; i++) {
            int base = i * 2 * length;
            for (int t = 0; t < length; t++) {
                features[base + t] = random.nextFloat();
            }
            int first = random.nextInt(half);
            int second = half + random.nextInt(length - half);
            features[base + length + first] = 1f;
            features[base + length + second] = 1f;
            targets[i] = features[base + first] + features[base + second];
        }
        return new DataSet(Nd4j.create(features, new long[] {n, 2, length}, 'c'),
                Nd4j.create(targets, new long[] {n, 1}, 'c'));
    }

    /** Draws from {@code random} exactly what {@link #batch} draws, without building the batch. */
    static void skip(Random random, int n, int length) {
        int half = length / 2;
        for (int i = 0; i < n; i++) {
            for (int t = 0; t < length; t++) {
                random.nextFloat();
            }
            random.nextInt(half);
            random.nextInt(length - half);
        }
    }

    /** Mean squared error of the network on a held-out batch; NaN when the output is not finite. */
    public static double mse(MultiLayerNetwork net, DataSet held) {
        INDArray diff = net.output(held.getFeatures(), false).sub(held.getLabels());
        return diff.muli(diff).meanNumber().doubleValue();
    }
}
