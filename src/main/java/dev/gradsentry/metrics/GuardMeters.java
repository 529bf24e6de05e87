package dev.gradsentry.metrics;

import dev.gradsentry.core.ExternalName;
import dev.gradsentry.core.InterventionKind;
import dev.gradsentry.core.clip.ClipDecision;
import dev.gradsentry.core.detect.SpikeDetector;
import dev.gradsentry.core.intervene.Guard;
import dev.gradsentry.core.intervene.Intervention;
import dev.gradsentry.core.intervene.InterventionListener;
import dev.gradsentry.core.probe.LayerStats;
import dev.gradsentry.core.probe.StepObserver;
import dev.gradsentry.core.probe.StepStats;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.binder.MeterBinder;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The guard's meters: interventions by kind and reason, the clipping threshold in force per layer, and how often
 * clipping actually changed a step.
 */
public final class GuardMeters implements MeterBinder, StepObserver, InterventionListener {

    public static final String INTERVENTIONS = "gradsentry.interventions";
    public static final String CLIP_THRESHOLD = "gradsentry.clip.threshold";
    public static final String CLIP_ACTIVE = "gradsentry.clip.active.ratio";
    public static final String CLIP_SCALE = "gradsentry.clip.threshold.scale";
    public static final String CLIPPED_STEPS = "gradsentry.layer.clipped.steps";
    public static final String SKIPPED_STEPS = "gradsentry.skipped.steps";
    /** Steps over which the clipping-active fraction is computed. */
    static final int ACTIVE_WINDOW = 100;

    private final Tags extraTags;
    /** Read by the training thread; binding may come after the first steps. */
    private volatile MeterRegistry registry;
    private volatile Guard guard;
    private final List<Meter.Id> thresholdMeters = new ArrayList<>();
    private volatile List<String> thresholdLayers = List.of();
    /** One per layer of the step, in its order. */
    private volatile Counter[] clippedSteps = new Counter[0];
    private final boolean[] clipped = new boolean[ACTIVE_WINDOW];
    private int seen;
    private volatile double activeRatio = Double.NaN;

    /** @param extraTags added to every meter, e.g. a deployment label */
    public GuardMeters(Tags extraTags) {
        this.extraTags = extraTags;
    }

    @Override
    public void bindTo(MeterRegistry registry) {
        this.registry = registry;
        Gauge.builder(CLIP_ACTIVE, this, m -> m.activeRatio).tags(extraTags)
                .description("Fraction (0..1) of the last " + ACTIVE_WINDOW + " steps whose gradient the guard clipped")
                .register(registry);
        Gauge.builder(CLIP_SCALE, this, m -> m.guard == null ? Double.NaN : m.guard.thresholdScale()).tags(extraTags)
                .description("Factor (0..1] that alert- or person-requested tightening applies to every clipping "
                        + "threshold; 1 when none")
                .register(registry);
        if (guard != null) {
            skippedSteps(SpikeDetector.GLOBAL); // bound after the guard was attached
        }
    }

    /** The guard now protecting the run; its thresholds and clipping state are read from it. */
    public void guardAttached(Guard g) {
        guard = g;
        if (registry != null) {
            skippedSteps(SpikeDetector.GLOBAL);
        }
        synchronized (clipped) {
            Arrays.fill(clipped, false);
            seen = 0;
            activeRatio = Double.NaN;
        }
    }

    @Override
    public void onIntervention(Intervention i) {
        if (registry != null) {
            Counter.builder(INTERVENTIONS).tags(extraTags)
                    .tag("kind", ExternalName.of(i.kind())).tag("reason", i.reason()).tag("applied", String.valueOf(i.applied()))
                    .description("Guard interventions by kind and reason; applied=false in observe mode")
                    .register(registry).increment();
            if (i.kind() == InterventionKind.SKIP && i.applied()) {
                skippedSteps(i.layer() == null ? SpikeDetector.GLOBAL : i.layer()).increment();
            }
        }
    }

    /**
     * The skip counter of one cause. Each exists from the moment the guard is attached (global) or has seen the
     * layers (one per layer), at 0: a series that appears only at its first skip has no earlier sample, so
     * Prometheus' {@code increase()} would not count that skip.
     */
    private Counter skippedSteps(String layer) {
        return Counter.builder(SKIPPED_STEPS).tags(extraTags).tag("layer", layer)
                .description("Steps the guard skipped (dropped their update), by the layer whose gradient "
                        + "spiked; layer=global for the global norm or a non-finite gradient")
                .register(registry);
    }

    @Override
    public void onStep(StepStats step) {
        Guard g = guard;
        if (g == null) {
            return;
        }
        synchronized (clipped) {
            clipped[seen % ACTIVE_WINDOW] = g.lastClipped();
            seen++;
            int n = Math.min(seen, ACTIVE_WINDOW);
            int active = 0;
            for (int i = 0; i < n; i++) {
                active += clipped[i] ? 1 : 0;
            }
            activeRatio = (double) active / n;
        }
        if (!sameLayers(step)) {
            List<String> layers = new ArrayList<>();
            layers.add(SpikeDetector.GLOBAL);
            step.layers().stream().map(LayerStats::layer).forEach(layers::add);
            registerThresholds(layers);
        }
        if (g.lastClipped()) {
            ClipDecision decision = g.lastDecision();
            Counter[] counters = clippedSteps;
            for (int i = 0; i < counters.length && i < step.layers().size(); i++) {
                if (decision.bindsLayer(step, step.layers().get(i))) {
                    counters[i].increment();
                }
            }
        }
    }

    /** Called every step, so it compares in place instead of building the list of names. */
    private boolean sameLayers(StepStats step) {
        List<String> known = thresholdLayers;
        if (known.size() != step.layers().size() + 1) {
            return false;
        }
        for (int i = 0; i < step.layers().size(); i++) {
            if (!known.get(i + 1).equals(step.layers().get(i).layer())) {
                return false;
            }
        }
        return true;
    }

    private synchronized void registerThresholds(List<String> layers) {
        if (registry == null) {
            return;
        }
        thresholdMeters.forEach(registry::remove);
        thresholdMeters.clear();
        for (String layer : layers) {
            thresholdMeters.add(Gauge.builder(CLIP_THRESHOLD, this, m -> m.threshold(layer)).tags(extraTags)
                    .tag("layer", layer)
                    .description("Gradient-norm clipping threshold in force (batch-averaged scale); NaN when not "
                            + "clipping; layer=global for a threshold on the global norm")
                    .register(registry).getId());
        }
        Counter[] counters = new Counter[layers.size() - 1];
        for (int i = 0; i < counters.length; i++) {
            skippedSteps(layers.get(i + 1));
            counters[i] = Counter.builder(CLIPPED_STEPS).tags(extraTags).tag("layer", layers.get(i + 1))
                    .description("Steps whose gradient the guard clipped in the layer (in observe mode: would have "
                            + "clipped)")
                    .register(registry);
            thresholdMeters.add(counters[i].getId());
        }
        clippedSteps = counters;
        thresholdLayers = List.copyOf(layers);
    }

    private double threshold(String layer) {
        Guard g = guard;
        Double t = g == null ? null : g.layerThresholds().get(layer);
        return t == null ? Double.NaN : t;
    }
}
