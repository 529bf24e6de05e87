package dev.gradsentry.core.probe;

import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.layers.wrapper.BaseWrapperLayer;
import org.nd4j.linalg.learning.config.IUpdater;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * One trainable layer as the probe sees it: its display name, the prefix of its keys in DL4J's gradient table and
 * which of its parameters DL4J divides by the minibatch size.
 */
record ProbedLayer(String name, String gradientKeyPrefix, Layer layer, List<String> params,
                   List<Boolean> dividedByBatch) {

    ProbedLayer {
        params = List.copyOf(params);
        dividedByBatch = List.copyOf(dividedByBatch);
    }

    static ProbedLayer of(String name, String gradientKeyPrefix, Layer layer) {
        List<String> params = new ArrayList<>(layer.paramTable(false).keySet());
        List<Boolean> divided = new ArrayList<>(params.size());
        for (String p : params) {
            divided.add(layer.updaterDivideByMinibatch(p));
        }
        return new ProbedLayer(name, gradientKeyPrefix, layer, params, divided);
    }

    /** The optimizer of the layer's first parameter (its weights), which sets the size of its update. */
    IUpdater updater() {
        return params.isEmpty() ? null : layer.getConfig().getUpdaterByParam(params.get(0));
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
