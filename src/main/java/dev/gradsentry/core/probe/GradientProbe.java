package dev.gradsentry.core.probe;

import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.api.TrainingConfig;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.optimize.api.BaseTrainingListener;
import org.deeplearning4j.optimize.api.TrainingListener;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.conditions.Conditions;
import org.nd4j.linalg.learning.config.IUpdater;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Measures every step's gradients of a DL4J network: per-parameter and per-layer L2 norms of the batch-averaged
 * gradient, the global norm, the largest absolute value, the count of non-finite values, and after the update the
 * per-layer update/parameter ratio, the loss and the learning rate.
 *
 * <p>Lifecycle: {@link #attach(MultiLayerNetwork)} or {@link #attach(ComputationGraph)} adds the probe to the
 * network's listeners (call it after {@code init()}, and after any {@code setListeners}, which would replace it);
 * each {@code fit} then produces one {@link StepStats} per iteration, handed to every {@link StepObserver};
 * {@link #detach()} removes it again.
 *
 * <p>Gradients are read in {@code onGradientCalculation}, which DL4J calls after the backward pass and before its
 * updater divides by the batch size, clips and applies the optimizer: the probe therefore sees the raw gradient of
 * every step, including a step whose gradient is about to corrupt the weights. Not thread-safe: one probe per
 * network, driven by the training thread.
 */
public final class GradientProbe extends BaseTrainingListener {

    private final Model model;
    private final List<ProbedLayer> layers;
    private final List<StepObserver> observers = new CopyOnWriteArrayList<>();

    /** Gradient statistics of the step in flight, completed in {@code iterationDone}. */
    private List<LayerStats> pendingLayers;
    private double pendingGlobalNorm;
    private double pendingMaxAbs;
    private long pendingNonFinite;
    private int pendingBatchSize;
    private StepStats last;

    private GradientProbe(Model model, List<ProbedLayer> layers) {
        this.model = model;
        this.layers = List.copyOf(layers);
    }

    /** Attaches a new probe to an initialised network and returns it. */
    public static GradientProbe attach(MultiLayerNetwork network) {
        requireInitialised(network.getLayers(), "MultiLayerNetwork");
        List<ProbedLayer> probed = new ArrayList<>();
        for (Layer layer : network.getLayers()) {
            if (layer.numParams() > 0) {
                probed.add(ProbedLayer.of(ProbedLayer.multiLayerName(layer.getIndex(), layer.conf().getLayer()),
                        String.valueOf(layer.getIndex()), layer));
            }
        }
        GradientProbe probe = new GradientProbe(network, probed);
        network.addListeners(probe);
        return probe;
    }

    /** Attaches a new probe to an initialised graph and returns it; layers are named by their vertex names. */
    public static GradientProbe attach(ComputationGraph graph) {
        requireInitialised(graph.getLayers(), "ComputationGraph");
        List<ProbedLayer> probed = new ArrayList<>();
        for (Layer layer : graph.getLayers()) {
            if (layer.numParams() > 0) {
                String vertex = layer.conf().getLayer().getLayerName();
                probed.add(ProbedLayer.of(vertex, vertex, layer));
            }
        }
        GradientProbe probe = new GradientProbe(graph, probed);
        graph.addListeners(probe);
        return probe;
    }

    private static void requireInitialised(Layer[] layers, String kind) {
        if (layers == null) {
            throw new IllegalStateException(kind + " has no parameters yet: call init() before attaching the probe");
        }
    }

    /** Removes the probe from the network's listeners; observers stay registered. */
    public void detach() {
        if (model instanceof MultiLayerNetwork net) {
            net.setListeners(without(net.getListeners()));
        } else if (model instanceof ComputationGraph graph) {
            graph.setListeners(without(graph.getListeners()));
        }
    }

    private Collection<TrainingListener> without(Collection<TrainingListener> listeners) {
        List<TrainingListener> remaining = new ArrayList<>(listeners == null ? List.of() : listeners);
        remaining.remove(this);
        return remaining;
    }

    public GradientProbe addObserver(StepObserver observer) {
        observers.add(observer);
        return this;
    }

    public void removeObserver(StepObserver observer) {
        observers.remove(observer);
    }

    /** Display names of the probed (trainable) layers, in parameter order. */
    public List<String> layerNames() {
        return layers.stream().map(ProbedLayer::name).toList();
    }

    /** The most recent completed step, or null before the first one. */
    public StepStats lastStep() {
        return last;
    }

    @Override
    public void onGradientCalculation(Model m) {
        Map<String, INDArray> gradients = m.gradient().gradientForVariable();
        int batchSize = Math.max(1, (int) m.batchSize());
        List<LayerStats> measured = new ArrayList<>(layers.size());
        double globalSquares = 0;
        double maxAbs = 0;
        long nonFinite = 0;
        for (ProbedLayer layer : layers) {
            LayerStats stats = measure(layer, gradients, batchSize);
            measured.add(stats);
            globalSquares += stats.norm() * stats.norm();
            maxAbs = Math.max(maxAbs, stats.maxAbs());
            nonFinite += stats.nonFinite();
        }
        pendingLayers = measured;
        pendingGlobalNorm = Math.sqrt(globalSquares);
        pendingMaxAbs = maxAbs;
        pendingNonFinite = nonFinite;
        pendingBatchSize = batchSize;
    }

    private static LayerStats measure(ProbedLayer layer, Map<String, INDArray> gradients, int batchSize) {
        List<ParamStats> params = new ArrayList<>(layer.params().size());
        double squares = 0;
        long nonFinite = 0;
        boolean uniformDivisor = true;
        for (int i = 0; i < layer.params().size(); i++) {
            String key = layer.params().get(i);
            INDArray g = gradients.get(layer.gradientKeyPrefix() + "_" + key);
            if (g == null) {
                continue; // a frozen or pretrain-only parameter has no gradient this step
            }
            double divisor = layer.dividedByBatch().get(i) ? batchSize : 1.0;
            uniformDivisor &= layer.dividedByBatch().get(i);
            double norm = g.norm2Number().doubleValue() / divisor;
            long bad = Double.isFinite(norm) ? 0 : countNonFinite(g);
            params.add(new ParamStats(key, norm, bad));
            squares += norm * norm;
            nonFinite += bad;
        }
        double maxAbs = uniformDivisor
                ? layer.layer().getGradientsViewArray().amaxNumber().doubleValue() / batchSize
                : maxAbsPerParam(layer, gradients, batchSize);
        return new LayerStats(layer.name(), Math.sqrt(squares), maxAbs, nonFinite, Double.NaN, params);
    }

    private static double maxAbsPerParam(ProbedLayer layer, Map<String, INDArray> gradients, int batchSize) {
        double max = 0;
        for (int i = 0; i < layer.params().size(); i++) {
            INDArray g = gradients.get(layer.gradientKeyPrefix() + "_" + layer.params().get(i));
            if (g != null) {
                double divisor = layer.dividedByBatch().get(i) ? batchSize : 1.0;
                max = Math.max(max, g.amaxNumber().doubleValue() / divisor);
            }
        }
        return max;
    }

    /** Counts NaN and infinite values; only called when a norm already showed that some exist. */
    private static long countNonFinite(INDArray a) {
        return a.scan(Conditions.isNan()).longValue() + a.scan(Conditions.isInfinite()).longValue();
    }

    @Override
    public void iterationDone(Model m, int iteration, int epoch) {
        if (pendingLayers == null) {
            return; // an iteration without gradients (e.g. a listener attached mid-fit)
        }
        List<LayerStats> complete = new ArrayList<>(pendingLayers.size());
        for (int i = 0; i < layers.size(); i++) {
            complete.add(pendingLayers.get(i).withUpdateRatio(updateRatio(layers.get(i).layer())));
        }
        StepStats step = new StepStats(iteration, epoch, pendingBatchSize, m.score(),
                learningRate(iteration, epoch), pendingGlobalNorm, pendingMaxAbs, pendingNonFinite, complete);
        pendingLayers = null;
        last = step;
        for (StepObserver o : observers) {
            o.onStep(step);
        }
    }

    /**
     * After the step DL4J's gradient view holds the update it just subtracted from the parameters (the updater
     * transforms the gradient in place), so the ratio needs no copy of the old parameters.
     */
    private static double updateRatio(Layer layer) {
        double paramNorm = layer.params().norm2Number().doubleValue();
        if (paramNorm == 0) {
            return Double.NaN;
        }
        return layer.getGradientsViewArray().norm2Number().doubleValue() / paramNorm;
    }

    private double learningRate(int iteration, int epoch) {
        ProbedLayer first = layers.isEmpty() ? null : layers.get(0);
        if (first == null || first.params().isEmpty()) {
            return Double.NaN;
        }
        TrainingConfig config = first.layer().getConfig();
        IUpdater updater = config.getUpdaterByParam(first.params().get(0));
        return updater != null && updater.hasLearningRate()
                ? updater.getLearningRate(iteration, epoch)
                : Double.NaN;
    }
}
