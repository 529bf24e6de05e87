package dev.gradsentry.core.probe;

/**
 * Receives each completed step's statistics from a {@link GradientProbe}.
 *
 * <p>Called on the training thread right after DL4J applied the update, so implementations must be quick and must not
 * block: copy what you need and return.
 */
@FunctionalInterface
public interface StepObserver {
    void onStep(StepStats step);
}
