package dev.gradsentry.core.clip;

import dev.gradsentry.core.detect.Signal;
import dev.gradsentry.core.probe.StepStats;

import java.util.Map;

/** No clipping: every step's gradient is applied as measured. The baseline the other policies are compared with. */
public final class NoClip implements ClipPolicy {

    public static final String NAME = "none";

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public ClipDecision decide(StepStats step, Signal signal) {
        return new ClipDecision.None();
    }

    @Override
    public Map<String, Double> settings() {
        return Map.of();
    }

    @Override
    public String toString() {
        return NAME;
    }
}
