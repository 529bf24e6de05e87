package dev.gradsentry.core.probe;

import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.api.TrainingConfig;
import org.deeplearning4j.nn.conf.GradientNormalization;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.optimize.api.BaseTrainingListener;
import org.deeplearning4j.optimize.api.TrainingListener;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.conditions.Conditions;
import org.nd4j.linalg.learning.config.IUpdater;
import org.nd4j.linalg.ops.transforms.Transforms;

import java.util.ArrayList;
import java.util.Arrays;
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

    /**
     * The update/parameter ratio needs two extra passes over all parameters; it drifts slowly, and a scrape sees only
     * the latest value anyway, so by default it is sampled every 10th step (the other steps report NaN).
     */
    public static final int DEFAULT_UPDATE_RATIO_EVERY = 10;

    private final Model model;
    private final List<ProbedLayer> layers;
    private final List<StepObserver> observers = new CopyOnWriteArrayList<>();
    private final FlatArray gradientMemory = new FlatArray();
    private final FlatArray paramMemory = new FlatArray();

    /** Gradient statistics of the step in flight, completed in {@code iterationDone}. */
    private List<LayerStats> pendingLayers;
    private List<INDArray[]> pendingViews;
    private double pendingGlobalNorm;
    private double pendingMaxAbs;
    private long pendingNonFinite;
    private int pendingBatchSize;
    private StepStats last;
    private int updateRatioEvery = DEFAULT_UPDATE_RATIO_EVERY;
    private GradientInterceptor interceptor;
    private GradientEdit pendingEdit;

    private GradientProbe(Model model, List<ProbedLayer> layers) {
        this.model = model;
        this.layers = List.copyOf(layers);
    }

    /** Attaches a new probe to an initialised network and returns it. */
    public static GradientProbe attach(MultiLayerNetwork network) {
        List<ProbedLayer> probed = new ArrayList<>();
        for (Layer layer : NetworkState.layersOf(network)) {
            if (layer.numParams() > 0) {
                probed.add(ProbedLayer.of(ProbedLayer.multiLayerName(layer.getIndex(), layer.conf().getLayer()),
                        String.valueOf(layer.getIndex()), layer, network.conf().isMiniBatch()));
            }
        }
        GradientProbe probe = new GradientProbe(network, probed);
        network.addListeners(probe);
        return probe;
    }

    /** Attaches a new probe to an initialised graph and returns it; layers are named by their vertex names. */
    public static GradientProbe attach(ComputationGraph graph) {
        List<ProbedLayer> probed = new ArrayList<>();
        for (Layer layer : NetworkState.layersOf(graph)) {
            if (layer.numParams() > 0) {
                String vertex = layer.conf().getLayer().getLayerName();
                probed.add(ProbedLayer.of(vertex, vertex, layer, graph.conf().isMiniBatch()));
            }
        }
        GradientProbe probe = new GradientProbe(graph, probed);
        graph.addListeners(probe);
        return probe;
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

    /**
     * Computes the update/parameter ratio on every {@code n}th step (iteration divisible by n); 1 computes it on
     * every step, 0 never.
     */
    public GradientProbe updateRatioEvery(int n) {
        if (n < 0) {
            throw new IllegalArgumentException("updateRatioEvery must be >= 0, was " + n);
        }
        updateRatioEvery = n;
        return this;
    }

    /** Sets the hook that may edit each step's gradient before the update (the guard); null removes it. */
    public GradientProbe intercept(GradientInterceptor hook) {
        interceptor = hook;
        return this;
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
        boolean direct = gradientMemory.load(m.getGradientsViewArray());
        // A guard bounds each layer's update relative to its parameters, so it needs their norms before the update.
        boolean withParams = interceptor != null;
        boolean directParams = withParams && paramMemory.load(m.params());
        int iteration = NetworkState.iterationCount(m);
        int epoch = epochCount(m);
        int batchSize = Math.max(1, (int) m.batchSize());
        List<LayerStats> measured = new ArrayList<>(layers.size());
        List<INDArray[]> views = new ArrayList<>(layers.size());
        double globalSquares = 0;
        double maxAbs = 0;
        long nonFinite = 0;
        for (ProbedLayer layer : layers) {
            INDArray[] layerViews = new INDArray[layer.params().size()];
            LayerStats stats = measure(layer, gradients, batchSize, direct, layerViews);
            double gain = withParams ? StepGain.of(layer.updater(), iteration, epoch) : Double.NaN;
            stats = new LayerStats(stats.layer(), stats.norm(), stats.maxAbs(), stats.nonFinite(),
                    stats.updateRatio(), stats.params(),
                    withParams ? paramNorm(layer, layerViews, directParams) : Double.NaN, gain,
                    withParams ? StepGain.firstStep(layer.updater(), iteration, epoch) : Double.NaN,
                    appliedNorm(layer, stats, layerViews, batchSize),
                    withParams ? DecayRate.of(layer.regularization(), layer.updater(), gain, iteration, epoch) : 0);
            measured.add(stats);
            views.add(layerViews);
            globalSquares += stats.norm() * stats.norm();
            maxAbs = Math.max(maxAbs, stats.maxAbs());
            nonFinite += stats.nonFinite();
        }
        pendingLayers = measured;
        pendingViews = views;
        pendingGlobalNorm = Math.sqrt(globalSquares);
        pendingMaxAbs = maxAbs;
        pendingNonFinite = nonFinite;
        pendingBatchSize = batchSize;
        pendingEdit = null;
        if (interceptor != null) {
            double loss = m.score();
            // Whether the batch or the weights went wrong decides between skipping the step and rolling back.
            long nonFiniteData = nonFinite > 0 || !Double.isFinite(loss) ? TrainingBatch.nonFiniteValues(m) : 0;
            StepStats measuredStep = new StepStats(iteration, epoch, batchSize, loss,
                    learningRate(iteration, epoch), pendingGlobalNorm, maxAbs, nonFinite, measured, nonFiniteData);
            pendingEdit = new GradientEdit(m, layers, gradients, batchSize);
            interceptor.beforeUpdate(measuredStep, pendingEdit);
        }
    }

    private static int epochCount(Model m) {
        if (m instanceof MultiLayerNetwork net) {
            return net.getEpochCount();
        }
        return m instanceof ComputationGraph graph ? graph.getConfiguration().getEpochCount() : 0;
    }

    private LayerStats measure(ProbedLayer layer, Map<String, INDArray> gradients, int batchSize, boolean direct,
                               INDArray[] views) {
        List<ParamStats> params = new ArrayList<>(layer.params().size());
        double squares = 0;
        double maxAbs = 0;
        long nonFinite = 0;
        for (int i = 0; i < layer.params().size(); i++) {
            String key = layer.params().get(i);
            INDArray g = gradients.get(layer.gradientKeyPrefix() + "_" + key);
            if (g == null) {
                continue; // a frozen or pretrain-only parameter has no gradient this step
            }
            views[i] = g;
            double divisor = layer.dividedByBatch().get(i) ? batchSize : 1.0;
            double norm;
            double max;
            boolean fast = direct && gradientMemory.covers(g);
            if (fast) {
                norm = Math.sqrt(gradientMemory.sumOfSquaresAndMax(g.offset(), g.length())) / divisor;
                max = gradientMemory.lastMaxAbs() / divisor;
            } else {
                norm = g.norm2Number().doubleValue() / divisor;
                max = g.amaxNumber().doubleValue() / divisor;
            }
            long bad = Double.isFinite(norm) ? 0 : nonFinite(g, fast);
            params.add(new ParamStats(key, norm, bad));
            squares += norm * norm;
            if (max > maxAbs) {
                maxAbs = max;
            }
            nonFinite += bad;
        }
        for (String key : layer.statistics()) {
            // Not a gradient (see ProbedLayer#statistics), but a NaN in it still ruins the network.
            INDArray g = gradients.get(layer.gradientKeyPrefix() + "_" + key);
            if (g == null) {
                continue;
            }
            nonFinite += nonFinite(g, direct && gradientMemory.covers(g));
        }
        return new LayerStats(layer.name(), Math.sqrt(squares), maxAbs, nonFinite, Double.NaN, params);
    }

    /**
     * The norm of the gradient DL4J's updater applies once the layer's own {@code GradientNormalization} has acted on
     * it (DL4J divides by the minibatch first, so its threshold is on the batch-averaged scale the probe reports);
     * NaN where DL4J rescales it to unit norm whatever it was (see {@link LayerStats#appliedNorm}).
     */
    private static double appliedNorm(ProbedLayer layer, LayerStats stats, INDArray[] views, int batchSize) {
        GradientNormalization normalization = layer.normalization();
        double threshold = layer.layer().getConfig().getGradientNormalizationThreshold();
        return switch (normalization) {
            case None -> stats.norm();
            case RenormalizeL2PerLayer, RenormalizeL2PerParamType -> Double.NaN;
            case ClipL2PerLayer -> Math.min(stats.norm(), threshold);
            case ClipL2PerParamType -> {
                double squares = 0;
                for (ParamStats p : stats.params()) {
                    double n = Math.min(p.norm(), threshold);
                    squares += n * n;
                }
                yield Math.sqrt(squares);
            }
            case ClipElementWiseAbsoluteValue -> {
                if (stats.maxAbs() <= threshold) {
                    yield stats.norm(); // no value reaches the threshold
                }
                double squares = 0;
                for (int i = 0; i < views.length; i++) {
                    if (views[i] != null) {
                        double divisor = layer.dividedByBatch().get(i) ? batchSize : 1.0;
                        double n = Transforms.min(Transforms.abs(views[i], true), threshold * divisor, false)
                                .norm2Number().doubleValue() / divisor;
                        squares += n * n;
                    }
                }
                yield Math.sqrt(squares);
            }
        };
    }

    /** L2 norm of the layer's parameters; their views have the offsets of the gradient views. */
    private double paramNorm(ProbedLayer layer, INDArray[] gradientViews, boolean direct) {
        if (layer.params().isEmpty()) {
            return Double.NaN; // nothing trains it (a frozen layer): no scale for the guard to bound an update by
        }
        double squares = 0;
        for (INDArray v : gradientViews) {
            if (v == null) {
                continue;
            }
            if (!(direct && paramMemory.covers(v))) {
                return trainedParamNorm(layer);
            }
            squares += paramMemory.sumOfSquares(v.offset(), v.length());
        }
        return Math.sqrt(squares);
    }

    /** NaN and infinite values of a gradient view: from the heap copy when it covers the view ({@code fast}). */
    private long nonFinite(INDArray g, boolean fast) {
        return fast ? gradientMemory.nonFinite(g.offset(), g.length())
                : nonFiniteValues(g);
    }

    /** NaN and infinite values of {@code a}, two passes over it. */
    static long nonFiniteValues(INDArray a) {
        return a.scan(Conditions.isNan()).longValue() + a.scan(Conditions.isInfinite()).longValue();
    }

    @Override
    public void iterationDone(Model m, int iteration, int epoch) {
        if (pendingLayers == null) {
            return; // an iteration without gradients (e.g. a listener attached mid-fit)
        }
        NetworkState restore = pendingEdit == null ? null : pendingEdit.restoreTarget();
        pendingEdit = null;
        if (restore != null) {
            restore.restoreInIterationDone(m);
        }
        List<LayerStats> complete = pendingLayers;
        if (restore == null && updateRatioEvery > 0 && iteration % updateRatioEvery == 0) {
            // After the step DL4J's gradient view holds the update it just subtracted from the parameters (the
            // updater transforms the gradient in place), so the ratio needs no copy of the old parameters.
            boolean direct = gradientMemory.load(m.getGradientsViewArray()) && paramMemory.load(m.params());
            complete = new ArrayList<>(pendingLayers.size());
            for (int i = 0; i < layers.size(); i++) {
                complete.add(pendingLayers.get(i)
                        .withUpdateRatio(updateRatio(layers.get(i), pendingViews.get(i), direct)));
            }
        }
        StepStats step = new StepStats(iteration, epoch, pendingBatchSize, m.score(),
                learningRate(iteration, epoch), pendingGlobalNorm, pendingMaxAbs, pendingNonFinite, complete);
        pendingLayers = null;
        pendingViews = null;
        last = step;
        if (interceptor != null) {
            interceptor.afterUpdate(step, restore != null);
        }
        for (StepObserver o : observers) {
            o.onStep(step);
        }
    }

    /**
     * DL4J lays out a network's flattened parameters and gradients identically, so each gradient view's offset is
     * also the offset of its parameter.
     */
    private double updateRatio(ProbedLayer layer, INDArray[] views, boolean direct) {
        if (layer.params().isEmpty()) {
            return 0; // nothing trains it (a frozen layer): it did not move
        }
        double update = 0;
        double param = 0;
        for (INDArray v : views) {
            if (v == null) {
                continue;
            }
            if (direct && gradientMemory.covers(v)) {
                update += gradientMemory.sumOfSquares(v.offset(), v.length());
                param += paramMemory.sumOfSquares(v.offset(), v.length());
            } else {
                return fallbackUpdateRatio(layer, views);
            }
        }
        return param == 0 ? Double.NaN : Math.sqrt(update) / Math.sqrt(param);
    }

    /** {@link #updateRatio} by ND4J's reductions, where the heap copies do not cover the layer. */
    private static double fallbackUpdateRatio(ProbedLayer layer, INDArray[] views) {
        double paramNorm = trainedParamNorm(layer);
        if (paramNorm == 0) {
            return Double.NaN;
        }
        return norm(Arrays.asList(views)) / paramNorm;
    }

    /** The norm of the layer's trained parameters (not its running statistics) by ND4J's reductions. */
    private static double trainedParamNorm(ProbedLayer layer) {
        Map<String, INDArray> table = layer.layer().paramTable(false);
        return norm(layer.params().stream().map(table::get).toList());
    }

    /** The L2 norm of several arrays taken as one, by ND4J's reductions; null entries are absent. */
    private static double norm(List<INDArray> arrays) {
        double squares = 0;
        for (INDArray a : arrays) {
            if (a != null) {
                double n = a.norm2Number().doubleValue();
                squares += n * n;
            }
        }
        return Math.sqrt(squares);
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
