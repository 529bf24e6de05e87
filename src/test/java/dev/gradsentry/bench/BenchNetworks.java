package dev.gradsentry.bench;

import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.distribution.NormalDistribution;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.recurrent.LastTimeStep;
import org.deeplearning4j.nn.conf.layers.recurrent.SimpleRnn;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.weights.WeightInit;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.learning.config.IUpdater;
import org.nd4j.linalg.lossfunctions.LossFunctions;

/**
 * The networks of the benchmark's own configurations, which the service's workloads do not offer: a deep MLP and a
 * plain RNN classifier with a chosen activation, recurrent gain and updater. Seeded like the service's workloads.
 */
final class BenchNetworks {

    private BenchNetworks() {
    }

    /** {@code inputs}, then {@code depth} dense layers of {@code width}, then a softmax over {@code classes}. */
    static MultiLayerNetwork mlp(long seed, int inputs, int depth, int width, Activation activation, int classes,
                                 IUpdater updater) {
        WeightInit init = activation == Activation.RELU ? WeightInit.RELU : WeightInit.XAVIER;
        NeuralNetConfiguration.ListBuilder list = base(seed, updater);
        for (int i = 0; i < depth; i++) {
            list.layer(new DenseLayer.Builder().nIn(i == 0 ? inputs : width).nOut(width).activation(activation)
                    .weightInit(init).build());
        }
        list.layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nIn(width).nOut(classes)
                .activation(Activation.SOFTMAX).weightInit(WeightInit.XAVIER).build());
        MultiLayerNetwork net = new MultiLayerNetwork(list.build());
        net.init();
        return net;
    }

    /**
     * {@code inputs}, then {@code depth} blocks of a linear dense layer of {@code width}, batch normalisation and a relu,
     * then a softmax over {@code classes}.
     */
    static MultiLayerNetwork batchNormMlp(long seed, int inputs, int depth, int width, int classes, IUpdater updater) {
        NeuralNetConfiguration.ListBuilder list = base(seed, updater);
        for (int i = 0; i < depth; i++) {
            list.layer(new DenseLayer.Builder().nIn(i == 0 ? inputs : width).nOut(width)
                    .activation(Activation.IDENTITY).weightInit(WeightInit.RELU).build());
            list.layer(new BatchNormalization.Builder().nOut(width).build());
            list.layer(new ActivationLayer.Builder().activation(Activation.RELU).build());
        }
        list.layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nIn(width).nOut(classes)
                .activation(Activation.SOFTMAX).weightInit(WeightInit.XAVIER).build());
        MultiLayerNetwork net = new MultiLayerNetwork(list.build());
        net.init();
        return net;
    }

    /**
     * A plain RNN ({@link SimpleRnn}) read at its last time step, then a softmax over {@code classes}; recurrent
     * weights drawn from N(0, gain^2 / hidden), so a gain above 1 makes gradients through time prone to explode.
     */
    static MultiLayerNetwork rnn(long seed, int inputs, int hidden, Activation activation, double gain, int classes,
                                 IUpdater updater) {
        SimpleRnn cell = new SimpleRnn.Builder().nIn(inputs).nOut(hidden).activation(activation)
                .weightInit(WeightInit.XAVIER).weightInitRecurrent(new NormalDistribution(0, gain / Math.sqrt(hidden)))
                .build();
        MultiLayerNetwork net = new MultiLayerNetwork(base(seed, updater)
                .layer(new LastTimeStep(cell))
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nIn(hidden).nOut(classes)
                        .activation(Activation.SOFTMAX).weightInit(WeightInit.XAVIER).build())
                .build());
        net.init();
        return net;
    }

    private static NeuralNetConfiguration.ListBuilder base(long seed, IUpdater updater) {
        return new NeuralNetConfiguration.Builder().seed(seed).dataType(DataType.FLOAT).updater(updater).list();
    }
}
