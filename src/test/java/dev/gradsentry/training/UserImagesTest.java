package dev.gradsentry.training;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.gradsentry.core.InvalidSettingException;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.lossfunctions.LossFunctions;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.function.Consumer;

import static dev.gradsentry.training.UserRuns.assertNames;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * IDX images as a user's data ({@code "format": "idx"}): small 8x8 images written here, three classes told apart by
 * the row of a bright bar, train a model of the user's; each file or model that does not fit is refused before the
 * first step, naming the field and the fix.
 */
class UserImagesTest {

    private static final int SIDE = 8;
    private static final int CLASSES = 3;
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path user;

    @BeforeEach
    void images() throws IOException {
        writeImages("train-images-idx3-ubyte", "train-labels-idx1-ubyte", 150, 1);
        // The held-out images gzipped, as MNIST ships them: the reader gunzips them.
        writeImages("test-images-idx3-ubyte.gz", "test-labels-idx1-ubyte.gz", 45, 2);
        writeModel(dense(SIDE * SIDE, CLASSES));
    }

    /** {@code n} images: class c has a bright bar in rows 2c+1 and 2c+2, the other pixels are noise. */
    private void writeImages(String images, String labels, int n, long seed) throws IOException {
        Random random = new Random(seed);
        byte[] pixels = new byte[n * SIDE * SIDE];
        byte[] classes = new byte[n];
        for (int i = 0; i < n; i++) {
            int c = i % CLASSES;
            classes[i] = (byte) c;
            for (int p = 0; p < SIDE * SIDE; p++) {
                int row = p / SIDE;
                boolean bar = row == 2 * c + 1 || row == 2 * c + 2;
                pixels[i * SIDE * SIDE + p] = (byte) (bar ? 180 + random.nextInt(76) : random.nextInt(90));
            }
        }
        IdxFiles.write(user.resolve(images), IdxFiles.encode(new int[] {n, SIDE, SIDE}, pixels));
        IdxFiles.write(user.resolve(labels), IdxFiles.encode(new int[] {n}, classes));
    }

    private static MultiLayerConfiguration dense(int in, int out) {
        return new NeuralNetConfiguration.Builder().seed(5).updater(new Adam(0.01)).list()
                .layer(new DenseLayer.Builder().nIn(in).nOut(16).activation(Activation.RELU).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nIn(16).nOut(out)
                        .activation(Activation.SOFTMAX).build())
                .build();
    }

    private void writeModel(MultiLayerConfiguration conf) throws IOException {
        Files.writeString(user.resolve("model.json"), conf.toJson());
    }

    private static ObjectNode run() {
        ObjectNode run = JSON.createObjectNode().put("model", "model.json");
        run.putObject("data").put("format", "idx").put("task", "classification")
                .put("train", "train-images-idx3-ubyte").put("trainLabels", "train-labels-idx1-ubyte")
                .put("test", "test-images-idx3-ubyte.gz").put("testLabels", "test-labels-idx1-ubyte.gz");
        return run.put("batchSize", 16);
    }

    private TrainingSetup prepare(ObjectNode run) {
        return new Workloads(() -> null, user).prepare(UserRuns.spec(run, 60));
    }

    private InvalidSettingException refused(Consumer<ObjectNode> data) {
        ObjectNode run = run();
        data.accept((ObjectNode) run.get("data"));
        return assertThrows(InvalidSettingException.class, () -> prepare(run));
    }

    private static double trained(TrainingSetup setup) {
        return UserRuns.trained(setup, 60);
    }

    @Test
    void idxImagesAndLabelsTrainTheUsersModelAndEvaluateOnTheHeldOutFiles() {
        TrainingSetup setup = prepare(run());
        assertEquals("accuracy", setup.metric());
        double accuracy = trained(setup);
        assertTrue(accuracy > 0.9, "held-out accuracy " + accuracy + " (3 classes)");
    }

    @Test
    void withoutHeldOutFilesTheSeedsSplitHoldsOutPartOfTheTrainingImages() {
        ObjectNode run = run();
        ((ObjectNode) run.get("data")).without(java.util.List.of("test", "testLabels"));
        assertEquals(0.2, UserRuns.spec(run, 1).data().split());
        TrainingSetup setup = prepare(run);
        assertEquals(120 / 16, setup.train().batchesPerEpoch(), "150 images less 30 held out, 16 a step");
        assertTrue(trained(setup) > 0.9);
    }

    @Test
    void aConvolutionalModelTakesTheImagesThroughConvolutionalFlat() throws IOException {
        writeModel(new NeuralNetConfiguration.Builder().seed(5).updater(new Adam(0.01)).list()
                .layer(new ConvolutionLayer.Builder(3, 3).nOut(4).activation(Activation.RELU).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(CLASSES)
                        .activation(Activation.SOFTMAX).build())
                .setInputType(InputType.convolutionalFlat(SIDE, SIDE, 1))
                .build());
        assertTrue(trained(prepare(run())) > 0.9);
        writeModel(new NeuralNetConfiguration.Builder().seed(5).updater(new Adam(0.01)).list()
                .layer(new ConvolutionLayer.Builder(3, 3).nOut(4).activation(Activation.RELU).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(CLASSES)
                        .activation(Activation.SOFTMAX).build())
                .setInputType(InputType.convolutionalFlat(SIDE, SIDE - 1, 1))
                .build());
        assertNames(assertThrows(InvalidSettingException.class, () -> prepare(run())), "model", "takes 56 inputs",
                "64 features", "images of 8x8 pixels", "convolutionalFlat(8, 8, 1)");
    }

    @Test
    void aModelWhoseInputIsNotTheImageSizeIsRefusedNamingBoth() throws IOException {
        writeModel(dense(63, CLASSES));
        assertNames(refused(data -> { }), "model", "takes 63 inputs", "64 features (images of 8x8 pixels)",
                "nIn 64", "convolutionalFlat(8, 8, 1)");
    }

    @Test
    void aLabelThatIsNoClassOfTheModelIsRefusedWithTheImage() throws IOException {
        writeModel(dense(SIDE * SIDE, 2));
        assertNames(refused(data -> { }), "data.trainLabels", "train-labels-idx1-ubyte",
                "label of image 2 is 2", "from 0 to 1", "nOut 3");
        assertNames(refused(data -> data.put("classes", 3)), "data.classes", "data.classes is 3", "2 units");
    }

    @Test
    void filesThatAreNoIdxOrOfTheWrongShapeAreRefused() throws IOException {
        Files.writeString(user.resolve("notes.txt"), "these are not images\n");
        assertNames(refused(data -> data.put("train", "notes.txt")), "data.train", "notes.txt", "no IDX file",
                "two zero bytes", "0x00000803");
        assertNames(refused(data -> data.put("train", "train-labels-idx1-ubyte")), "data.train",
                "the shape [150]", "[n, rows, cols]", "labels file");
        assertNames(refused(data -> data.put("trainLabels", "train-images-idx3-ubyte")), "data.trainLabels",
                "[150, 8, 8]", "one dimension", "images file");
        assertNames(refused(data -> data.put("testLabels", "train-labels-idx1-ubyte")), "data.testLabels",
                "150 labels for the 45 images", "one label per image");
        byte[] truncated = Files.readAllBytes(user.resolve("train-images-idx3-ubyte"));
        Files.write(user.resolve("cut-idx3-ubyte"), java.util.Arrays.copyOf(truncated, truncated.length - 10));
        assertNames(refused(data -> data.put("train", "cut-idx3-ubyte")), "data.train", "truncated");
    }

    @Test
    void heldOutImagesOfAnotherSizeAreRefused() throws IOException {
        IdxFiles.write(user.resolve("small-images"), IdxFiles.encode(new int[] {2, 7, 7}, new byte[2 * 49]));
        IdxFiles.write(user.resolve("small-labels"), IdxFiles.encode(new int[] {2}, new byte[2]));
        assertNames(refused(data -> data.put("test", "small-images").put("testLabels", "small-labels")),
                "data.test", "images of 7x7", "images of 8x8");
    }

    @Test
    void missingFilesAndFieldsAreRefusedNamingTheField() {
        assertNames(refused(data -> data.put("trainLabels", "nope")), "data.trainLabels", "'nope' is missing");
        assertNames(refused(data -> data.put("test", "../outside")), "data.test", "outside the user directory");
        assertNames(fieldsRefused(data -> data.remove("trainLabels")), "data.trainLabels",
                "required for format idx");
        assertNames(fieldsRefused(data -> data.put("task", "regression")), "data.task", "must be classification");
        assertNames(fieldsRefused(data -> data.put("skipLines", 1)), "data.skipLines", "IDX file has no lines");
    }

    /** What the data fields' own rules refuse, as the JSON reader wraps it. */
    private static InvalidSettingException fieldsRefused(Consumer<ObjectNode> data) {
        ObjectNode run = run();
        data.accept((ObjectNode) run.get("data"));
        Throwable e = assertThrows(RuntimeException.class, () -> UserRuns.spec(run, 1));
        while (!(e instanceof InvalidSettingException) && e.getCause() != null) {
            e = e.getCause();
        }
        return assertInstanceOf(InvalidSettingException.class, e);
    }
}
