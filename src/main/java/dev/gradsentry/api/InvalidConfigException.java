package dev.gradsentry.api;

import io.quarkus.runtime.configuration.ConfigurationException;

import java.util.Set;

/**
 * A setting that the service cannot start with, found after the configuration was read (a record's rule, a missing
 * file); the message names the key and the fix. A {@link ConfigurationException}, which {@link GradSentryMain} prints
 * as one line before it exits.
 */
final class InvalidConfigException extends ConfigurationException {

    InvalidConfigException(String key, String message) {
        super("invalid configuration: " + key + ": " + message, Set.of(key));
    }
}
