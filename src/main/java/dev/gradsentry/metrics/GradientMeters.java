package dev.gradsentry.metrics;

import dev.gradsentry.core.probe.LayerStats;
import dev.gradsentry.core.probe.ParamStats;
import dev.gradsentry.core.probe.StepObserver;
import dev.gradsentry.core.probe.StepStats;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.binder.MeterBinder;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.LongSupplier;
import java.util.function.ToDoubleFunction;

/**
 * The meters of each step's gradient: per layer and parameter, global, the loss and learning rate, and counts of
 * steps. Gauges read, at scrape time, the latest {@link StepStats} this binder holds; the training thread only swaps
 * that reference, so a scrape never waits for a step and a step never waits for a scrape.
 *
 * <p>Labels are bounded: {@code layer} and {@code param} come from the network's structure.
 */
public final class GradientMeters implements MeterBinder, StepObserver {

    public static final String LAYER_NORM = "gradsentry.layer.gradient.norm";
    public static final String PARAM_NORM = "gradsentry.param.gradient.norm";
    public static final String LAYER_MAX_ABS = "gradsentry.layer.gradient.max.abs";
    public static final String LAYER_NONFINITE = "gradsentry.layer.gradient.nonfinite";
    public static final String LAYER_UPDATE_RATIO = "gradsentry.layer.update.ratio";
    public static final String GLOBAL_NORM = "gradsentry.global.gradient.norm";
    public static final String LAYER_NORM_WINDOW_MAX = "gradsentry.layer.gradient.norm.window.max";
    public static final String LAYER_NORM_WINDOW_MIN = "gradsentry.layer.gradient.norm.window.min";
    public static final String GLOBAL_NORM_WINDOW_MAX = "gradsentry.global.gradient.norm.window.max";
    public static final String GLOBAL_NORM_WINDOW_MIN = "gradsentry.global.gradient.norm.window.min";
    public static final String LAYER_NONFINITE_STEPS = "gradsentry.layer.nonfinite.steps";
    public static final String GLOBAL_NORM_HISTOGRAM = "gradsentry.step.gradient.norm";
    public static final String LOSS = "gradsentry.loss";
    public static final String LEARNING_RATE = "gradsentry.learning.rate";
    public static final String STEPS = "gradsentry.steps";
    public static final String NONFINITE_STEPS = "gradsentry.nonfinite.steps";

    /**
     * The default time the window max and min gauges cover: Prometheus' most common scrape interval. The service's
     * {@code gradsentry.norm-window} defaults to it too.
     */
    public static final int DEFAULT_WINDOW_SECONDS = 15;

    /** Log-spaced from 1e-4 to 1e6: gradient norms span many orders of magnitude, most of all when they explode. */
    private static final double[] NORM_BUCKETS = {1e-4, 1e-3, 1e-2, 0.03, 0.1, 0.3, 1, 3, 10, 30, 100, 1e3, 1e4, 1e6};

    private final Tags extraTags;
    private final Duration window;
    private final LongSupplier nanoClock;
    /** Series 0 is the global norm, series i + 1 layer i. */
    private volatile NormWindow norms;
    private volatile StepStats latest;
    private volatile LayerIndex layerIndex = LayerIndex.EMPTY;
    /** The probe samples update ratios on some steps only; the gauge shows the latest sample per layer. */
    private volatile double[] updateRatios = new double[0];
    private final List<Meter.Id> layerMeters = new ArrayList<>();
    /** Set in {@link #bindTo} after the meters every step updates: a step that sees it finds them registered. */
    private volatile MeterRegistry registry;
    private Counter steps;
    private Counter nonFiniteSteps;
    private Counter[] layerNonFiniteSteps = new Counter[0];
    private DistributionSummary normHistogram;

    /**
     * @param extraTags added to every meter, e.g. a deployment label
     * @param window    the window max and min gauges cover at least this much time before a scrape; at least the
     *                  scrape interval, so that no step falls between two scrapes
     */
    public GradientMeters(Tags extraTags, Duration window) {
        this(extraTags, window, System::nanoTime);
    }

    GradientMeters(Tags extraTags, Duration window, LongSupplier nanoClock) {
        this.extraTags = extraTags;
        this.window = window;
        this.nanoClock = nanoClock;
        this.norms = new NormWindow(window, 1);
    }

    @Override
    public void bindTo(MeterRegistry registry) {
        steps = Counter.builder(STEPS).tags(extraTags)
                .description("Training steps (DL4J iterations) completed").register(registry);
        nonFiniteSteps = Counter.builder(NONFINITE_STEPS).tags(extraTags)
                .description("Steps whose loss or gradient held a NaN or infinite value").register(registry);
        normHistogram = DistributionSummary.builder(GLOBAL_NORM_HISTOGRAM).tags(extraTags)
                .description("Distribution of the per-step global L2 norm of the batch-averaged gradient")
                .serviceLevelObjectives(NORM_BUCKETS).register(registry);
        stepGauge(registry, GLOBAL_NORM,
                "Global L2 norm of the last step's batch-averaged gradient over all parameters", StepStats::globalNorm);
        String span = windowSpan();
        Gauge.builder(GLOBAL_NORM_WINDOW_MAX, this, m -> m.norms.max(0, m.nanoClock.getAsLong())).tags(extraTags)
                .description("Largest per-step global L2 norm of the batch-averaged gradient" + span)
                .register(registry);
        Gauge.builder(GLOBAL_NORM_WINDOW_MIN, this, m -> m.norms.min(0, m.nanoClock.getAsLong())).tags(extraTags)
                .description("Smallest per-step global L2 norm of the batch-averaged gradient" + span)
                .register(registry);
        stepGauge(registry, LOSS, "Minibatch loss of the last training step", StepStats::loss);
        stepGauge(registry, LEARNING_RATE, "Learning rate of the last training step", StepStats::learningRate);
        this.registry = registry;
        // Steps taken before binding registered no layer meters: the next step registers them.
        layerIndex = LayerIndex.EMPTY;
    }

    private String windowSpan() {
        return " over the last " + window.toMillis() / 1000.0 + " s or a little more (gradsentry.norm-window); NaN "
                + "when no step was taken in it";
    }

    private void stepGauge(MeterRegistry registry, String name, String description,
                           ToDoubleFunction<StepStats> value) {
        Gauge.builder(name, this, m -> m.latest == null ? Double.NaN : value.applyAsDouble(m.latest))
                .tags(extraTags).description(description).register(registry);
    }

    /** A new run: no step of it yet. */
    public void runStarted() {
        latest = null;
        Arrays.fill(updateRatios, Double.NaN);
    }

    @Override
    public void onStep(StepStats step) {
        if (!layerIndex.matches(step)) {
            registerLayers(step);
        }
        double[] ratios = updateRatios;
        for (int i = 0; i < ratios.length && i < step.layers().size(); i++) {
            double r = step.layers().get(i).updateRatio();
            if (!Double.isNaN(r)) {
                ratios[i] = r;
            }
        }
        NormWindow w = norms;
        long now = nanoClock.getAsLong();
        int slot = w.slot(now);
        w.observe(slot, 0, step.globalNorm());
        for (int i = 0; i + 1 < w.series(); i++) {
            w.observe(slot, i + 1, step.layers().get(i).norm());
        }
        w.publish(now);
        latest = step;
        if (registry == null) {
            return;
        }
        steps.increment();
        if (!step.finite()) {
            nonFiniteSteps.increment();
        }
        Counter[] layerNonFinite = layerNonFiniteSteps;
        for (int i = 0; i < layerNonFinite.length; i++) {
            if (step.layers().get(i).nonFinite() > 0) {
                layerNonFinite[i].increment();
            }
        }
        if (Double.isFinite(step.globalNorm())) {
            normHistogram.record(step.globalNorm());
        }
    }

    /** The per-layer gauges follow the network's structure: a run with other layers replaces them. */
    private synchronized void registerLayers(StepStats step) {
        LayerIndex index = LayerIndex.of(step);
        norms = new NormWindow(window, step.layers().size() + 1);
        layerNonFiniteSteps = new Counter[0];
        MeterRegistry registry = this.registry;
        if (registry != null) {
            layerMeters.forEach(registry::remove);
            layerMeters.clear();
            Counter[] layerNonFinite = new Counter[step.layers().size()];
            String span = windowSpan();
            for (int i = 0; i < step.layers().size(); i++) {
                LayerStats l = step.layers().get(i);
                int li = i;
                layerMeters.add(Gauge.builder(LAYER_NORM_WINDOW_MAX, this, m -> m.norms.max(li + 1,
                                m.nanoClock.getAsLong())).tags(extraTags).tag("layer", l.layer())
                        .description("Largest per-step L2 norm of the layer's batch-averaged gradient" + span)
                        .register(registry).getId());
                layerMeters.add(Gauge.builder(LAYER_NORM_WINDOW_MIN, this, m -> m.norms.min(li + 1,
                                m.nanoClock.getAsLong())).tags(extraTags).tag("layer", l.layer())
                        .description("Smallest per-step L2 norm of the layer's batch-averaged gradient" + span)
                        .register(registry).getId());
                layerNonFinite[i] = Counter.builder(LAYER_NONFINITE_STEPS).tags(extraTags).tag("layer", l.layer())
                        .description("Steps whose gradient held a NaN or infinite value in the layer")
                        .register(registry);
                layerMeters.add(layerNonFinite[i].getId());
                layerMeters.add(layerGauge(LAYER_NORM, l.layer(), li, LayerStats::norm,
                        "L2 norm of the layer's batch-averaged gradient in the last step"));
                layerMeters.add(layerGauge(LAYER_MAX_ABS, l.layer(), li, LayerStats::maxAbs,
                        "Largest absolute batch-averaged gradient value in the layer in the last step"));
                layerMeters.add(layerGauge(LAYER_NONFINITE, l.layer(), li, LayerStats::nonFinite,
                        "NaN or infinite gradient values in the layer in the last step"));
                layerMeters.add(Gauge.builder(LAYER_UPDATE_RATIO, this, m -> m.updateRatio(li))
                        .tags(extraTags).tag("layer", l.layer())
                        .description("L2 norm of the latest sampled update divided by the L2 norm of the layer's "
                                + "parameters (0..inf; around 1e-3 is typical of healthy SGD training)")
                        .register(registry).getId());
                for (int p = 0; p < l.params().size(); p++) {
                    int pi = p;
                    ParamStats param = l.params().get(p);
                    layerMeters.add(Gauge.builder(PARAM_NORM, this, m -> m.paramValue(li, pi))
                            .tags(extraTags).tag("layer", l.layer()).tag("param", param.param())
                            .description("L2 norm of one parameter's batch-averaged gradient in the last step "
                                    + "(param W: weights, b: bias, RW: recurrent weights)")
                            .register(registry).getId());
                }
            }
            layerNonFiniteSteps = layerNonFinite;
        }
        double[] ratios = new double[step.layers().size()];
        Arrays.fill(ratios, Double.NaN);
        updateRatios = ratios;
        layerIndex = index;
    }

    private double updateRatio(int index) {
        double[] ratios = updateRatios;
        return index < ratios.length ? ratios[index] : Double.NaN;
    }

    private Meter.Id layerGauge(String name, String layer, int index, ToDoubleFunction<LayerStats> value,
                                String description) {
        return Gauge.builder(name, this, m -> m.layerValue(index, value))
                .tags(extraTags).tag("layer", layer).description(description).register(registry).getId();
    }

    private double layerValue(int index, ToDoubleFunction<LayerStats> value) {
        StepStats s = latest;
        return s == null || index >= s.layers().size() ? Double.NaN : value.applyAsDouble(s.layers().get(index));
    }

    private double paramValue(int layer, int param) {
        StepStats s = latest;
        if (s == null || layer >= s.layers().size() || param >= s.layers().get(layer).params().size()) {
            return Double.NaN;
        }
        return s.layers().get(layer).params().get(param).norm();
    }

    /** The layer and parameter names the registered gauges stand for, to notice when a run changes them. */
    private record LayerIndex(List<String> layers, List<List<String>> params) {
        static final LayerIndex EMPTY = new LayerIndex(List.of(), List.of());

        static LayerIndex of(StepStats step) {
            return new LayerIndex(step.layers().stream().map(LayerStats::layer).toList(),
                    step.layers().stream().map(l -> l.params().stream().map(ParamStats::param).toList()).toList());
        }

        /** Called every step: compares names in place, without building any. */
        boolean matches(StepStats step) {
            List<LayerStats> stepLayers = step.layers();
            if (stepLayers.size() != layers.size()) {
                return false;
            }
            for (int i = 0; i < layers.size(); i++) {
                LayerStats l = stepLayers.get(i);
                List<String> names = params.get(i);
                if (!l.layer().equals(layers.get(i)) || l.params().size() != names.size()) {
                    return false;
                }
                for (int j = 0; j < names.size(); j++) {
                    if (!l.params().get(j).param().equals(names.get(j))) {
                        return false;
                    }
                }
            }
            return true;
        }
    }
}
