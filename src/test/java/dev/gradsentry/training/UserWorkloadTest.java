package dev.gradsentry.training;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.gradsentry.core.InvalidSettingException;
import dev.gradsentry.examples.ExampleFiles;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.util.ModelSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.lossfunctions.LossFunctions;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every check of a user's model and data before the first step: each bad input is refused with the field at fault
 * and a message that says where (file and line) and what to do. The tabular example is the good input each case
 * breaks in one place.
 */
class UserWorkloadTest {

    @TempDir
    Path tmp;

    private Path user() {
        return UserRuns.copy(ExampleFiles.TABULAR, tmp.resolve("user"));
    }

    /** Prepares the tabular example with {@code change} made to its run file; returns what was refused. */
    private InvalidSettingException refused(Consumer<ObjectNode> change) {
        Path user = Files.isDirectory(tmp.resolve("user")) ? tmp.resolve("user") : user();
        ObjectNode run = UserRuns.runFile(ExampleFiles.TABULAR);
        change.accept(run);
        return assertThrows(InvalidSettingException.class,
                () -> new Workloads(() -> null, user).prepare(UserRuns.spec(run, 10)));
    }

    private InvalidSettingException refused() {
        return refused(run -> { });
    }

    private static void assertNames(InvalidSettingException e, String field, String... words) {
        assertEquals(field, e.field(), e.getMessage());
        for (String w : words) {
            assertTrue(e.getMessage().contains(w), "'" + w + "' in: " + e.getMessage());
        }
    }

    private void replaceLine(String file, int line, String text) throws IOException {
        Path p = tmp.resolve("user").resolve(file);
        List<String> lines = new ArrayList<>(Files.readAllLines(p));
        lines.set(line - 1, text);
        Files.write(p, lines);
    }

    @Test
    void theExampleAsItIsPasses() {
        TrainingSetup setup = new Workloads(() -> null, user()).prepare(UserRuns.spec(ExampleFiles.TABULAR, 10));
        assertEquals("accuracy", setup.metric());
        assertNotNull(setup.normalizer(), "standardized by default");
    }

    @Test
    void modelJsonThatDoesNotParseIsRefusedAsNeitherJsonNorZip() throws IOException {
        Files.writeString(user().resolve("model.json"), "{\"confs\": [", StandardCharsets.UTF_8);
        assertNames(refused(), "model", "model.json", "neither JSON nor a zip", "toJson()");
    }

    @Test
    void jsonThatIsNoDl4jConfigurationIsRefusedSayingWhatIsExpected() throws IOException {
        Files.writeString(user().resolve("model.json"), "{\"layers\": []}", StandardCharsets.UTF_8);
        assertNames(refused(), "model", "\"confs\"", "\"vertices\"");
    }

    @Test
    void anInvalidConfigurationIsRefusedWithDl4jsOwnMessage() throws IOException {
        Path model = user().resolve("model.json");
        Files.writeString(model, Files.readString(model).replace("activations.impl.ActivationReLU",
                "activations.impl.NoSuchActivation"));
        assertNames(refused(), "model", "not a valid DL4J configuration", "DL4J says", "NoSuchActivation");
    }

    @Test
    void aModelWhoseInputWidthIsNotTheFeatureColumnsIsRefused() throws IOException {
        Path model = user().resolve("model.json");
        Files.writeString(model, Files.readString(model).replaceFirst("\"nin\" : 4", "\"nin\" : 5"));
        assertNames(refused(), "model", "takes 5 inputs", "4 feature columns", "nIn 4");
    }

    @Test
    void classesThatAreNotTheOutputWidthAreRefused() {
        assertNames(refused(run -> ((ObjectNode) run.get("data")).put("classes", 4)), "data.classes",
                "data.classes is 4", "3 units", "nOut 4");
    }

    @Test
    void aClassificationLossOnARegressionIsRefused() {
        assertNames(refused(run -> ((ObjectNode) run.get("data")).put("task", "regression")), "model",
                "classification loss", "data.task is regression", "MSE");
    }

    @Test
    void aRegressionLossOnAClassificationIsRefused() throws IOException {
        Path model = user().resolve("model.json");
        Files.writeString(model, Files.readString(model).replace("LossMCXENT", "LossMSE"));
        assertNames(refused(), "model", "regression loss", "data.task is classification", "MCXENT");
    }

    @Test
    void aLineThatDoesNotParseIsRefusedWithItsFileAndLine() throws IOException {
        user();
        replaceLine("train.csv", 7, "0.1,0.2,oops,0.4,1");
        assertNames(refused(), "data.train", "train.csv line 7", "column 2", "'oops' is not a number");
    }

    @Test
    void aHeaderLineThatIsNotSkippedIsRefusedNamingSkipLines() {
        user();
        assertNames(refused(run -> ((ObjectNode) run.get("data")).remove("skipLines")), "data.train",
                "train.csv line 1", "'x0' is not a number", "data.skipLines to 1");
    }

    @Test
    void aLineWithOtherColumnsIsRefusedWithItsLine() throws IOException {
        user();
        replaceLine("train.csv", 12, "0.1,0.2,0.4,1");
        assertNames(refused(), "data.train", "train.csv line 12", "has 4 columns", "5");
    }

    @Test
    void nanAndInfiniteValuesAreRefusedWithTheirFileAndLine() throws IOException {
        user();
        replaceLine("test.csv", 3, "0.1,NaN,0.3,0.4,1");
        assertNames(refused(), "data.test", "test.csv line 3", "NaN is not a finite number");
        replaceLine("test.csv", 3, "0.1,0.2,0.3,Infinity,1");
        assertNames(refused(), "data.test", "test.csv line 3", "Infinity is not a finite number");
    }

    @Test
    void aClassLabelOutsideTheClassesIsRefusedWithItsLine() throws IOException {
        user();
        replaceLine("train.csv", 20, "0.1,0.2,0.3,0.4,3");
        assertNames(refused(), "data.train", "train.csv line 20", "'3'", "0 to 2");
    }

    @Test
    void aMissingFileIsRefusedNamingItsField() {
        user();
        assertNames(refused(run -> ((ObjectNode) run.get("data")).put("test", "held-out.csv")), "data.test",
                "'held-out.csv' is missing", "user directory");
        assertNames(refused(run -> run.put("model", "nets/model.json")), "model", "'nets/model.json' is missing");
    }

    @Test
    void pathsOutsideTheUserDirectoryAreRefusedAlsoThroughALink() throws IOException {
        Path user = user();
        Files.writeString(tmp.resolve("secret.csv"), "1,2,3,4,0\n");
        assertNames(refused(run -> ((ObjectNode) run.get("data")).put("train", "../secret.csv")), "data.train",
                "outside the user directory");
        assertNames(refused(run -> ((ObjectNode) run.get("data")).put("train", tmp.resolve("secret.csv")
                .toString())), "data.train", "outside the user directory");
        Files.createSymbolicLink(user.resolve("link.csv"), tmp.resolve("secret.csv"));
        assertNames(refused(run -> ((ObjectNode) run.get("data")).put("train", "link.csv")), "data.train",
                "outside the user directory");
    }

    @Test
    void withoutAUserDirectoryTheModelIsRefusedNamingTheKey() {
        ObjectNode run = UserRuns.runFile(ExampleFiles.TABULAR);
        InvalidSettingException e = assertThrows(InvalidSettingException.class,
                () -> new Workloads(() -> null, null).prepare(UserRuns.spec(run, 10)));
        assertNames(e, "model", "gradsentry.user-dir");
    }

    @Test
    void aModelSerializerZipContinuesWithItsWeightsAndOptimizerState() throws IOException {
        Path user = user();
        MultiLayerConfiguration conf = MultiLayerConfiguration.fromJson(Files.readString(user.resolve("model.json")));
        MultiLayerNetwork trained = new MultiLayerNetwork(conf);
        trained.init();
        TrainingSetup first = new Workloads(() -> null, user).prepare(UserRuns.spec(ExampleFiles.TABULAR, 10));
        for (int i = 0; i < 5; i++) {
            trained.fit(first.train().next());
        }
        ModelSerializer.writeModel(trained, user.resolve("trained.zip").toFile(), true);
        ObjectNode run = UserRuns.runFile(ExampleFiles.TABULAR);
        run.put("model", "trained.zip");
        TrainingSetup setup = new Workloads(() -> null, user).prepare(UserRuns.spec(run, 10));
        assertEquals(trained.params(), setup.network().params(), "the saved weights");
        assertEquals(trained.getUpdater().getStateViewArray(), setup.network().updaterState(), "Adam's moments");
        assertEquals(trained.getIterationCount(), setup.network().iterationCount());
    }

    @Test
    void anOptimizerOverrideReplacesEveryLayersOptimizer() {
        ObjectNode run = UserRuns.runFile(ExampleFiles.TABULAR);
        RunSpec d = UserRuns.spec(run, 10);
        RunSpec sgd = new RunSpec(d.workload(), d.cell(), d.activation(), d.recurrentGain(), d.hidden(),
                RunSpec.Optimizer.SGD, 0.05, d.batchSize(), d.steps(), d.seed(), d.evalInterval(), d.evalExamples(),
                d.sequenceLength(), d.model(), d.data());
        TrainingSetup setup = new Workloads(() -> null, user()).prepare(sgd);
        MultiLayerNetwork net = ((Network.Layers) setup.network()).net();
        for (var layer : net.getLayerWiseConfigurations().getConfs()) {
            var updater = ((org.deeplearning4j.nn.conf.layers.BaseLayer) layer.getLayer()).getIUpdater();
            assertEquals(new org.nd4j.linalg.learning.config.Sgd(0.05), updater);
        }
        assertEquals(null, setup.network().updaterState(), "plain SGD keeps no state");
    }

    @Test
    void aSplitThatHoldsOutNothingIsRefused() throws IOException {
        Path user = user();
        Files.writeString(user.resolve("tiny.csv"), "x0,x1,x2,x3,class\n0,0,0,0,0\n1,1,1,1,1\n");
        assertNames(refused(run -> {
            ObjectNode data = (ObjectNode) run.get("data");
            data.put("train", "tiny.csv");
            data.remove("test");
        }), "data.split", "holds out 0");
    }

    /** Not a test of the examples: a model written here shows a regression on a wrong output width. */
    @Test
    void aRegressionOutputWidthThatIsNotTheLabelColumnsIsRefused() throws IOException {
        Path user = UserRuns.copy(ExampleFiles.REGRESSION, tmp.resolve("regression"));
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder().updater(new Adam(0.01)).list()
                .layer(new DenseLayer.Builder().nIn(3).nOut(8).activation(Activation.TANH).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MSE).nIn(8).nOut(2)
                        .activation(Activation.IDENTITY).build())
                .build();
        Files.writeString(user.resolve("model.json"), conf.toJson());
        InvalidSettingException e = assertThrows(InvalidSettingException.class, () -> new Workloads(() -> null, user)
                .prepare(UserRuns.spec(ExampleFiles.REGRESSION, 10)));
        assertNames(e, "model", "has 2 units", "1 label column", "nOut 1");
    }
}
