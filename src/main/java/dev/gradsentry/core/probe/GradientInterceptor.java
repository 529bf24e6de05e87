package dev.gradsentry.core.probe;

/**
 * Acts on a step between the probe's measurement and DL4J's update: the hook the guard uses to clip, skip or roll
 * back. A probe has at most one.
 */
public interface GradientInterceptor {

    /**
     * Called in {@code onGradientCalculation}, after the probe measured the raw gradient and before the updater runs.
     *
     * @param measured the step's statistics, its update ratios not yet known
     * @param edit     changes this step's gradient in place, or undoes the step
     */
    void beforeUpdate(StepStats measured, GradientEdit edit);

    /**
     * Called in {@code iterationDone}, after the update was applied (or undone), before the step's observers.
     *
     * @param step   the completed statistics
     * @param undone true when the step's update was undone by {@link GradientEdit#skip} or a restore
     */
    void afterUpdate(StepStats step, boolean undone);
}
