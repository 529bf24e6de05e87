package dev.gradsentry.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpServer;
import dev.gradsentry.api.TrainingMetrics;
import dev.gradsentry.core.probe.GradientInjection;
import dev.gradsentry.core.probe.GradientProbe;
import dev.gradsentry.core.probe.StepStats;
import io.micrometer.prometheus.PrometheusConfig;
import io.micrometer.prometheus.PrometheusMeterRegistry;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.weights.WeightInit;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Sgd;
import org.nd4j.linalg.lossfunctions.LossFunctions;

import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A real Prometheus scrapes a training run every 2 s; one step with a spiked gradient, followed by calm ones, is
 * trained between two scrapes. The last step's gauge cannot show it; the window max must.
 */
class SpikeBetweenScrapesTest {

    private static final long SPIKE_AT = 45;
    private static final double SPIKE_FACTOR = 1e3;

    private static MultiLayerNetwork mlp() {
        MultiLayerNetwork net = new MultiLayerNetwork(new NeuralNetConfiguration.Builder()
                .seed(11).updater(new Sgd(1e-3)).weightInit(WeightInit.XAVIER).list()
                .layer(new DenseLayer.Builder().nIn(20).nOut(16).activation(Activation.TANH).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nIn(16).nOut(4)
                        .activation(Activation.SOFTMAX).build())
                .build());
        net.init();
        return net;
    }

    @Test
    void aOneStepSpikeBetweenTwoScrapesIsFoundInAQuery() throws Exception {
        MultiLayerNetwork net = mlp();
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        TrainingMetrics metrics = new TrainingMetrics();
        metrics.bindTo(registry);
        Map<Long, StepStats> steps = new ConcurrentHashMap<>();
        metrics.attach(GradientProbe.attach(net).addObserver(s -> steps.put(s.iteration(), s)), null);
        GradientInjection.before(net).at(SPIKE_AT, SPIKE_FACTOR);
        Nd4j.getRandom().setSeed(3);
        DataSet batch = new DataSet(Nd4j.rand(32, 20), Nd4j.eye(4).repeat(0, 8));
        for (int i = 0; i < 20; i++) {
            net.fit(batch);
        }

        HttpServer exporter = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        exporter.createContext("/metrics", exchange -> {
            byte[] body = registry.scrape().getBytes(StandardCharsets.UTF_8);
            exchange.getResponseHeaders().set("Content-Type", "text/plain; version=0.0.4");
            exchange.sendResponseHeaders(200, body.length);
            exchange.getResponseBody().write(body);
            exchange.close();
        });
        exporter.start();
        int prometheus = Peers.freePort();
        try (Peers peers = new Peers(Peers.PROMETHEUS)) {
            peers.prometheus(prometheus, """
                    global:
                      scrape_interval: 2s
                    scrape_configs:
                      - job_name: gradsentry
                        static_configs: [{targets: ['127.0.0.1:%d']}]
                    """.formatted(exporter.getAddress().getPort()));
            String targets = "http://127.0.0.1:" + prometheus + "/api/v1/targets";
            String first = await("a first scrape").atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(20))
                    .until(() -> lastScrape(peers.getJson(targets)), s -> s != null);
            String before = await("the next scrape").atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(5))
                    .until(() -> lastScrape(peers.getJson(targets)), s -> s != null && !s.equals(first));

            long start = System.nanoTime();
            while (net.getIterationCount() < SPIKE_AT + 20) {
                net.fit(batch);
            }
            long burstMs = (System.nanoTime() - start) / 1_000_000;
            assertEquals(before, lastScrape(peers.getJson(targets)), "no scrape may fall inside the " + burstMs
                    + " ms burst, or the spike was not between two scrapes");
            await("the scrape after the spike").atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(20))
                    .until(() -> lastScrape(peers.getJson(targets)), s -> !before.equals(s));

            StepStats spike = steps.get(SPIKE_AT);
            double calmMax = steps.values().stream().filter(s -> s.iteration() != SPIKE_AT)
                    .mapToDouble(StepStats::globalNorm).max().orElseThrow();
            assertTrue(spike.globalNorm() > 100 * calmMax, "the injection made a spike: " + spike.globalNorm()
                    + " against " + calmMax);
            double lastStepSeen = value(peers.query(prometheus, "max_over_time(gradsentry_global_gradient_norm[5m])"));
            assertTrue(lastStepSeen < 2 * calmMax, "the last step's gauge never showed the spike: " + lastStepSeen);

            assertEquals(spike.globalNorm(), value(peers.query(prometheus,
                    "max_over_time(gradsentry_global_gradient_norm_window_max[5m])")), spike.globalNorm() * 1e-9);
            String spikedLayer = spike.layers().get(1).layer();
            assertEquals(spike.layers().get(1).norm(), value(peers.query(prometheus,
                    "max_over_time(gradsentry_layer_gradient_norm_window_max{layer=\"" + spikedLayer + "\"}[5m])")),
                    spike.layers().get(1).norm() * 1e-9);
        } finally {
            exporter.stop(0);
        }
    }

    private static String lastScrape(JsonNode targets) {
        for (JsonNode t : targets.path("data").path("activeTargets")) {
            if ("up".equals(t.path("health").asText())) {
                return t.path("lastScrape").asText();
            }
        }
        return null;
    }

    private static double value(JsonNode result) {
        assertEquals(1, result.size(), "one series: " + result);
        return Double.parseDouble(result.get(0).path("value").get(1).asText());
    }
}
