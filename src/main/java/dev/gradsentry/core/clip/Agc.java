package dev.gradsentry.core.clip;

import dev.gradsentry.core.detect.Signal;
import dev.gradsentry.core.probe.StepStats;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Adaptive gradient clipping, AGC (Brock, De, Smith, Simonyan 2021, "High-Performance Large-Scale Image Recognition
 * Without Normalization", NFNets): for each unit i (an output column of a weight matrix, one entry of a bias), when
 * {@code |G_i| / max(|W_i|, eps) > lambda} the unit's gradient is scaled to {@code lambda * max(|W_i|, eps) / |G_i|}.
 *
 * <p>Decision: always {@code ClipDecision.UnitWise(lambda, eps)}. The rule needs the weights, which the statistics
 * do not carry, so the guard evaluates it on the arrays. Keeps no history. Defaults are the paper's: lambda 0.01
 * (its value for large batches), eps 1e-3.
 */
public final class Agc implements ClipPolicy {

    public static final String NAME = "agc";
    public static final double DEFAULT_LAMBDA = 0.01;
    public static final double DEFAULT_EPS = 1e-3;

    private final double lambda;
    private final double eps;
    private final ClipDecision decision;

    public Agc(double lambda, double eps) {
        this.lambda = Setting.positive("lambda", lambda);
        this.eps = Setting.positive("eps", eps);
        this.decision = new ClipDecision.UnitWise(lambda, eps);
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public ClipDecision decide(StepStats step, Signal signal) {
        return decision;
    }

    @Override
    public Map<String, Double> settings() {
        Map<String, Double> settings = new LinkedHashMap<>();
        settings.put("lambda", lambda);
        settings.put("eps", eps);
        return Collections.unmodifiableMap(settings);
    }

    @Override
    public String toString() {
        return NAME + settings();
    }
}
