package dev.gradsentry.examples;

import dev.gradsentry.core.intervene.Guard;
import dev.gradsentry.metrics.GradSentryMeters;
import io.micrometer.prometheus.PrometheusConfig;
import io.micrometer.prometheus.PrometheusMeterRegistry;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Sgd;
import org.nd4j.linalg.lossfunctions.LossFunctions;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import java.util.zip.ZipFile;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The library use, end to end: {@code src/library/pom.xml} builds and installs {@code gradsentry-core} into the local
 * Maven repository, the example project {@code examples/library-metrics} (copied to a temporary directory) builds
 * against that installed artifact, its resolved classpath holds nothing of Quarkus, CDI or SmallRye Config, and the
 * program trains and serves, on {@code /metrics}, the gradient and guard meters of its own layers: the same meter
 * families as {@link GradSentryMeters} renders in this JVM.
 *
 * <p>The nested Maven builds run as the outer one does: the same Maven, local repository and settings (the
 * repository's {@code .mvn/settings.xml}), offline when it is offline. On a fresh machine they fetch what the main
 * build did not need (DL4J's own dependency versions, which the Quarkus BOM overrides in the main build; the plain
 * Prometheus registry; the install and dependency plugins).
 */
class LibraryExampleIT {

    private static final Path ROOT = Path.of("").toAbsolutePath();
    private static final Path EXAMPLE = ROOT.resolve("examples/library-metrics");
    /** Failsafe passes the outer build's; the default is Maven's, for a run outside Maven. */
    private static final String REPOSITORY = System.getProperty("gradsentry.maven.repo",
            Path.of(System.getProperty("user.home"), ".m2", "repository").toString());
    private static final long STEPS = 40;
    /** What a library user must not get on their classpath: the service's framework, its CDI and its config. */
    private static final List<String> FORBIDDEN = List.of("io/quarkus/", "jakarta/enterprise/", "io/smallrye/config/");
    private static final Pattern SAMPLE = Pattern.compile("^(gradsentry_[a-z_]+)(\\{[^}]*})? (\\S+)$",
            Pattern.MULTILINE);

    @TempDir
    Path tmp;
    private Process example;

    @AfterEach
    void stopExample() throws InterruptedException {
        if (example != null) {
            example.destroy();
            if (!example.waitFor(10, TimeUnit.SECONDS)) {
                example.destroyForcibly().waitFor();
            }
        }
    }

    @Test
    void theExampleBuildsOnTheInstalledLibraryWithoutQuarkusAndServesTheLayersMeters() throws Exception {
        // In the repository root, whose .mvn/maven.config names the settings.
        maven(ROOT, "library", "-f", "src/library/pom.xml", "install");
        Path jar = Path.of(REPOSITORY,
                "dev/gradsentry/gradsentry-core/0.1.0-SNAPSHOT/gradsentry-core-0.1.0-SNAPSHOT.jar");
        assertTrue(Files.isRegularFile(jar), "installed: " + jar);

        Path project = tmp.resolve("library-metrics");
        copy(EXAMPLE, project);
        maven(project, "example", "-s", ROOT.resolve(".mvn/settings.xml").toString(), "compile",
                "org.apache.maven.plugins:maven-dependency-plugin:3.11.0:build-classpath",
                "-Dmdep.outputFile=" + project.resolve("classpath.txt"));
        List<Path> classpath = Arrays.stream(Files.readString(project.resolve("classpath.txt")).trim().split(":"))
                .map(Path::of).toList();
        assertTrue(classpath.stream().anyMatch(p -> p.equals(jar)), "the example uses the installed library: "
                + classpath);
        for (Path entry : classpath) {
            assertNoForbiddenClasses(entry);
        }

        int port = freePort();
        Path log = tmp.resolve("example.log");
        List<String> command = List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", project.resolve("target/classes") + ":" + classpath.stream().map(Path::toString)
                        .collect(Collectors.joining(":")),
                "example.TrainWithMetrics", String.valueOf(port), String.valueOf(STEPS));
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().put("OMP_NUM_THREADS", "1");
        example = pb.start();

        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
        HttpRequest scrape = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/metrics")).build();
        String metrics = await("the example's " + STEPS + " steps on /metrics").atMost(Duration.ofSeconds(120))
                .pollInterval(Duration.ofMillis(500)).ignoreExceptions()
                .until(() -> {
                    if (!example.isAlive()) {
                        fail("the example exited with " + example.exitValue() + ":\n" + Files.readString(log));
                    }
                    return http.send(scrape, HttpResponse.BodyHandlers.ofString()).body();
                }, body -> body.contains("\ngradsentry_steps_total " + STEPS + ".0\n"));

        for (String layer : List.of("0_dense", "1_dense", "2_output")) {
            double norm = value(metrics, "gradsentry_layer_gradient_norm{layer=\"" + layer + "\"}");
            assertTrue(Double.isFinite(norm) && norm > 0, layer + ": " + norm);
            value(metrics, "gradsentry_param_gradient_norm{layer=\"" + layer + "\",param=\"W\"}");
            value(metrics, "gradsentry_clip_threshold{layer=\"" + layer + "\"}");
            value(metrics, "gradsentry_layer_clipped_steps_total{layer=\"" + layer + "\"}");
        }
        assertTrue(Double.isFinite(value(metrics, "gradsentry_loss")), "the loss");
        assertTrue(metrics.contains("# HELP gradsentry_layer_gradient_norm "), "meters carry their descriptions");
        assertEquals(families(inThisJvm()), families(metrics),
                "the example publishes the meter families GradSentryMeters publishes in the service's JVM");
    }

    /** The sample names GradSentryMeters renders here, bound to the registry the service uses, after one step. */
    private static String inThisJvm() {
        MultiLayerNetwork net = new MultiLayerNetwork(new NeuralNetConfiguration.Builder()
                .seed(1).updater(new Sgd(0.01)).list()
                .layer(new DenseLayer.Builder().nIn(4).nOut(8).activation(Activation.TANH).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nIn(8).nOut(3)
                        .activation(Activation.SOFTMAX).build())
                .build());
        net.init();
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        new GradSentryMeters(Guard.protect(net)).bindTo(registry);
        net.fit(new DataSet(Nd4j.rand(8, 4), Nd4j.eye(3).getRows(0, 1, 2, 0, 1, 2, 0, 1)));
        return registry.scrape();
    }

    private static Set<String> families(String scrape) {
        Set<String> names = new TreeSet<>();
        Matcher m = SAMPLE.matcher(scrape);
        while (m.find()) {
            names.add(m.group(1));
        }
        return names;
    }

    private static double value(String scrape, String series) {
        for (String line : scrape.split("\n")) {
            if (line.startsWith(series + " ")) {
                return Double.parseDouble(line.substring(series.length() + 1).trim());
            }
        }
        throw new AssertionError("no " + series + " in:\n" + scrape);
    }

    private static void assertNoForbiddenClasses(Path entry) throws IOException {
        if (!entry.toString().endsWith(".jar")) {
            return;
        }
        try (ZipFile zip = new ZipFile(entry.toFile())) {
            zip.stream().map(e -> e.getName()).filter(n -> FORBIDDEN.stream().anyMatch(n::startsWith)).findFirst()
                    .ifPresent(n -> fail(entry + " on the library user's classpath holds " + n));
        }
    }

    /** Runs Maven in {@code dir} as the outer build runs; its output goes to {@code name.log} and into a failure. */
    private void maven(Path dir, String name, String... args) throws IOException, InterruptedException {
        String home = System.getProperty("gradsentry.maven.home");
        List<String> command = new ArrayList<>(List.of(home == null || home.isBlank() ? "mvn"
                : Path.of(home, "bin", "mvn").toString(), "-B", "-q",
                "-Dmaven.repo.local=" + REPOSITORY));
        if ("offline=true".equals(System.getProperty("gradsentry.maven.mode"))) {
            command.add("-o");
        }
        command.addAll(List.of(args));
        Path log = tmp.resolve(name + ".log");
        Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true)
                .redirectOutput(log.toFile()).start();
        if (!p.waitFor(10, TimeUnit.MINUTES)) {
            p.destroyForcibly().waitFor();
            fail(name + " build still running after 10 minutes: " + String.join(" ", command));
        }
        if (p.exitValue() != 0) {
            fail(name + " build failed (" + String.join(" ", command) + "):\n" + Files.readString(log));
        }
    }

    private static void copy(Path from, Path to) throws IOException {
        try (Stream<Path> files = Files.walk(from)) {
            for (Path f : files.filter(f -> !from.relativize(f).startsWith("target")).toList()) {
                Path target = to.resolve(from.relativize(f).toString());
                if (Files.isDirectory(f)) {
                    Files.createDirectories(target);
                } else {
                    Files.copy(f, target);
                }
            }
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }
}
