package dev.gradsentry.core.probe;

import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.GradientNormalization;
import org.deeplearning4j.nn.conf.layers.wrapper.BaseWrapperLayer;
import org.nd4j.linalg.learning.config.IUpdater;
import org.nd4j.linalg.learning.config.NoOp;
import org.nd4j.linalg.learning.regularization.Regularization;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * One trainable layer as the probe sees it: its display name, the prefix of its keys in DL4J's gradient table, its
 * parameters trained by their gradient and which of those DL4J divides by the minibatch size, and its running
 * statistics.
 *
 * @param statistics parameters whose entry in DL4J's gradient view is not a gradient but their own update, applied as
 *                   it is (their updater is {@link NoOp}): batch normalisation's running mean and variance (and a
 *                   frozen layer's parameters, whose entry is zero). They are checked for NaN and infinity, and
 *                   neither counted in gradient norms nor clipped: clipping them held a batch-normalised network's
 *                   running statistics near their starting values.
 */
record ProbedLayer(String name, String gradientKeyPrefix, Layer layer, List<String> params,
                   List<Boolean> dividedByBatch, List<String> statistics) {

    ProbedLayer {
        params = List.copyOf(params);
        dividedByBatch = List.copyOf(dividedByBatch);
        statistics = List.copyOf(statistics);
    }

    /**
     * @param miniBatch the network's {@code miniBatch} setting: DL4J's updater divides gradients by the minibatch
     *                  size only when it is on (the default); with {@code miniBatch(false)} it applies their sum
     */
    static ProbedLayer of(String name, String gradientKeyPrefix, Layer layer, boolean miniBatch) {
        List<String> params = new ArrayList<>();
        List<Boolean> divided = new ArrayList<>();
        List<String> statistics = new ArrayList<>();
        for (String p : layer.paramTable(false).keySet()) {
            if (layer.getConfig().getUpdaterByParam(p) instanceof NoOp) {
                statistics.add(p);
            } else {
                params.add(p);
                divided.add(miniBatch && layer.updaterDivideByMinibatch(p));
            }
        }
        return new ProbedLayer(name, gradientKeyPrefix, layer, params, divided, statistics);
    }

    /** The optimizer of the layer's first parameter (its weights), which sets the size of its update. */
    IUpdater updater() {
        return params.isEmpty() ? null : layer.getConfig().getUpdaterByParam(params.get(0));
    }

    /** The regularization of the layer's weights (its first parameter), as DL4J's updater applies it. */
    List<Regularization> regularization() {
        return params.isEmpty() ? List.of() : layer.getConfig().getRegularizationByParam(params.get(0));
    }

    /** The gradient normalization DL4J applies to this layer after the probe (its configuration, wrappers
     * unwrapped by DL4J itself); {@code None} where none is set. */
    GradientNormalization normalization() {
        GradientNormalization n = layer.getConfig().getGradientNormalization();
        return n == null ? GradientNormalization.None : n;
    }

    /** {@code 0_dense}, {@code 1_lstm}: the index in the network and the layer type, unwrapping wrappers. */
    static String multiLayerName(int index, org.deeplearning4j.nn.conf.layers.Layer conf) {
        return index + "_" + typeName(conf);
    }

    static String typeName(org.deeplearning4j.nn.conf.layers.Layer conf) {
        org.deeplearning4j.nn.conf.layers.Layer c = conf;
        while (c instanceof BaseWrapperLayer w) {
            c = w.getUnderlying();
        }
        String simple = c.getClass().getSimpleName();
        return switch (simple) {
            case "DenseLayer" -> "dense";
            case "OutputLayer" -> "output";
            case "RnnOutputLayer" -> "rnnoutput";
            case "SimpleRnn" -> "rnn";
            case "ConvolutionLayer" -> "conv";
            default -> simple.replaceFirst("Layer$", "").toLowerCase(Locale.ROOT);
        };
    }
}
