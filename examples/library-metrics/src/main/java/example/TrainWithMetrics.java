package example;

import com.sun.net.httpserver.HttpServer;
import dev.gradsentry.core.intervene.Guard;
import dev.gradsentry.core.intervene.GuardPausedException;
import dev.gradsentry.metrics.GradSentryMeters;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.weights.WeightInit;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.lossfunctions.LossFunctions;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * A training program of its own, watched by GradSentry as a library: a small classifier on three Gaussian blobs,
 * protected by {@code Guard.protect} and measured by {@code GradSentryMeters}, with the meters on
 * {@code http://127.0.0.1:PORT/metrics} in the Prometheus text format. It trains for the given number of steps and
 * then keeps serving the last values until it is stopped.
 *
 * <p>Arguments: {@code [port (9400)] [steps (2000)]}.
 */
public final class TrainWithMetrics {

    private static final int FEATURES = 4;
    private static final int CLASSES = 3;

    public static void main(String[] args) throws IOException {
        int port = args.length > 0 ? Integer.parseInt(args[0]) : 9400;
        long steps = args.length > 1 ? Long.parseLong(args[1]) : 2000;

        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", port), 0);
        server.createContext("/metrics", exchange -> {
            byte[] body = registry.scrape().getBytes(StandardCharsets.UTF_8);
            exchange.getResponseHeaders().set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
            exchange.sendResponseHeaders(200, body.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(body);
            }
        });
        server.start();
        System.out.println("metrics on http://127.0.0.1:" + port + "/metrics");

        MultiLayerNetwork network = new MultiLayerNetwork(new NeuralNetConfiguration.Builder()
                .seed(42).updater(new Adam(1e-2)).weightInit(WeightInit.XAVIER).list()
                .layer(new DenseLayer.Builder().nIn(FEATURES).nOut(16).activation(Activation.RELU).build())
                .layer(new DenseLayer.Builder().nIn(16).nOut(16).activation(Activation.RELU).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nIn(16).nOut(CLASSES)
                        .activation(Activation.SOFTMAX).build())
                .build());
        network.init();

        // GradSentry: the two lines.
        Guard guard = Guard.protect(network);
        new GradSentryMeters(guard).bindTo(registry);

        List<DataSet> batches = blobs(600, 7).batchBy(32);
        try {
            for (long step = 0; step < steps; step++) {
                network.fit(batches.get((int) (step % batches.size())));
                if ((step + 1) % 100 == 0) {
                    System.out.printf("step %d: loss %.4f%n", step + 1, network.score());
                }
            }
            System.out.println("trained " + steps + " steps; serving the meters until stopped (Ctrl-C)");
        } catch (GuardPausedException e) {
            System.out.println("the guard paused training: " + guard.pauseReason());
        } catch (RuntimeException e) {
            server.stop(0); // the server's thread would keep a failed program alive
            throw e;
        }
    }

    /** {@code n} points around three centres in four dimensions, one class each, in a seeded order. */
    private static DataSet blobs(int n, long seed) {
        Nd4j.getRandom().setSeed(seed);
        INDArray features = Nd4j.randn(n, FEATURES).muli(0.7);
        INDArray labels = Nd4j.zeros(n, CLASSES);
        for (int i = 0; i < n; i++) {
            int c = i % CLASSES;
            features.putScalar(i, c, features.getDouble(i, c) + 2.5);
            labels.putScalar(i, c, 1.0);
        }
        DataSet all = new DataSet(features, labels);
        all.shuffle(seed);
        return all;
    }
}
