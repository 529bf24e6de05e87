package dev.gradsentry.training;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.gradsentry.core.InvalidSettingException;
import dev.gradsentry.examples.ExampleFiles;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.graph.rnn.LastTimeStepVertex;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.LSTM;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.recurrent.LastTimeStep;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.lossfunctions.LossFunctions;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;

import static dev.gradsentry.training.UserRuns.assertNames;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Many-to-one sequence classifiers on the sequence example's data (one label line per sequence, aligned with the last
 * step by {@code "alignment": "align-end"}): a model whose output is a feed-forward OutputLayer after a LastTimeStep
 * layer (or vertex) trains, as the example's RnnOutputLayer does through the label mask; labels that do not fit the
 * output or the alignment are refused before the first step, naming the field and the fix.
 */
class UserSequencesTest {

    @TempDir
    Path tmp;

    private Path user() {
        return Files.isDirectory(tmp.resolve("user")) ? tmp.resolve("user")
                : UserRuns.copy(ExampleFiles.SEQUENCE, tmp.resolve("user"));
    }

    private void lastStepLayerModel() throws IOException {
        Files.writeString(user().resolve("model.json"), new NeuralNetConfiguration.Builder().seed(3)
                .updater(new Adam(0.01)).list()
                .layer(new LastTimeStep(new LSTM.Builder().nIn(2).nOut(16).activation(Activation.TANH).build()))
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nIn(16).nOut(3)
                        .activation(Activation.SOFTMAX).build())
                .setInputType(InputType.recurrent(2))
                .build().toJson());
    }

    private TrainingSetup prepare(Consumer<ObjectNode> data) {
        ObjectNode run = UserRuns.runFile(ExampleFiles.SEQUENCE);
        data.accept((ObjectNode) run.get("data"));
        return new Workloads(() -> null, user()).prepare(UserRuns.spec(run, 60));
    }

    private InvalidSettingException refused(Consumer<ObjectNode> data) {
        return assertThrows(InvalidSettingException.class, () -> prepare(data));
    }

    /** Trains 60 steps: the loss comes down and the held-out accuracy beats guessing (3 classes). */
    private static void trains(TrainingSetup setup) {
        double accuracy = UserRuns.trained(setup, 60);
        assertTrue(accuracy > 0.5, "held-out accuracy " + accuracy);
    }

    @Test
    void aLastTimeStepLayerBeforeAnOutputLayerTrainsOnOneLabelPerSequence() throws IOException {
        lastStepLayerModel();
        trains(prepare(data -> { }));
    }

    @Test
    void aGraphWithALastTimeStepVertexTrainsOnOneLabelPerSequence() throws IOException {
        Files.writeString(user().resolve("model.json"), new NeuralNetConfiguration.Builder().seed(3)
                .updater(new Adam(0.01)).graphBuilder()
                .addInputs("series")
                .addLayer("lstm", new LSTM.Builder().nIn(2).nOut(16).activation(Activation.TANH).build(), "series")
                .addVertex("last", new LastTimeStepVertex("series"), "lstm")
                .addLayer("class", new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nIn(16).nOut(3)
                        .activation(Activation.SOFTMAX).build(), "last")
                .setOutputs("class")
                .setInputTypes(InputType.recurrent(2))
                .build().toJson());
        trains(prepare(data -> { }));
    }

    @Test
    void anRnnOutputLayerTrainsOnTheLastStepThroughTheLabelMask() {
        trains(prepare(data -> { }));
    }

    @Test
    void oneLabelLinePerSequenceWithEqualLengthIsRefusedNamingAlignEnd() {
        assertNames(refused(data -> data.remove("alignment")), "data.alignment", "000.csv has 1 line",
                "sequence of", "equal-length", "align-end");
    }

    @Test
    void aFeedForwardOutputWithSeveralLabelLinesIsRefusedNamingTheFile() throws IOException {
        lastStepLayerModel();
        Path labels = user().resolve("labels").resolve("007.csv");
        String label = Files.readString(labels).strip();
        Files.writeString(labels, label + "\n" + label + "\n");
        assertNames(refused(data -> { }), "data.trainLabels", "007.csv has 2 lines", "layer 1",
                "one label per sequence", "RnnOutputLayer");
    }

    @Test
    void aFeedForwardOutputWithLabelsInAColumnIsRefusedAskingForLabelFiles() throws IOException {
        lastStepLayerModel();
        assertNames(refused(data -> data.without(java.util.List.of("trainLabels", "alignment"))),
                "data.trainLabels", "is needed", "one label per sequence", "align-end");
    }
}
