package dev.gradsentry.api;

import dev.gradsentry.config.GradSentryConfig;
import dev.gradsentry.training.RunSpec;

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
        require(config.history() >= 1, "gradsentry.history", "must be >= 1, was " + config.history());
        if (config.demo().enabled()) {
            try {
                ServiceBeans.demoSpec(config.demo());
            } catch (ProblemMappers.BadRequestProblem e) {
                throw new InvalidConfigException("gradsentry.demo." + kebab(e.field()), e.getMessage());
            } catch (RunSpec.InvalidSpecException e) {
                throw new InvalidConfigException("gradsentry.demo." + kebab(e.field()), e.getMessage());
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

    /** A setting is out of range; the message names the key and the fix. */
    static final class InvalidConfigException extends RuntimeException {
        InvalidConfigException(String key, String message) {
            super("invalid configuration " + key + ": " + message);
        }
    }
}
