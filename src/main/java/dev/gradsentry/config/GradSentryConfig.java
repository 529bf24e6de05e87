package dev.gradsentry.config;

import dev.gradsentry.metrics.GradientMeters;
import dev.gradsentry.training.FashionMnist;
import dev.gradsentry.training.RunSettings;
import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithConverter;
import io.smallrye.config.WithDefault;
import io.smallrye.config.WithParentName;
import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.Pattern;
import org.hibernate.validator.constraints.Range;
import org.hibernate.validator.constraints.time.DurationMax;
import org.hibernate.validator.constraints.time.DurationMin;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;

/**
 * Every {@code gradsentry.*} setting, with its default and its rule, checked when the configuration is read: a bad
 * value stops the service with one line naming the key. The guard's and the demo run's keys are the fields of the
 * records they configure ({@code GuardSettings}, {@code RunSpec}); {@code ConfigBinding} maps them and the records
 * check them. docs/configuration.md lists every key.
 */
@ConfigMapping(prefix = "gradsentry")
public interface GradSentryConfig {

    /** Directory holding the four Fashion-MNIST IDX files (Debian package {@code dataset-fashion-mnist}). */
    @WithDefault(FashionMnist.DEBIAN_DIR)
    Path fashionMnistPath();

    /**
     * Native (OpenMP and BLAS) threads for ND4J. One is the default: on a 2-core machine the LSTM step ran 3.4x
     * slower with two threads than with one, and the REST endpoints and scrapes need the other core.
     */
    @WithDefault("1")
    @Range(min = 1, max = 256)
    int threads();

    /** How often a running run logs a progress line. */
    @WithDefault("10s")
    @WithConverter(DurationText.class)
    @DurationMin(millis = 1, message = "must be a positive duration such as 10s")
    Duration progressInterval();

    /**
     * The gauges {@code gradsentry_*_gradient_norm_window_max} and {@code _min} cover at least this much time before a
     * scrape (and at most a third more), so a spike in any step between two scrapes shows in the second. Set it to at
     * least the scrape interval; longer keeps a spike visible for longer.
     */
    @WithDefault("" + GradientMeters.DEFAULT_WINDOW_SECONDS + "s")
    @WithConverter(DurationText.class)
    @DurationMin(seconds = 1, message = "must be at least 1s and at least the Prometheus scrape interval, such as 15s")
    @DurationMax(hours = 1, message = "must be at most 1h; a window longer than a few scrape intervals hides recovery")
    Duration normWindow();

    /**
     * The probe computes each layer's update/parameter ratio on every n-th step: it needs two extra passes over all
     * parameters and drifts slowly; 1 computes it on every step, 0 never.
     */
    @WithDefault("10")
    @Min(value = 0, message = "must be >= 0 (0 turns the update ratio off)")
    int updateRatioEvery();

    /** Finished runs kept in memory for {@code GET /api/runs}. */
    @WithDefault("20")
    @Min(1)
    int history();

    /** Where runs keep their files: {@code runs/<id>/interventions.jsonl} and the run's checkpoints. */
    @WithDefault("data")
    Path dataDir();

    Checkpoints checkpoint();

    Steps steps();

    /** Each run's per-step history under {@code data-dir}: {@code runs/<id>/steps/}, read by GET /api/runs/{id}/steps. */
    interface Steps {
        /**
         * The most one run's history may take on disk, in MiB; past it the oldest steps are deleted (an eighth of it
         * at a time). A step of a 100-layer network takes 876 to 1,276 bytes, one of the 3-layer demo MLP 62 to 74.
         */
        @WithDefault("" + RunSettings.DEFAULT_STEPS_KEEP_MIB)
        @Range(min = 1, max = 1048576, message = "must be between 1 and 1048576 (MiB of step history kept per run)")
        int keepMib();
    }

    /**
     * The user directory: the models and data files of runs of workload {@code user} are read from under it, and a
     * path that leaves it is refused. By default {@code user} under {@link #dataDir()}: {@code /data/user} in the
     * container, where you mount your files.
     */
    @WithDefault("${gradsentry.data-dir:data}/user")
    Path userDir();

    /**
     * A run file: a JSON document with the fields {@code POST /api/runs} takes, started at boot instead of the demo
     * run ({@code GRADSENTRY_RUN_FILE=/data/user/run.json}). Anything wrong with it stops the start with one line.
     */
    Optional<Path> runFile();

    /**
     * The run file's JSON itself, for a run that needs no file of its own
     * ({@code GRADSENTRY_RUN='{"model": "model.json", "data": {"train": "data.csv", "task": "classification"}}'}).
     */
    Optional<String> run();

    /**
     * At startup, resume the newest run an earlier process left {@code interrupted} (it died while training) instead
     * of waiting for {@code POST /api/runs/{id}/resume}; the demo run then does not start.
     */
    @WithDefault("false")
    @WithConverter(BooleanText.class)
    boolean resumeInterrupted();

    /**
     * For one run per process (a Kubernetes Job's pod): once the run started at boot ends (finished, failed or
     * stopped; a paused run waits for a person or an alert to resume it), the process exits this much later, so that
     * Prometheus scrapes the run's final state first: exit code 0, or 1 when the run failed. Unset (the default), the
     * service keeps serving.
     */
    Optional<@DurationMin(millis = 0, message = "must be a duration >= 0 such as 15s") Duration> exitAfterRun();

    /** How each run keeps checkpoints under {@code data-dir}. */
    interface Checkpoints {
        /** Steps between checkpoints; a run also writes one at its start, after each audited step, and at its end. */
        @WithDefault("" + RunSettings.DEFAULT_CHECKPOINT_EVERY)
        @Min(value = 1, message = "must be >= 1 (steps between checkpoints)")
        int every();

        /** Checkpoint files kept per run, newest first. */
        @WithDefault("" + RunSettings.DEFAULT_CHECKPOINT_KEEP)
        @Min(value = 1, message = "must be >= 1 (checkpoint files kept per run)")
        int keep();
    }

    Demo demo();

    Guard guard();

    /**
     * The bearer token every mutating request ({@code POST}, {@code PUT}, {@code DELETE} under {@code /api}) must
     * carry; also read from the environment as {@code GRADSENTRY_API_TOKEN}. Unset (and no token file): every
     * mutation is refused, nothing is open by default.
     */
    Optional<String> apiToken();

    /** A file holding the token, e.g. a mounted Kubernetes Secret; used when {@code api-token} is unset. */
    Optional<Path> apiTokenFile();

    Upload upload();

    /**
     * {@code PUT /api/files/{path}}: a model or data file written under {@link #userDir()}, for a run to name. It has
     * a token of its own, not {@link #apiToken()}: the API token is also Alertmanager's (the webhook), and what may
     * back off a learning rate need not be able to place files that DL4J will read.
     */
    interface Upload {
        /**
         * The bearer token an upload must carry; also read from the environment as {@code GRADSENTRY_UPLOAD_TOKEN}.
         * Unset (and no token file): uploads are refused (403), nothing is writable by default.
         */
        Optional<String> token();

        /** A file holding the upload token, e.g. a mounted Kubernetes Secret; used when {@code token} is unset. */
        Optional<Path> tokenFile();

        /**
         * The largest file an upload may write, in MiB; larger ones are answered 413. The file is held in memory
         * while it arrives (one upload at a time) and must arrive whole within {@code gradsentry.http.body-timeout}.
         */
        @WithDefault("" + DEFAULT_UPLOAD_MAX_MIB)
        @Range(min = 1, max = 1024, message = "must be between 1 and 1024 (MiB an uploaded file may have)")
        int maxMib();
    }

    /** The default of {@link Upload#maxMib()}: room for Fashion-MNIST's training images (45 MiB unpacked). */
    int DEFAULT_UPLOAD_MAX_MIB = 64;

    Alerts alerts();

    Http http();

    /**
     * How request bodies under {@code /api} are read: on the event loop, whole, before a worker thread is taken, so
     * that slow or stalled clients hold no thread (docs/operations.md).
     */
    interface Http {
        /** A body must arrive whole within this time, else the request is answered 408 and the connection closed. */
        @WithDefault("10s")
        @WithConverter(DurationText.class)
        @DurationMin(millis = 1, message = "must be a positive duration such as 10s")
        Duration bodyTimeout();

        /** Bodies read at once; a request over this is answered 503 at once. */
        @WithDefault("32")
        @Range(min = 1, max = 10000)
        int maxBodyReads();
    }

    /** The Alertmanager webhook. */
    interface Alerts {
        /** Larger webhook bodies are refused with 413. */
        @WithDefault("1048576")
        @Min(value = 1024, message = "must be at least 1024 (one Alertmanager alert is about 1 KB)")
        int maxBodyBytes();

        /**
         * What Prometheus calls this service: the {@code instance} label of its scrape target, e.g. {@code
         * 10.1.2.3:8080} (in Kubernetes {@code $(POD_IP):8080}). When set, an alert about another instance is
         * ignored even if it names a run training here; unset, only the run id is compared (it is unique).
         */
        Optional<@Pattern(regexp = "\\S+", message = "must be host:port as Prometheus labels the target, without "
                + "spaces") String> instance();

        /** When a {@code tighten-clipping} alert resolves, undo one tightening (webhook only: a pull sees no resolution). */
        @WithDefault("false")
        @WithConverter(BooleanText.class)
        boolean relaxOnResolve();

        Pull pull();

        /**
         * Pull mode, for many services behind one Kubernetes Service, where Alertmanager's webhook would reach any one
         * of them: every {@code interval} while a run trains, the service asks Alertmanager's API v2 for the active
         * alerts labelled with that run (and this {@code instance}, when set) and applies them as the webhook would.
         */
        interface Pull {
            /** Alertmanager's base URL, e.g. {@code http://alertmanager:9093}; unset (the default), pull mode is off. */
            Optional<@Pattern(regexp = "https?://[^\\s?#]+", message = "must be the http:// or https:// URL of "
                    + "Alertmanager without query, such as http://alertmanager:9093") String> url();

            /** Between two polls; also the most one poll may take. */
            @WithDefault("5s")
            @WithConverter(DurationText.class)
            @DurationMin(seconds = 1, message = "must be at least 1s, such as 5s")
            @DurationMax(minutes = 5, message = "must be at most 5m; an alert's action helps only while the trouble "
                    + "lasts")
            Duration interval();
        }
    }

    /**
     * What the guard may do and how (docs/guard.md). Besides the clipping policy, every field of
     * {@code GuardSettings} is a key in kebab case, {@code gradsentry.guard.spike-z=4} for {@code spikeZ}, and one
     * left out keeps {@code GuardSettings.defaults()}.
     */
    interface Guard {
        /** Clipping policy: none, value, norm, param-norm, global-norm, autoclip, zclip, agc, adaptive. */
        Optional<String> policy();

        /** The policy's settings by name, e.g. {@code gradsentry.guard.policy-settings.threshold=0.5}. */
        Map<String, Double> policySettings();

        /** Every key under {@code gradsentry.guard}: the policy's two and {@code GuardSettings}' fields. */
        @WithParentName
        Map<String, String> keys();
    }

    /**
     * The run started at boot, so that one command shows a monitored training run. Besides {@code enabled}, every
     * field of {@code RunSpec} is a key in kebab case ({@code gradsentry.demo.learning-rate=0.05}); {@code workload}
     * picks the defaults of the others.
     */
    interface Demo {
        @WithDefault("true")
        @WithConverter(BooleanText.class)
        boolean enabled();

        /** Every key under {@code gradsentry.demo}: {@code enabled} and {@code RunSpec}'s fields. */
        @WithParentName
        Map<String, String> keys();
    }
}
