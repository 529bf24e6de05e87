package dev.gradsentry.bench;

import dev.gradsentry.api.TrainingMetrics;
import dev.gradsentry.core.clip.AdaptiveClip;
import dev.gradsentry.core.intervene.Guard;
import dev.gradsentry.core.intervene.GuardSettings;
import dev.gradsentry.core.probe.GradientProbe;
import dev.gradsentry.training.RunSpec;
import dev.gradsentry.training.WorkloadKind;
import io.micrometer.prometheus.PrometheusConfig;
import io.micrometer.prometheus.PrometheusMeterRegistry;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.weights.WeightInit;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Sgd;
import org.nd4j.linalg.lossfunctions.LossFunctions;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.UUID;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Training speed of the real service while it is scraped and read, and the cost of one scrape of a 100-layer network.
 *
 * <p>Part 1 starts the packaged jar ({@code OMP_NUM_THREADS=1}, demo off) and a long {@code fashion-mlp} run, then
 * alternates quiet phases and load phases, in the order quiet-load in even rounds and load-quiet in odd ones so that
 * a drift of the shared machine cancels. Under load one client scrapes {@code /q/metrics} at 20 per second on a fixed
 * schedule and another reads the five read-only endpoints at 5 per second. A phase's step time is read from the run
 * itself: its step counter ({@code GET /api/runs/{id}}) over the phase's wall time, and the time spent in DL4J's
 * {@code fit} ({@code gradsentry_step_seconds} sum over count). Each round gives a ratio load/quiet; the median over
 * rounds is reported.
 *
 * <p>Part 2 builds a 100-layer MLP in this JVM with the probe, the guard and {@link TrainingMetrics} bound to a
 * {@link PrometheusMeterRegistry}, wired as {@code TrainingRun} wires them, trains it a few steps and times
 * {@code registry.scrape()}. The service cannot train such a network (its workloads are fixed), hence in-process.
 */
public final class LoadBench {

    private static final Path JAR = Path.of("target", "quarkus-app", "quarkus-run.jar");
    private static final Pattern STEP_SUM = Pattern.compile("(?m)^gradsentry_step_seconds_sum(?:\\{[^}]*})? (\\S+)$");
    private static final Pattern STEP_COUNT =
            Pattern.compile("(?m)^gradsentry_step_seconds_count(?:\\{[^}]*})? (\\S+)$");
    private static final Pattern STEP = Pattern.compile("\"step\":(\\d+)");

    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).build();
    private final String base;
    private final String token;
    private final ProcessHandle service;

    private LoadBench(String base, String token, ProcessHandle service) {
        this.base = base;
        this.token = token;
        this.service = service;
    }

    /**
     * One phase's training speed, and the CPU the service and this client used per second of it: when the machine
     * has no idle core, that CPU is what the load takes from training.
     */
    private record Phase(boolean load, double wallMsPerStep, double fitMsPerStep, long steps, double serviceCpu,
                         double clientCpu) {
    }

    public static void main(String[] args) throws Exception {
        boolean quick = Arrays.asList(args).contains("--quick");
        int rounds = quick ? 2 : 6;
        Duration phase = Duration.ofSeconds(quick ? 8 : 15);
        System.out.printf(Locale.ROOT, "load bench: %d rounds of a quiet and a loaded %ds phase, OMP_NUM_THREADS=%s, "
                + "%d cores, %s%n", rounds, phase.toSeconds(), System.getenv("OMP_NUM_THREADS"),
                Runtime.getRuntime().availableProcessors(), Runtime.version());
        String service = serviceUnderLoad(rounds, phase);
        String deep = deepNetworkScrape(quick ? 100 : 400);
        System.out.println();
        System.out.println(service);
        System.out.println(deep);
    }

    private static String serviceUnderLoad(int rounds, Duration phase) throws Exception {
        if (!Files.isRegularFile(JAR)) {
            throw new IllegalStateException(JAR + " is missing; build it with 'mvn -B -q package -DskipTests' "
                    + "(./bench load does)");
        }
        int port;
        try (ServerSocket socket = new ServerSocket(0)) {
            port = socket.getLocalPort();
        }
        String token = UUID.randomUUID().toString();
        Path log = Path.of("target", "bench-load-service.log");
        ProcessBuilder builder = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Dquarkus.http.port=" + port, "-Dgradsentry.demo.enabled=false",
                "-Dgradsentry.data-dir=target/bench-load-data", "-jar", JAR.toString())
                .redirectErrorStream(true).redirectOutput(log.toFile());
        builder.environment().put("OMP_NUM_THREADS", "1");
        builder.environment().put("GRADSENTRY_API_TOKEN", token);
        Process service = builder.start();
        try {
            LoadBench bench = new LoadBench("http://127.0.0.1:" + port, token, service.toHandle());
            bench.awaitReady(service, log);
            return bench.measure(rounds, phase);
        } finally {
            service.destroy();
            if (!service.waitFor(20, TimeUnit.SECONDS)) {
                service.destroyForcibly();
            }
        }
    }

    private String measure(int rounds, Duration phase) throws Exception {
        String run = start("{\"workload\":\"fashion-mlp\",\"steps\":10000000,\"evalInterval\":0}");
        List<String> reads = List.of("/api/runs", "/api/runs/current", "/api/runs/" + run,
                "/api/runs/" + run + "/interventions", "/api/policy");
        // Under load, so that the JIT has compiled the scrape path in the service and the client before measuring.
        System.out.println("run " + run + " started; warming up under load for " + 2 * phase.toSeconds() + " s");
        phase(run, phase.multipliedBy(2), true, reads, new ArrayList<>(), new ArrayList<>(), new long[1]);
        List<Double> wallRatios = new ArrayList<>();
        List<Double> fitRatios = new ArrayList<>();
        List<Double> clientCpu = new ArrayList<>();
        List<Long> scrapeNanos = Collections.synchronizedList(new ArrayList<>());
        List<Long> readNanos = Collections.synchronizedList(new ArrayList<>());
        long[] scrapeBytes = new long[1];
        for (int r = 0; r < rounds; r++) {
            boolean loadFirst = r % 2 == 1;
            Phase first = phase(run, phase, loadFirst, reads, scrapeNanos, readNanos, scrapeBytes);
            Phase second = phase(run, phase, !loadFirst, reads, scrapeNanos, readNanos, scrapeBytes);
            Phase quiet = first.load() ? second : first;
            Phase loaded = first.load() ? first : second;
            wallRatios.add(loaded.wallMsPerStep() / quiet.wallMsPerStep());
            fitRatios.add(loaded.fitMsPerStep() / quiet.fitMsPerStep());
            clientCpu.add(loaded.clientCpu());
            System.out.printf(Locale.ROOT, "round %d: quiet %.3f ms/step (fit %.3f, %d steps, service CPU %.2f), "
                            + "loaded %.3f ms/step (fit %.3f, %d steps, service CPU %.2f, client CPU %.2f): "
                            + "ratio %.3fx, fit %.3fx; load average %s%n", r + 1, quiet.wallMsPerStep(),
                    quiet.fitMsPerStep(), quiet.steps(), quiet.serviceCpu(), loaded.wallMsPerStep(),
                    loaded.fitMsPerStep(), loaded.steps(), loaded.serviceCpu(), loaded.clientCpu(),
                    wallRatios.get(r), fitRatios.get(r), loadAverage());
        }
        http.send(request("/api/runs/" + run).DELETE().header("Authorization", "Bearer " + token).build(),
                HttpResponse.BodyHandlers.discarding());
        double scrapeCpu = serviceCpuPerRequest("/q/metrics", 400);
        double readCpu = serviceCpuPerRequest("/api/runs/" + run, 400);
        double seconds = rounds * phase.toSeconds();
        return String.format(Locale.ROOT, "fashion-mlp in the service, %d rounds of %d s: step time under load "
                        + "%.3fx of quiet (median; rounds %.3f to %.3f), time in fit %.3fx%n"
                        + "service CPU per request with training stopped: scrape %.2f ms, REST read %.2f ms; at 20 "
                        + "scrapes and 5 reads a second that is %.1f%% of a core; this client used %.1f%% (median)%n"
                        + "scrapes of /q/metrics: %d (%.1f/s), %d bytes each; latency p50 %.2f ms, p90 %.2f ms, "
                        + "p99 %.2f ms, max %.2f ms%n"
                        + "REST reads: %d (%.1f/s); latency p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms",
                rounds, phase.toSeconds(), median(wallRatios), Collections.min(wallRatios),
                Collections.max(wallRatios), median(fitRatios), scrapeCpu, readCpu,
                (20 * scrapeCpu + 5 * readCpu) / 10, 100 * median(clientCpu),
                scrapeNanos.size(), scrapeNanos.size() / seconds,
                scrapeBytes[0], ms(scrapeNanos, 50), ms(scrapeNanos, 90), ms(scrapeNanos, 99), ms(scrapeNanos, 100),
                readNanos.size(), readNanos.size() / seconds, ms(readNanos, 50), ms(readNanos, 90), ms(readNanos, 99),
                ms(readNanos, 100));
    }

    /** One phase: step counter and fit-time totals at both ends, with the load clients running in between or not. */
    private Phase phase(String run, Duration length, boolean load, List<String> reads, List<Long> scrapeNanos,
                        List<Long> readNanos, long[] scrapeBytes) throws Exception {
        double[] fitStart = fitSeconds();
        long stepStart = step(run);
        long t0 = System.nanoTime();
        Duration serviceCpu0 = cpu(service);
        Duration clientCpu0 = cpu(ProcessHandle.current());
        ScheduledExecutorService clients = null;
        if (load) {
            clients = Executors.newScheduledThreadPool(2);
            clients.scheduleAtFixedRate(() -> {
                long s = System.nanoTime();
                String body = get("/q/metrics");
                scrapeNanos.add(System.nanoTime() - s);
                scrapeBytes[0] = body.length();
            }, 0, 50, TimeUnit.MILLISECONDS);
            int[] next = {0};
            clients.scheduleAtFixedRate(() -> {
                long s = System.nanoTime();
                get(reads.get(next[0]++ % reads.size()));
                readNanos.add(System.nanoTime() - s);
            }, 25, 200, TimeUnit.MILLISECONDS);
        }
        Thread.sleep(length.toMillis());
        if (clients != null) {
            clients.shutdown();
            clients.awaitTermination(10, TimeUnit.SECONDS);
        }
        double serviceCpu = cpu(service).minus(serviceCpu0).toNanos();
        double clientCpu = cpu(ProcessHandle.current()).minus(clientCpu0).toNanos();
        long stepEnd = step(run);
        long elapsed = System.nanoTime() - t0;
        double[] fitEnd = fitSeconds();
        long steps = stepEnd - stepStart;
        return new Phase(load, elapsed / 1e6 / steps, (fitEnd[0] - fitStart[0]) * 1e3 / (fitEnd[1] - fitStart[1]),
                steps, serviceCpu / elapsed, clientCpu / elapsed);
    }

    /** The service's CPU time per request, for requests sent one after another while it does nothing else. */
    private double serviceCpuPerRequest(String path, int requests) throws InterruptedException {
        Thread.sleep(1000);
        for (int i = 0; i < 50; i++) {
            get(path);
        }
        Duration before = cpu(service);
        for (int i = 0; i < requests; i++) {
            get(path);
        }
        return cpu(service).minus(before).toNanos() / 1e6 / requests;
    }

    private static Duration cpu(ProcessHandle process) {
        return process.info().totalCpuDuration().orElseThrow(() -> new IllegalStateException(
                "the CPU time of process " + process.pid() + " is not readable here"));
    }

    /** {@code gradsentry_step_seconds} sum and count. */
    private double[] fitSeconds() {
        String scrape = get("/q/metrics");
        return new double[] {number(STEP_SUM, scrape), number(STEP_COUNT, scrape)};
    }

    private long step(String run) {
        Matcher m = STEP.matcher(get("/api/runs/" + run));
        if (!m.find()) {
            throw new IllegalStateException("no step in the run status");
        }
        return Long.parseLong(m.group(1));
    }

    private static double number(Pattern pattern, String scrape) {
        Matcher m = pattern.matcher(scrape);
        if (!m.find()) {
            throw new IllegalStateException("not in the scrape: " + pattern);
        }
        return Double.parseDouble(m.group(1));
    }

    private String start(String body) throws IOException, InterruptedException {
        HttpResponse<String> r = http.send(request("/api/runs").header("Content-Type", "application/json")
                .header("Authorization", "Bearer " + token).POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() != 201) {
            throw new IllegalStateException("starting the run: " + r.statusCode() + " " + r.body());
        }
        Matcher m = Pattern.compile("\"id\":\"([^\"]+)\"").matcher(r.body());
        if (!m.find()) {
            throw new IllegalStateException("no id in " + r.body());
        }
        return m.group(1);
    }

    private String get(String path) {
        try {
            HttpResponse<String> r = http.send(request(path).GET().build(), HttpResponse.BodyHandlers.ofString());
            if (r.statusCode() != 200) {
                throw new IllegalStateException("GET " + path + ": " + r.statusCode());
            }
            return r.body();
        } catch (IOException e) {
            throw new IllegalStateException("GET " + path + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }

    private HttpRequest.Builder request(String path) {
        return HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(10));
    }

    private void awaitReady(Process service, Path log) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
        while (System.nanoTime() < deadline) {
            if (!service.isAlive()) {
                throw new IllegalStateException("the service exited; see " + log);
            }
            try {
                HttpResponse<Void> r = http.send(request("/q/health/ready").GET().build(),
                        HttpResponse.BodyHandlers.discarding());
                if (r.statusCode() == 200) {
                    return;
                }
            } catch (IOException notYet) {
                // not listening yet
            }
            Thread.sleep(200);
        }
        throw new IllegalStateException("the service did not become ready in 90 s; see " + log);
    }

    /**
     * 99 dense layers of 32 units and a softmax output: 100 layers of two parameters each. Scrapes are timed after the
     * meters exist and a few steps have filled them, one at a time on this thread.
     */
    static String deepNetworkScrape(int scrapes) {
        int width = 32;
        NeuralNetConfiguration.ListBuilder layers = new NeuralNetConfiguration.Builder().seed(42)
                .updater(new Sgd(0.01)).weightInit(WeightInit.XAVIER).list();
        for (int i = 0; i < 99; i++) {
            layers.layer(new DenseLayer.Builder().nIn(width).nOut(width).activation(Activation.TANH).build());
        }
        layers.layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nIn(width).nOut(10)
                .activation(Activation.SOFTMAX).build());
        MultiLayerNetwork net = new MultiLayerNetwork(layers.build());
        net.init();

        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        TrainingMetrics metrics = new TrainingMetrics();
        metrics.bindTo(registry);
        metrics.runStarted("bench-deep", RunSpec.defaults(WorkloadKind.FASHION_MLP));
        Guard guard = new Guard(net, "bench-deep", AdaptiveClip.defaults(), GuardSettings.defaults(),
                Clock.systemUTC());
        GradientProbe probe = GradientProbe.attach(net);
        probe.intercept(guard);
        metrics.attach(probe, guard);

        Nd4j.getRandom().setSeed(42);
        INDArray labels = Nd4j.zeros(64, 10);
        for (int i = 0; i < 64; i++) {
            labels.putScalar(i, i % 10, 1.0);
        }
        DataSet batch = new DataSet(Nd4j.rand(64, width), labels);
        for (int i = 0; i < 10; i++) {
            net.fit(batch);
        }
        long fitStart = System.nanoTime();
        for (int i = 0; i < 20; i++) {
            net.fit(batch);
        }
        double stepMs = (System.nanoTime() - fitStart) / 1e6 / 20;
        String body = "";
        for (int i = 0; i < 100; i++) {
            body = registry.scrape();
        }
        // Wall time includes waiting for a core on a busy machine; the thread's CPU time is the scrape's own cost.
        ThreadMXBean threads = ManagementFactory.getThreadMXBean();
        List<Long> wall = new ArrayList<>();
        List<Long> cpu = new ArrayList<>();
        for (int i = 0; i < scrapes; i++) {
            long c = threads.getCurrentThreadCpuTime();
            long s = System.nanoTime();
            body = registry.scrape();
            wall.add(System.nanoTime() - s);
            cpu.add(threads.getCurrentThreadCpuTime() - c);
        }
        long series = body.lines().filter(l -> !l.startsWith("#") && !l.isBlank()).count();
        return String.format(Locale.ROOT, "100-layer MLP in-process (%d layers probed, %.1f ms/step): %d scrapes of "
                        + "%d series, %d bytes; registry.scrape() wall p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, "
                        + "max %.2f ms; CPU p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms",
                probe.layerNames().size(), stepMs, scrapes, series, body.length(), ms(wall, 50), ms(wall, 90),
                ms(wall, 99), ms(wall, 100), ms(cpu, 50), ms(cpu, 90), ms(cpu, 99), ms(cpu, 100));
    }

    private static String loadAverage() {
        try {
            return Files.readString(Path.of("/proc/loadavg")).split(" ")[0];
        } catch (IOException e) {
            return "unknown";
        }
    }

    private static double median(List<Double> values) {
        List<Double> sorted = values.stream().sorted().toList();
        int n = sorted.size();
        return n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
    }

    /** The p-th percentile (nearest rank) in milliseconds; 100 is the maximum. */
    private static double ms(List<Long> nanos, int p) {
        List<Long> sorted;
        synchronized (nanos) {
            sorted = nanos.stream().sorted().toList();
        }
        if (sorted.isEmpty()) {
            return Double.NaN;
        }
        int rank = (int) Math.ceil(p / 100.0 * sorted.size());
        return sorted.get(Math.max(0, Math.min(sorted.size() - 1, rank - 1))) / 1e6;
    }
}
