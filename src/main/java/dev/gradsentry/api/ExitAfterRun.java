package dev.gradsentry.api;

import dev.gradsentry.config.GradSentryConfig;
import dev.gradsentry.core.ExternalName;
import dev.gradsentry.training.RunRegistry;
import dev.gradsentry.training.RunState;
import dev.gradsentry.training.RunStatus;
import io.quarkus.runtime.Quarkus;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import org.jboss.logging.Logger;

import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * {@code gradsentry.exit-after-run}: a process that trains one run, as a Kubernetes Job's pod does, exits once that run
 * ended, so the Job completes (or fails, and Kubernetes applies its backoff).
 */
@ApplicationScoped
public class ExitAfterRun {

    private static final Logger LOG = Logger.getLogger(ExitAfterRun.class);

    private final RunRegistry runs;
    private final GradSentryConfig config;
    private ScheduledExecutorService watcher;

    public ExitAfterRun(RunRegistry runs, GradSentryConfig config) {
        this.runs = runs;
        this.config = config;
    }

    void onStart(@Observes StartupEvent event) {
        Optional<Duration> delay = config.exitAfterRun();
        if (delay.isEmpty()) {
            return;
        }
        watcher = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "gradsentry-exit-after-run");
            t.setDaemon(true);
            return t;
        });
        watcher.scheduleWithFixedDelay(() -> check(delay.get()), 1, 1, TimeUnit.SECONDS);
    }

    void onStop(@Observes ShutdownEvent event) {
        if (watcher != null) {
            watcher.shutdownNow();
        }
    }

    private void check(Duration delay) {
        Optional<RunStatus> current = runs.current();
        if (current.isEmpty()) {
            return;
        }
        RunState state = current.get().state();
        if (!state.terminal() || state.resumable()) {
            return;
        }
        int code = state == RunState.FAILED ? 1 : 0;
        LOG.infof("run %s ended %s; exiting with code %d in %d ms (gradsentry.exit-after-run)", current.get().id(),
                ExternalName.of(state), code, delay.toMillis());
        watcher.shutdown();
        try {
            Thread.sleep(delay.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        Quarkus.asyncExit(code);
    }
}
