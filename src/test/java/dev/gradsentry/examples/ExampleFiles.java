package dev.gradsentry.examples;

import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.LSTM;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.RnnOutputLayer;
import org.deeplearning4j.nn.weights.WeightInit;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.lossfunctions.LossFunctions;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Random;

/**
 * Writes the three examples under {@code examples/}: each a model configuration JSON as DL4J writes it, small data
 * made from a fixed seed, and the run file that trains them. {@code ExamplesTest} checks that the committed files are
 * what this writes, and trains each. To write them again:
 * <pre>
 * mvn -q -DskipTests test-compile dependency:build-classpath -Dmdep.outputFile=target/cp -Dmdep.includeScope=test
 * java -cp target/classes:target/test-classes:$(cat target/cp) dev.gradsentry.examples.ExampleFiles examples
 * </pre>
 */
public final class ExampleFiles {

    public static final String TABULAR = "tabular-classifier";
    public static final String REGRESSION = "csv-regression";
    public static final String SEQUENCE = "sequence-classifier";

    private ExampleFiles() {
    }

    public static void main(String... args) throws IOException {
        writeAll(Path.of(args.length > 0 ? args[0] : "examples"));
    }

    public static void writeAll(Path root) throws IOException {
        tabular(root.resolve(TABULAR));
        regression(root.resolve(REGRESSION));
        sequence(root.resolve(SEQUENCE));
    }

    /**
     * Three classes of points in four dimensions, each a Gaussian blob around its own centre; a header line. A
     * dense network 4-16-3 with softmax, trained on 240 rows, evaluated on the 60 rows of test.csv.
     */
    static void tabular(Path dir) throws IOException {
        Files.createDirectories(dir);
        Random random = new Random(1);
        double[][] centres = {{0, 0, 0, 0}, {2, 2, 0, -1}, {-2, 1, 2, 1}};
        for (String name : new String[] {"train.csv", "test.csv"}) {
            int rows = name.equals("train.csv") ? 240 : 60;
            StringBuilder csv = new StringBuilder("x0,x1,x2,x3,class\n");
            for (int i = 0; i < rows; i++) {
                int c = i % 3;
                for (int j = 0; j < 4; j++) {
                    csv.append(number(centres[c][j] + random.nextGaussian() * 0.8)).append(',');
                }
                csv.append(c).append('\n');
            }
            write(dir.resolve(name), csv.toString());
        }
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder().seed(1).updater(new Adam(0.01)).list()
                .layer(new DenseLayer.Builder().nIn(4).nOut(16).activation(Activation.RELU)
                        .weightInit(WeightInit.RELU).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nIn(16).nOut(3)
                        .activation(Activation.SOFTMAX).weightInit(WeightInit.XAVIER).build())
                .build();
        write(dir.resolve("model.json"), conf.toJson());
        write(dir.resolve("run.json"), """
                {
                  "model": "model.json",
                  "data": {"train": "train.csv", "test": "test.csv", "task": "classification", "skipLines": 1},
                  "steps": 300,
                  "batchSize": 32,
                  "evalInterval": 50
                }
                """);
    }

    /**
     * y = 2 x0 - x1 + 0.5 x2 + noise, the label in the last column, no header; 400 rows of which a seeded 20% are
     * held out. A dense network 3-16-1 with MSE loss.
     */
    static void regression(Path dir) throws IOException {
        Files.createDirectories(dir);
        Random random = new Random(2);
        StringBuilder csv = new StringBuilder();
        for (int i = 0; i < 400; i++) {
            double x0 = random.nextDouble() * 4 - 2;
            double x1 = random.nextDouble() * 4 - 2;
            double x2 = random.nextDouble() * 4 - 2;
            double y = 2 * x0 - x1 + 0.5 * x2 + random.nextGaussian() * 0.1;
            csv.append(number(x0)).append(',').append(number(x1)).append(',').append(number(x2)).append(',')
                    .append(number(y)).append('\n');
        }
        write(dir.resolve("data.csv"), csv.toString());
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder().seed(2).updater(new Adam(0.01)).list()
                .layer(new DenseLayer.Builder().nIn(3).nOut(16).activation(Activation.TANH)
                        .weightInit(WeightInit.XAVIER).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MSE).nIn(16).nOut(1)
                        .activation(Activation.IDENTITY).weightInit(WeightInit.XAVIER).build())
                .build();
        write(dir.resolve("model.json"), conf.toJson());
        write(dir.resolve("run.json"), """
                {
                  "model": "model.json",
                  "data": {"train": "data.csv", "task": "regression", "split": 0.2},
                  "steps": 400,
                  "batchSize": 32,
                  "evalInterval": 50
                }
                """);
    }

    /**
     * Sequences of 8 to 16 steps of two channels, a noisy sine and its cosine, whose frequency is one of three
     * classes; one file per sequence in {@code train/}, and in {@code labels/} a file of the same name holding its
     * class on one line, aligned with the last step (DataVec's ALIGN_END). A ComputationGraph: an LSTM vertex and an
     * RnnOutputLayer vertex.
     */
    static void sequence(Path dir) throws IOException {
        Path features = dir.resolve("train");
        Path labels = dir.resolve("labels");
        Files.createDirectories(features);
        Files.createDirectories(labels);
        Random random = new Random(3);
        double[] frequencies = {0.3, 0.8, 1.6};
        for (int i = 0; i < 150; i++) {
            int c = i % 3;
            int length = 8 + random.nextInt(9);
            double phase = random.nextDouble() * Math.PI * 2;
            StringBuilder csv = new StringBuilder();
            for (int t = 0; t < length; t++) {
                double angle = phase + frequencies[c] * t;
                csv.append(number(Math.sin(angle) + random.nextGaussian() * 0.1)).append(',')
                        .append(number(Math.cos(angle) + random.nextGaussian() * 0.1)).append('\n');
            }
            String name = String.format(Locale.ROOT, "%03d.csv", i);
            write(features.resolve(name), csv.toString());
            write(labels.resolve(name), c + "\n");
        }
        ComputationGraphConfiguration conf = new NeuralNetConfiguration.Builder().seed(3).updater(new Adam(0.01))
                .graphBuilder()
                .addInputs("series")
                .addLayer("lstm", new LSTM.Builder().nIn(2).nOut(16).activation(Activation.TANH)
                        .weightInit(WeightInit.XAVIER).build(), "series")
                .addLayer("class", new RnnOutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nIn(16).nOut(3)
                        .activation(Activation.SOFTMAX).weightInit(WeightInit.XAVIER).build(), "lstm")
                .setOutputs("class")
                // The input type tells DL4J the time series layout (NCW) of every layer; without it the graph's
                // RnnOutputLayer has none and its backward pass fails.
                .setInputTypes(InputType.recurrent(2))
                .build();
        write(dir.resolve("model.json"), conf.toJson());
        write(dir.resolve("run.json"), """
                {
                  "model": "model.json",
                  "data": {
                    "format": "csv-sequence", "task": "classification",
                    "train": "train", "trainLabels": "labels", "alignment": "align-end", "split": 0.2
                  },
                  "steps": 300,
                  "batchSize": 16,
                  "evalInterval": 50
                }
                """);
    }

    private static String number(double v) {
        return String.format(Locale.ROOT, "%.4f", v);
    }

    private static void write(Path file, String text) throws IOException {
        Files.writeString(file, text, StandardCharsets.UTF_8);
    }
}
