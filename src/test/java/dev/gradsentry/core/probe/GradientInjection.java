package dev.gradsentry.core.probe;

import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.optimize.api.BaseTrainingListener;
import org.deeplearning4j.optimize.api.TrainingListener;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Trouble on cue for tests: multiplies the raw gradient of a chosen DL4J iteration by a factor before the probe
 * measures it. {@code Double.NaN} turns every gradient value into NaN; 1e3 makes a spike.
 */
public final class GradientInjection extends BaseTrainingListener {

    private final Map<Long, Double> injections = new HashMap<>();

    private GradientInjection() {
    }

    /**
     * A new injection ahead of every listener the network has: DL4J calls them in order, so the probe (attached
     * before this call) measures the gradient as injected.
     */
    public static GradientInjection before(MultiLayerNetwork network) {
        GradientInjection injection = new GradientInjection();
        List<TrainingListener> listeners = new ArrayList<>();
        listeners.add(injection);
        listeners.addAll(network.getListeners());
        network.setListeners(listeners);
        return injection;
    }

    /** Multiplies the gradient of the step with DL4J iteration {@code iteration} by {@code factor}. */
    public GradientInjection at(long iteration, double factor) {
        injections.put(iteration, factor);
        return this;
    }

    @Override
    public void onGradientCalculation(Model m) {
        Double injected = injections.remove((long) NetworkState.iterationCount(m));
        if (injected == null) {
            return;
        }
        // ND4J's scalar multiply does not propagate a NaN factor, so NaN is written, not multiplied in
        if (Double.isNaN(injected)) {
            m.getGradientsViewArray().assign(Double.NaN);
        } else {
            m.getGradientsViewArray().muli(injected);
        }
    }
}
