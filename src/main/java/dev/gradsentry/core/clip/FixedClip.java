package dev.gradsentry.core.clip;

import dev.gradsentry.core.detect.Signal;
import dev.gradsentry.core.probe.LayerStats;
import dev.gradsentry.core.probe.StepStats;

import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * Clipping with one fixed {@code threshold}, the same on every step whatever the gradient or the detectors' signal.
 * The {@link Kind} says what the threshold bounds:
 *
 * <ul>
 * <li>{@code value}: element-wise value clipping (Mikolov 2012, "Statistical Language Models Based on Neural
 * Networks", PhD thesis; Keras {@code clipvalue}; DL4J's {@code ClipElementWiseAbsoluteValue}): every gradient value
 * is clipped to {@code [-threshold, threshold]}. Unlike the norm clips it can change the gradient's direction.
 * Decision: {@code ClipDecision.Value(threshold)}.</li>
 * <li>{@code norm}: per-layer L2 norm clipping (DL4J's {@code ClipL2PerLayer}): each layer whose gradient norm, over
 * all its parameters, exceeds {@code threshold} is scaled by {@code threshold / layerNorm}. Decision:
 * {@code ClipDecision.LayerNorm} with {@code threshold} for every layer of the step (keys are the layer names of
 * {@link StepStats#layers()}).</li>
 * <li>{@code param-norm}: per-parameter L2 norm clipping (DL4J's {@code ClipL2PerParamType}): the gradient of each
 * parameter array (W, b, RW, ... of every layer) whose own L2 norm exceeds {@code threshold} is scaled by
 * {@code threshold / norm}. Decision: {@code ClipDecision.ParamNorm(threshold)}.</li>
 * <li>{@code global-norm}: global L2 norm clipping (Pascanu, Mikolov, Bengio 2013, "On the difficulty of training
 * recurrent neural networks"; PyTorch's {@code clip_grad_norm_}): when the L2 norm over all gradients exceeds
 * {@code threshold}, every gradient is scaled by {@code threshold / globalNorm}. Decision:
 * {@code ClipDecision.GlobalNorm(threshold)}.</li>
 * </ul>
 *
 * <p>The guard applies the decision. Thresholds are on the batch-averaged scale of {@link StepStats}. Keeps no
 * history.
 */
public final class FixedClip implements ClipPolicy {

    public static final double DEFAULT_THRESHOLD = 1.0;

    /** What the threshold bounds; each kind is a policy of its own in configuration and the REST API. */
    public enum Kind {
        VALUE("value") {
            @Override
            ClipDecision decision(double threshold, StepStats step) {
                return new ClipDecision.Value(threshold);
            }
        },
        NORM("norm") {
            @Override
            ClipDecision decision(double threshold, StepStats step) {
                Map<String, Double> thresholds = new HashMap<>();
                for (LayerStats layer : step.layers()) {
                    thresholds.put(layer.layer(), threshold);
                }
                return new ClipDecision.LayerNorm(thresholds);
            }
        },
        PARAM_NORM("param-norm") {
            @Override
            ClipDecision decision(double threshold, StepStats step) {
                return new ClipDecision.ParamNorm(threshold);
            }
        },
        GLOBAL_NORM("global-norm") {
            @Override
            ClipDecision decision(double threshold, StepStats step) {
                return new ClipDecision.GlobalNorm(threshold);
            }
        };

        private final String policyName;

        Kind(String policyName) {
            this.policyName = policyName;
        }

        /** The name used in configuration and the REST API, e.g. {@code global-norm}. */
        public String policyName() {
            return policyName;
        }

        /** The kind whose policy is called {@code policyName}, if any. */
        public static Optional<Kind> byPolicyName(String policyName) {
            for (Kind kind : values()) {
                if (kind.policyName.equals(policyName)) {
                    return Optional.of(kind);
                }
            }
            return Optional.empty();
        }

        abstract ClipDecision decision(double threshold, StepStats step);
    }

    private final Kind kind;
    private final double threshold;

    public FixedClip(Kind kind, double threshold) {
        this.kind = Objects.requireNonNull(kind, "kind");
        this.threshold = Setting.positive("threshold", threshold);
    }

    public static FixedClip value(double threshold) {
        return new FixedClip(Kind.VALUE, threshold);
    }

    public static FixedClip norm(double threshold) {
        return new FixedClip(Kind.NORM, threshold);
    }

    public static FixedClip paramNorm(double threshold) {
        return new FixedClip(Kind.PARAM_NORM, threshold);
    }

    public static FixedClip globalNorm(double threshold) {
        return new FixedClip(Kind.GLOBAL_NORM, threshold);
    }

    @Override
    public String name() {
        return kind.policyName();
    }

    @Override
    public ClipDecision decide(StepStats step, Signal signal) {
        return kind.decision(threshold, step);
    }

    @Override
    public Map<String, Double> settings() {
        return Map.of("threshold", threshold);
    }

    @Override
    public String toString() {
        return name() + settings();
    }
}
