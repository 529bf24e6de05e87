package dev.gradsentry.api;

import dev.gradsentry.config.GradSentryConfig;
import dev.gradsentry.core.intervene.GuardMode;
import dev.gradsentry.core.intervene.GuardSettings;
import dev.gradsentry.training.FashionMnist;
import dev.gradsentry.training.GuardPolicy;
import dev.gradsentry.training.RunSpec;

import io.quarkus.runtime.configuration.ConfigurationException;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Set;

/** Checks the {@code gradsentry.*} settings once at startup, so a bad value stops the service with one clear line. */
final class ConfigValidation {

    private ConfigValidation() {
    }

    static void check(GradSentryConfig config) {
        require(config.threads() >= 1 && config.threads() <= 256, "gradsentry.threads",
                "must be between 1 and 256, was " + config.threads());
        require(!config.progressInterval().isNegative() && !config.progressInterval().isZero(),
                "gradsentry.progress-interval", "must be a positive duration such as 10s");
        require(config.updateRatioEvery() >= 0, "gradsentry.update-ratio-every",
                "must be >= 0 (0 turns the update ratio off), was " + config.updateRatioEvery());
        guardPolicy(config);
        require(config.history() >= 1, "gradsentry.history", "must be >= 1, was " + config.history());
        require(config.checkpoint().every() >= 1, "gradsentry.checkpoint.every",
                "must be >= 1 (steps between checkpoints), was " + config.checkpoint().every());
        require(config.checkpoint().keep() >= 1, "gradsentry.checkpoint.keep",
                "must be >= 1 (checkpoint files kept per run), was " + config.checkpoint().keep());
        require(config.alerts().maxBodyBytes() >= 1024, "gradsentry.alerts.max-body-bytes",
                "must be at least 1024 (one Alertmanager alert is about 1 KB), was " + config.alerts().maxBodyBytes());
        if (config.demo().enabled()) {
            fashionMnist(config);
            try {
                ServiceBeans.demoSpec(config.demo());
            } catch (ProblemMappers.BadRequestProblem e) {
                throw new InvalidConfigException("gradsentry.demo." + kebab(e.field()), e.getMessage());
            } catch (RunSpec.InvalidSpecException e) {
                throw new InvalidConfigException("gradsentry.demo." + kebab(e.field()), e.getMessage());
            }
        }
    }

    /** The guard policy the configuration describes; a bad value is reported with its key. */
    static GuardPolicy guardPolicy(GradSentryConfig config) {
        GradSentryConfig.GuardConfig g = config.guard();
        GuardMode mode;
        try {
            mode = GuardMode.valueOf(g.mode().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new InvalidConfigException("gradsentry.guard.mode", "'" + g.mode() + "' is not valid; valid: auto, "
                    + "observe, off");
        }
        GuardSettings settings;
        try {
            settings = new GuardSettings(mode, g.snapshotEvery(), g.lrBackoffFactor(), g.lrRestoreAfter(),
                    g.maxRecoveries(), g.recoveryWindow(), g.extremeSpikeRatio(), g.spikeZ(), g.spikeWarmup(),
                    g.divergenceFactor(), g.divergencePatience(), g.maxSkippedShare());
        } catch (IllegalArgumentException e) {
            throw new InvalidConfigException("gradsentry.guard." + kebab(e.getMessage().split(" ")[0]),
                    e.getMessage());
        }
        try {
            return new GuardPolicy(g.policy(), g.policySettings(), settings);
        } catch (IllegalArgumentException e) {
            throw new InvalidConfigException(e.getMessage().startsWith("unknown clip policy")
                    ? "gradsentry.guard.policy" : "gradsentry.guard.policy-settings", e.getMessage());
        }
    }

    /** The demo trains on Fashion-MNIST at once: a missing data set is a configuration error, not a failed run. */
    private static void fashionMnist(GradSentryConfig config) {
        Path dir = config.fashionMnistPath();
        for (String name : FashionMnist.FILES) {
            if (!Files.isReadable(dir.resolve(name + ".gz")) && !Files.isReadable(dir.resolve(name))) {
                throw new InvalidConfigException("gradsentry.fashion-mnist-path", dir.resolve(name + ".gz")
                        + " is missing; install the Debian package dataset-fashion-mnist, point the key at the "
                        + "directory of the four IDX files, or set gradsentry.demo.enabled=false");
            }
        }
    }

    private static void require(boolean ok, String key, String message) {
        if (!ok) {
            throw new InvalidConfigException(key, message);
        }
    }

    private static String kebab(String camel) {
        return camel.replaceAll("([a-z])([A-Z])", "$1-$2").toLowerCase();
    }

    /**
     * A setting is out of range; the message names the key and the fix. A {@link ConfigurationException}, so that
     * Quarkus prints only its message, one line, when it stops at startup.
     */
    static final class InvalidConfigException extends ConfigurationException {
        InvalidConfigException(String key, String message) {
            super("invalid configuration " + key + ": " + message, Set.of(key));
        }
    }
}
