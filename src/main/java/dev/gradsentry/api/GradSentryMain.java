package dev.gradsentry.api;

import io.quarkus.runtime.ApplicationLifecycleManager;
import io.quarkus.runtime.Quarkus;
import io.quarkus.runtime.annotations.QuarkusMain;
import io.quarkus.runtime.configuration.ConfigurationException;
import io.smallrye.config.ConfigValidationException;

import java.util.Optional;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Starts the service. A setting it cannot start with ends the process with exit code 1 and one line naming the key
 * and what is valid: Quarkus reports the constraints declared on {@code GradSentryConfig} and values it cannot
 * convert as a {@link ConfigValidationException}, and {@link ConfigBinding} and the startup checks report the rest as
 * an {@link InvalidConfigException}; this prints the first problem's message. Any other failure is printed whole.
 */
@QuarkusMain
public final class GradSentryMain {

    static {
        // As Quarkus.run would, but before the logger below is created: it must be JBoss LogManager's.
        System.setProperty("java.util.logging.manager", "org.jboss.logmanager.LogManager");
    }

    /**
     * Hibernate Validator announces its version at INFO while it checks the configuration, before Quarkus applies its
     * log levels (which turn this logger down); a start that then fails prints that record above the one line. Held
     * here so that the level set on it stays.
     */
    private static final Logger VALIDATOR_VERSION = Logger.getLogger("org.hibernate.validator.internal.util.Version");

    private GradSentryMain() {
    }

    public static void main(String... args) {
        VALIDATOR_VERSION.setLevel(Level.WARNING);
        Quarkus.run(null, GradSentryMain::exit, args);
    }

    private static void exit(int code, Throwable failure) {
        if (failure != null) {
            Optional<String> setting = configurationProblem(failure);
            if (setting.isPresent()) {
                System.err.println(setting.get());
            } else {
                System.err.print("GradSentry failed to start: ");
                failure.printStackTrace();
            }
        }
        ApplicationLifecycleManager.getDefaultExitCodeHandler().accept(code, failure);
    }

    /** The one line for a setting the service cannot start with, or empty when the failure is something else. */
    static Optional<String> configurationProblem(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause()) {
            if (t instanceof ConfigValidationException invalid) {
                return Optional.of(oneLine("invalid configuration: " + withoutClassName(invalid.getProblem(0)
                        .getMessage())));
            }
            if (t instanceof ConfigurationException invalid) {
                return Optional.of(oneLine(invalid.getMessage()));
            }
        }
        return Optional.empty();
    }

    /**
     * SmallRye keeps a problem's exception only as its {@code toString()}: the class name, {@code ": "}, the message
     * ({@link Throwable#toString()}). The class name says nothing to the user, so it goes; text that does not start
     * with a throwable's class name stays as it is.
     */
    static String withoutClassName(String problem) {
        int colon = problem.indexOf(": ");
        if (colon > 0) {
            try {
                if (Throwable.class.isAssignableFrom(Class.forName(problem.substring(0, colon)))) {
                    return problem.substring(colon + 2);
                }
            } catch (ClassNotFoundException | LinkageError e) {
                // not a class name
            }
        }
        return problem;
    }

    private static String oneLine(String message) {
        return message.replaceAll("\\s+", " ").strip() + "; docs/configuration.md lists every key";
    }
}
