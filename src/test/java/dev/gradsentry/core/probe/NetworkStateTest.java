package dev.gradsentry.core.probe;

import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Nesterovs;
import org.nd4j.linalg.lossfunctions.LossFunctions;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

class NetworkStateTest {

    private static DataSet batch() {
        return new DataSet(Nd4j.rand(DataType.DOUBLE, 8, 3), Nd4j.rand(DataType.DOUBLE, 8, 2));
    }

    /**
     * DL4J makes the updater on the first step; a state captured before it must still restore the updater's
     * starting state (momentum zero), and capturing must not make the network's updater early.
     */
    @Test
    void aStateCapturedBeforeTheFirstStepRestoresTheUpdatersStartingState() {
        MultiLayerNetwork net = new MultiLayerNetwork(new NeuralNetConfiguration.Builder().seed(1)
                .dataType(DataType.DOUBLE).updater(new Nesterovs(0.1, 0.9)).list()
                .layer(new DenseLayer.Builder().nIn(3).nOut(4).activation(Activation.TANH).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MSE).nIn(4).nOut(2)
                        .activation(Activation.IDENTITY).build())
                .build());
        net.init();
        NetworkState before = NetworkState.capture(net);
        assertNull(net.getUpdater(false), "capturing does not make the network's updater");
        assertNotNull(before.updaterState());
        net.fit(batch());
        net.fit(batch());
        INDArray momentum = net.getUpdater().getStateViewArray();
        assertNotEquals(momentum.like().assign(0), momentum);
        before.restoreInIterationDone(net);
        assertEquals(momentum.like().assign(0), net.getUpdater().getStateViewArray());
        assertEquals(before.params(), net.params());
    }

    @Test
    void theSameForAComputationGraph() {
        ComputationGraph graph = GradientProbeTest.smallGraph(new Nesterovs(0.1, 0.9));
        NetworkState before = NetworkState.capture(graph);
        assertNull(graph.getUpdater(false), "capturing does not make the graph's updater");
        graph.fit(batch());
        graph.fit(batch());
        INDArray momentum = graph.getUpdater().getStateViewArray();
        assertNotEquals(momentum.like().assign(0), momentum);
        before.restoreInIterationDone(graph);
        assertEquals(momentum.like().assign(0), graph.getUpdater().getStateViewArray());
    }
}
