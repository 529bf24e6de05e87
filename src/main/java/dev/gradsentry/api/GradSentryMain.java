package dev.gradsentry.api;

import dev.gradsentry.config.GradSentryConfig;
import io.quarkus.runtime.Quarkus;
import io.quarkus.runtime.annotations.QuarkusMain;
import io.quarkus.runtime.configuration.ConfigurationException;
import io.quarkus.runtime.configuration.DurationConverter;
import io.quarkus.runtime.configuration.PathConverter;
import io.smallrye.config.ConfigValidationException;
import io.smallrye.config.PropertiesConfigSource;
import io.smallrye.config.SmallRyeConfig;
import io.smallrye.config.SmallRyeConfigBuilder;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Checks the {@code gradsentry.*} settings before Quarkus starts, so that a bad value ends the process with one line
 * naming the key and the fix and a non-zero exit code. Quarkus itself reports a value it cannot convert as a
 * two-line "Configuration validation failed" block, and a range check after startup under its banner; the same
 * checks still run at startup ({@link ConfigValidation}) for launches that do not go through this class, such as
 * tests.
 */
@QuarkusMain
public final class GradSentryMain {

    private static final Pattern CONVERSION = Pattern.compile("The config property (\\S+) with the config value "
            + "\"(.*)\" threw an Exception whilst being converted (?:SRCFG\\d+: )?(.*)", Pattern.DOTALL);

    private GradSentryMain() {
    }

    public static void main(String... args) {
        Optional<String> problem = configurationProblem();
        if (problem.isPresent()) {
            System.err.println(problem.get());
            System.exit(1);
        }
        Quarkus.run(args);
    }

    /** The first problem in the settings, as one line, or empty when they are fine. */
    static Optional<String> configurationProblem() {
        try {
            GradSentryConfig config = read().getConfigMapping(GradSentryConfig.class);
            ConfigValidation.check(config);
            BearerToken.load(config);
            return Optional.empty();
        } catch (ConfigValidationException e) {
            return Optional.of(oneLine(e.getProblem(0).getMessage()));
        } catch (ConfigurationException e) {
            return Optional.of(oneLine(e.getMessage()));
        }
    }

    /**
     * The settings from the sources Quarkus reads them from, with their precedence: system properties, environment,
     * {@code config/application.properties} in the working directory, then the packaged application.properties.
     */
    private static SmallRyeConfig read() {
        String profile = System.getProperty("quarkus.profile",
                Objects.requireNonNullElse(System.getenv("QUARKUS_PROFILE"), "prod"));
        SmallRyeConfigBuilder builder = new SmallRyeConfigBuilder()
                .withProfile(profile)
                .addDefaultSources()
                .addDefaultInterceptors()
                // Quarkus' own converters: "10s" is a Duration to Quarkus, not to plain SmallRye.
                .withConverter(Duration.class, 200, new DurationConverter())
                .withConverter(Path.class, 200, new PathConverter())
                .withMapping(GradSentryConfig.class)
                .withValidateUnknown(false);
        try {
            URL packaged = GradSentryMain.class.getClassLoader().getResource("application.properties");
            if (packaged != null) {
                builder.withSources(new PropertiesConfigSource(packaged, 250));
            }
            Path local = Path.of("config", "application.properties");
            if (Files.isRegularFile(local)) {
                builder.withSources(new PropertiesConfigSource(local.toUri().toURL(), 260));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return builder.build();
    }

    /** SmallRye's conversion message, rewritten to name the key, the value and what is expected. */
    static String oneLine(String message) {
        Matcher m = CONVERSION.matcher(message);
        if (m.find()) {
            String reason = m.group(3).strip();
            String hint = reason.toLowerCase().contains("duration") ? "; use a duration such as 10s, 500ms or PT10S"
                    : "";
            return ("invalid configuration " + m.group(1) + ": the value \"" + m.group(2) + "\" cannot be read ("
                    + reason + ")" + hint + "; README.md, Configuration, lists every key").replaceAll("\\s+", " ");
        }
        return message.replaceAll("\\s+", " ").strip();
    }
}
