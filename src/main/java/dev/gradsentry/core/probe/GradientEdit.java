package dev.gradsentry.core.probe;

import org.deeplearning4j.nn.api.Model;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.CustomOp;
import org.nd4j.linalg.api.ops.DynamicCustomOp;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

import java.util.List;
import java.util.Map;

/**
 * Changes one step's gradient in place, before DL4J's updater sees it, or arranges for the step to be undone.
 * Handed to a {@link GradientInterceptor} during {@code onGradientCalculation}; valid only during that call.
 *
 * <p>Thresholds are on the batch-averaged scale the probe reports; the edit converts them to DL4J's raw,
 * batch-summed gradients. Scale factors are scale-free.
 */
public final class GradientEdit {

    private final Model model;
    private final List<ProbedLayer> layers;
    private final Map<String, INDArray> gradients;
    private final int batchSize;
    private NetworkState restoreTo;

    GradientEdit(Model model, List<ProbedLayer> layers, Map<String, INDArray> gradients, int batchSize) {
        this.model = model;
        this.layers = layers;
        this.gradients = gradients;
        this.batchSize = batchSize;
    }

    /** Multiplies every gradient by {@code factor} (running statistics' updates are not gradients: see
     * {@link ProbedLayer#statistics}). */
    public void scaleAll(double factor) {
        if (layers.stream().allMatch(l -> l.statistics().isEmpty())) {
            model.getGradientsViewArray().muli(factor);
            return;
        }
        forEachParam((l, i, g, w) -> g.muli(factor));
    }

    /** Multiplies one layer's gradient by {@code factor}; unknown layer names are ignored. */
    public void scaleLayer(String layer, double factor) {
        for (ProbedLayer l : layers) {
            if (l.name().equals(layer)) {
                for (String p : l.params()) {
                    INDArray g = gradients.get(l.gradientKeyPrefix() + "_" + p);
                    if (g != null) {
                        g.muli(factor);
                    }
                }
            }
        }
    }

    /** Multiplies one parameter's gradient (e.g. layer {@code 1_lstm}, param {@code RW}) by {@code factor}; unknown
     * names and running statistics are ignored. */
    public void scaleParam(String layer, String param, double factor) {
        for (ProbedLayer l : layers) {
            if (l.name().equals(layer) && l.params().contains(param)) {
                INDArray g = gradients.get(l.gradientKeyPrefix() + "_" + param);
                if (g != null) {
                    g.muli(factor);
                }
            }
        }
    }

    /** Clips every batch-averaged gradient value to [-threshold, threshold]. */
    public void clipValue(double threshold) {
        forEachParam((l, i, g, w) -> {
            double raw = threshold * divisor(l, i);
            CustomOp op = DynamicCustomOp.builder("clipbyvalue").addInputs(g).callInplace(true)
                    .addFloatingPointArguments(-raw, raw).build();
            Nd4j.getExecutioner().exec(op);
        });
    }

    /**
     * Unit-wise adaptive clipping (Brock et al. 2021): a unit is a column of a parameter matrix (the weights into
     * one output unit) or one entry of a vector; its batch-averaged gradient norm is capped at
     * {@code lambda * max(|W_unit|, eps)}.
     */
    public void clipUnitWise(double lambda, double eps) {
        forEachParam((l, i, g, w) -> {
            double divisor = divisor(l, i);
            if (g.rank() == 2 && g.rows() > 1 && g.columns() > 1) {
                INDArray gNorm = g.norm2(0).divi(divisor);
                INDArray limit = Transforms.max(w.norm2(0), eps).muli(lambda);
                // scale = min(1, limit / gNorm), with 0/0 mapped to 1
                INDArray scale = Transforms.min(limit.div(Transforms.max(gNorm, 1e-30)), 1.0);
                g.muliRowVector(scale.reshape(1, scale.length()).castTo(g.dataType()));
            } else {
                INDArray flatG = g.reshape(g.length());
                INDArray gAbs = Transforms.abs(flatG).divi(divisor);
                INDArray limit = Transforms.max(Transforms.abs(w.reshape(w.length())), eps).muli(lambda);
                INDArray scale = Transforms.min(limit.div(Transforms.max(gAbs, 1e-30)), 1.0);
                flatG.muli(scale.castTo(g.dataType()));
            }
        });
    }

    /**
     * Undo this step: after the updater ran, the parameters, updater state and iteration counter are put back
     * exactly as they are now, as if this minibatch had never been seen.
     */
    public void skip() {
        if (restoreTo == null) {
            restoreTo = NetworkState.capture(model);
        }
    }

    /**
     * {@link #skip} for a step whose batch held NaN or infinite values; also forgets any state a recurrent layer would
     * carry from that batch into the next segment of the same sequences (truncated BPTT), where it is not finite.
     */
    public void skipBatch() {
        skip();
        TrainingBatch.forgetNonFiniteCarriedState(model);
    }

    /** After the updater ran, put the network into {@code state} (a rollback). Overrides {@link #skip}. */
    public void restore(NetworkState state) {
        restoreTo = state;
    }

    public int batchSize() {
        return batchSize;
    }

    NetworkState restoreTarget() {
        return restoreTo;
    }

    private double divisor(ProbedLayer l, int paramIndex) {
        return l.dividedByBatch().get(paramIndex) ? batchSize : 1.0;
    }

    private void forEachParam(ParamAction action) {
        for (ProbedLayer l : layers) {
            Map<String, INDArray> weights = l.layer().paramTable(false);
            for (int i = 0; i < l.params().size(); i++) {
                String p = l.params().get(i);
                INDArray g = gradients.get(l.gradientKeyPrefix() + "_" + p);
                if (g != null) {
                    action.apply(l, i, g, weights.get(p));
                }
            }
        }
    }

    @FunctionalInterface
    private interface ParamAction {
        void apply(ProbedLayer layer, int paramIndex, INDArray gradient, INDArray weights);
    }
}
