package dev.gradsentry.core.intervene;

import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.api.layers.IOutputLayer;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.LSTM;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.RnnOutputLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.optimize.api.BaseTrainingListener;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.lossfunctions.LossFunctions;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.nd4j.linalg.indexing.NDArrayIndex.interval;

/** The chance level a classifier's loss is judged against, and the loss per label it is compared with. */
class ChanceLossTest {

    private static MultiLayerNetwork net(Layer hidden, Layer output) {
        MultiLayerNetwork net = new MultiLayerNetwork(new NeuralNetConfiguration.Builder().seed(1)
                .dataType(DataType.FLOAT).list().layer(hidden).layer(output).build());
        net.init();
        return net;
    }

    private static MultiLayerNetwork sequenceLabeller() {
        return net(new LSTM.Builder().nIn(3).nOut(4).build(), new RnnOutputLayer.Builder(
                LossFunctions.LossFunction.MCXENT).nIn(4).nOut(5).activation(Activation.SOFTMAX).build());
    }

    @Test
    void aSoftmaxClassifiersChanceLevelIsLnClassesAndItsLossIsPerLabelAlready() {
        MultiLayerNetwork net = net(new DenseLayer.Builder().nIn(3).nOut(4).build(), new OutputLayer.Builder(
                LossFunctions.LossFunction.MCXENT).nIn(4).nOut(5).activation(Activation.SOFTMAX).build());
        ((IOutputLayer) net.getOutputLayer()).setLabels(Nd4j.zeros(DataType.FLOAT, 8, 5));
        ChanceLoss chance = ChanceLoss.of(net);
        assertEquals(Math.log(5), chance.perLabel(), 1e-12);
        assertEquals(2.5, chance.perLabel(2.5), 0);
        assertFalse(chance.sequence());
    }

    @Test
    void theRegularisationPenaltyIsTakenOffTheLoss() {
        MultiLayerNetwork net = new MultiLayerNetwork(new NeuralNetConfiguration.Builder().seed(1).l2(0.1)
                .dataType(DataType.FLOAT).list().layer(new DenseLayer.Builder().nIn(3).nOut(4).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nIn(4).nOut(5)
                        .activation(Activation.SOFTMAX).build()).build());
        net.init();
        double penalty = net.calcRegularizationScore(true);
        assertTrue(penalty > 0);
        assertEquals(2.5 - penalty, ChanceLoss.of(net).perLabel(2.5), 1e-9);
    }

    @Test
    void aSequenceOutputsLossIsDividedByItsTimeSteps() {
        MultiLayerNetwork net = sequenceLabeller();
        ((IOutputLayer) net.getOutputLayer()).setLabels(Nd4j.zeros(DataType.FLOAT, 8, 5, 30));
        ChanceLoss chance = ChanceLoss.of(net);
        assertEquals(Math.log(5), chance.perLabel(), 1e-12);
        assertEquals(60.0 / 30, chance.perLabel(60), 1e-12);
        assertTrue(chance.sequence());
    }

    @Test
    void aMaskedSequenceOutputsLossIsDividedByItsLabelledTimeStepsPerExample() {
        MultiLayerNetwork net = sequenceLabeller();
        ((IOutputLayer) net.getOutputLayer()).setLabels(Nd4j.zeros(DataType.FLOAT, 2, 5, 30));
        INDArray mask = Nd4j.zeros(DataType.FLOAT, 2, 30);
        mask.getRow(0).get(interval(0, 10)).assign(1);
        mask.getRow(1).get(interval(0, 20)).assign(1);
        net.setLayerMaskArrays(null, mask);
        assertEquals(60.0 / 15, ChanceLoss.of(net).perLabel(60), 1e-12, "(10 + 20) / 2 labelled steps per example");
    }

    /**
     * {@code perLabel(60)} as the guard reads it, from the probe's callback during one step on two sequences of 30
     * steps whose first {@code labelled[i]} steps carry labels.
     */
    private static double perLabelDuringAStep(Model model, int... labelled) {
        double[] seen = {Double.NaN};
        BaseTrainingListener probe = new BaseTrainingListener() {
            @Override
            public void onGradientCalculation(Model m) {
                seen[0] = ChanceLoss.of(m).perLabel(60);
            }
        };
        INDArray mask = Nd4j.zeros(DataType.FLOAT, 2, 30);
        for (int i = 0; i < labelled.length; i++) {
            mask.getRow(i).get(interval(0, labelled[i])).assign(1);
        }
        DataSet batch = new DataSet(Nd4j.rand(DataType.FLOAT, 2, 3, 30), Nd4j.zeros(DataType.FLOAT, 2, 5, 30)
                .assign(0.2), null, mask);
        if (model instanceof MultiLayerNetwork net) {
            net.addListeners(probe);
            net.fit(batch);
        } else {
            ((ComputationGraph) model).addListeners(probe);
            ((ComputationGraph) model).fit(batch);
        }
        return seen[0];
    }

    @Test
    void duringAStepItReadsThatStepsLabelsAndMask() {
        assertEquals(60.0 / 12, perLabelDuringAStep(sequenceLabeller(), 12, 12), 1e-12);
    }

    /** A graph has dropped its output layer's labels by the time the probe runs; the mask and the input remain. */
    @Test
    void aComputationGraphsSequenceOutputIsReadTheSameWay() {
        ComputationGraph graph = new ComputationGraph(new NeuralNetConfiguration.Builder().seed(1)
                .dataType(DataType.FLOAT).graphBuilder().addInputs("in")
                .addLayer("lstm", new LSTM.Builder().nOut(4).build(), "in")
                .addLayer("out", new RnnOutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(5)
                        .activation(Activation.SOFTMAX).build(), "lstm")
                .setOutputs("out").setInputTypes(InputType.recurrent(3, 30)).build());
        graph.init();
        assertEquals(Math.log(5), ChanceLoss.of(graph).perLabel(), 1e-12);
        assertEquals(60.0 / 12, perLabelDuringAStep(graph, 6, 18), 1e-12, "(6 + 18) / 2 labelled steps per example");
    }

    @Test
    void aRegressionOutputHasNoChanceLevelAndItsLossStaysAsItIs() {
        MultiLayerNetwork net = net(new LSTM.Builder().nIn(3).nOut(4).build(), new RnnOutputLayer.Builder(
                LossFunctions.LossFunction.MSE).nIn(4).nOut(1).activation(Activation.IDENTITY).build());
        ((IOutputLayer) net.getOutputLayer()).setLabels(Nd4j.zeros(DataType.FLOAT, 8, 1, 30));
        ChanceLoss chance = ChanceLoss.of(net);
        assertTrue(Double.isNaN(chance.perLabel()));
        assertEquals(60, chance.perLabel(60), 0);
    }
}
