package dev.gradsentry.config;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.OptionalInt;
import java.util.OptionalLong;

/** Every {@code gradsentry.*} setting; validated once at startup by {@code ConfigValidation}. */
@ConfigMapping(prefix = "gradsentry")
public interface GradSentryConfig {

    /** Directory holding the four Fashion-MNIST IDX files (Debian package {@code dataset-fashion-mnist}). */
    @WithDefault("/usr/share/datasets/fashion-mnist")
    Path fashionMnistPath();

    /**
     * Native (OpenMP and BLAS) threads for ND4J. One is the default: on a 2-core machine the LSTM step ran 3.4x
     * slower with two threads than with one, and the REST endpoints and scrapes need the other core.
     */
    @WithDefault("1")
    int threads();

    /** How often a running run logs a progress line. */
    @WithDefault("10s")
    Duration progressInterval();

    /**
     * The probe computes each layer's update/parameter ratio on every n-th step: it needs two extra passes over all
     * parameters and drifts slowly; 1 computes it on every step, 0 never.
     */
    @WithDefault("10")
    int updateRatioEvery();

    /** Finished runs kept in memory for {@code GET /api/runs}. */
    @WithDefault("20")
    int history();

    /** Where runs keep their files: {@code runs/<id>/interventions.jsonl} and the run's checkpoints. */
    @WithDefault("data")
    Path dataDir();

    Checkpoints checkpoint();

    /**
     * At startup, resume the newest run an earlier process left {@code interrupted} (it died while training) instead
     * of waiting for {@code POST /api/runs/{id}/resume}; the demo run then does not start.
     */
    @WithDefault("false")
    boolean resumeInterrupted();

    /** How each run keeps checkpoints under {@code data-dir}. */
    interface Checkpoints {
        /** Steps between checkpoints; a run also writes one at its start, after each audited step, and at its end. */
        @WithDefault("500")
        int every();

        /** Checkpoint files kept per run, newest first. */
        @WithDefault("3")
        int keep();
    }

    Demo demo();

    GuardConfig guard();

    /**
     * The bearer token every mutating request ({@code POST}, {@code PUT}, {@code DELETE} under {@code /api}) must
     * carry; also read from the environment as {@code GRADSENTRY_API_TOKEN}. Unset (and no token file): every
     * mutation is refused, nothing is open by default.
     */
    Optional<String> apiToken();

    /** A file holding the token, e.g. a mounted Kubernetes Secret; used when {@code api-token} is unset. */
    Optional<Path> apiTokenFile();

    Alerts alerts();

    /** The Alertmanager webhook. */
    interface Alerts {
        /** Larger webhook bodies are refused with 413. */
        @WithDefault("1048576")
        int maxBodyBytes();

        /** When a {@code tighten-clipping} alert resolves, undo one tightening. */
        @WithDefault("false")
        boolean relaxOnResolve();
    }

    /** What the guard may do and how: see README, "The guard". */
    interface GuardConfig {
        /** {@code auto} acts, {@code observe} only records what it would do, {@code off} does neither. */
        @WithDefault("auto")
        String mode();

        /** Clipping policy: none, value, norm, param-norm, global-norm, autoclip, zclip, agc, adaptive. */
        @WithDefault("adaptive")
        String policy();

        /** The policy's settings by name, e.g. {@code gradsentry.guard.policy-settings.threshold=0.5}. */
        Map<String, Double> policySettings();

        @WithDefault("50")
        int snapshotEvery();

        @WithDefault("0.5")
        double lrBackoffFactor();

        @WithDefault("0")
        int lrRestoreAfter();

        @WithDefault("8")
        int maxRecoveries();

        @WithDefault("1000")
        int recoveryWindow();

        @WithDefault("1000")
        double extremeSpikeRatio();

        @WithDefault("4")
        double spikeZ();

        @WithDefault("20")
        int spikeWarmup();

        @WithDefault("3")
        double divergenceFactor();

        @WithDefault("3")
        int divergencePatience();

        @WithDefault("0.05")
        double maxSkippedShare();
    }

    /** The run started at boot, so that one command shows a monitored training run. */
    interface Demo {
        @WithDefault("true")
        boolean enabled();

        @WithDefault("fashion-mlp")
        String workload();

        Optional<String> optimizer();

        OptionalDouble learningRate();

        @WithDefault("20000")
        long steps();

        OptionalInt batchSize();

        OptionalLong seed();
    }
}
