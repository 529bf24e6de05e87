package dev.gradsentry.api;

import dev.gradsentry.config.GradSentryConfig;
import dev.gradsentry.training.FashionMnist;
import dev.gradsentry.training.RunRegistry;
import dev.gradsentry.training.RunSettings;
import dev.gradsentry.training.RunSpec;
import dev.gradsentry.training.RunState;
import dev.gradsentry.training.TrainingRun;
import dev.gradsentry.training.WorkloadKind;
import dev.gradsentry.training.Workloads;
import io.micrometer.core.instrument.Tags;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.enterprise.inject.Produces;
import jakarta.inject.Singleton;
import org.jboss.logging.Logger;
import org.nd4j.linalg.factory.Nd4j;

import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.Optional;
import java.util.function.Supplier;

/** Wires the plain-Java training and metrics classes into the Quarkus application and starts the demo run. */
@ApplicationScoped
public class ServiceBeans {

    private static final Logger LOG = Logger.getLogger(ServiceBeans.class);

    /** Quarkus binds every {@code MeterBinder} bean to its registry, so this one is not bound here. */
    @Produces
    @Singleton
    TrainingMetrics trainingMetrics(GradSentryConfig config) {
        return new TrainingMetrics(Tags.empty(), config.normWindow());
    }

    @Produces
    @Singleton
    RunRegistry runRegistry(GradSentryConfig config, TrainingMetrics metrics) {
        Workloads workloads = new Workloads(memoize(() -> FashionMnist.load(config.fashionMnistPath())),
                config.userDir());
        RunSettings settings = new RunSettings(config.progressInterval(), config.updateRatioEvery(),
                config.dataDir(), config.checkpoint().every(), config.checkpoint().keep(),
                config.steps().keepMib() * 1024L * 1024L);
        return new RunRegistry(workloads, metrics, settings, config.history(),
                ConfigBinding.guardPolicy(config.guard()), Clock.systemUTC());
    }

    /** Everything that can stop the start for a bad setting comes before the first line is logged. */
    void onStart(@Observes StartupEvent event, GradSentryConfig config, RunRegistry runs, BearerToken token,
                 RunFile runFile) {
        Optional<RunFile.Prepared> fromFile = runFile.source(config).map(s -> runFile.read(s, runs));
        Optional<RunSpec> demo = fromFile.isPresent() ? Optional.empty() : demo(config);
        if (token.configured()) {
            LOG.info("API token configured: POST, PUT and DELETE under /api need 'Authorization: Bearer <token>'");
        } else {
            LOG.warn("no API token configured (GRADSENTRY_API_TOKEN): POST, PUT and DELETE under /api are refused");
        }
        if (token.uploadConfigured()) {
            LOG.infof("upload token configured: PUT /api/files/{path} writes files of up to %d MiB under %s",
                    config.upload().maxMib(), config.userDir());
        }
        // The OpenMP pool is sized from OMP_NUM_THREADS when the native library loads; these calls cap ND4J's own
        // use of it, which recovers part but not all of the difference (measured on the MLP: 15 ms/step unset,
        // 9.5 ms with these calls, 7 ms with OMP_NUM_THREADS=1).
        Nd4j.getEnvironment().setMaxThreads(config.threads());
        Nd4j.getEnvironment().setMaxMasterThreads(config.threads());
        if (System.getenv("OMP_NUM_THREADS") == null) {
            LOG.warnf("OMP_NUM_THREADS is not set: start with OMP_NUM_THREADS=%d for faster training steps",
                    config.threads());
        }
        List<TrainingRun.Recovered> found = runs.recover();
        Optional<String> interrupted = found.stream().map(TrainingRun.Recovered::run)
                .filter(r -> r.status().state() == RunState.INTERRUPTED).reduce((a, b) -> b).map(TrainingRun::id);
        if (interrupted.isPresent() && config.resumeInterrupted()) {
            LOG.infof("resuming interrupted run %s (gradsentry.resume-interrupted=true)", interrupted.get());
            runs.resume(interrupted.get(), "interrupted", "resumed at startup (gradsentry.resume-interrupted=true)");
            return;
        }
        interrupted.ifPresent(id -> LOG.infof("run %s was interrupted; continue it with POST /api/runs/%s/resume",
                id, id));
        if (fromFile.isPresent()) {
            LOG.infof("starting the run of %s (%s); metrics at /q/metrics, status at /api/runs/current",
                    fromFile.get().source().name(), fromFile.get().source().key());
            runFile.start(runs, fromFile.get());
            return;
        }
        if (demo.isPresent()) {
            LOG.infof("starting the demo run (gradsentry.demo.enabled=false turns it off); metrics at /q/metrics, "
                    + "status at /api/runs/current");
            runs.start(demo.get());
        }
    }

    void onStop(@Observes ShutdownEvent event, RunRegistry runs) {
        runs.close();
    }

    /** The demo run, or empty when it is off; it trains at once, so its data must be there. */
    private static Optional<RunSpec> demo(GradSentryConfig config) {
        if (!config.demo().enabled()) {
            return Optional.empty();
        }
        RunSpec spec = ConfigBinding.demoSpec(config.demo());
        Optional<Path> missing = spec.workload() == WorkloadKind.ADDING ? Optional.empty()
                : FashionMnist.firstMissing(config.fashionMnistPath());
        if (missing.isPresent()) {
            throw new InvalidConfigException("gradsentry.fashion-mnist-path", missing.get() + " is missing; install "
                    + "the Debian package dataset-fashion-mnist, point the key at the directory of the four IDX "
                    + "files, or set gradsentry.demo.enabled=false");
        }
        return Optional.of(spec);
    }

    /** Loads once, on first use, and keeps the result: reading Fashion-MNIST takes about 1.6 s. */
    static <T> Supplier<T> memoize(Supplier<T> loader) {
        return new Supplier<>() {
            private T value;

            @Override
            public synchronized T get() {
                if (value == null) {
                    value = loader.get();
                }
                return value;
            }
        };
    }
}
