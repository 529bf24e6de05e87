package dev.gradsentry.core.intervene;

import dev.gradsentry.core.probe.NetworkState;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.layers.BaseLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.learning.config.IUpdater;
import org.nd4j.linalg.schedule.ISchedule;

import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.List;

/**
 * The guard's hold on a network's learning rates: one factor that multiplies every layer's rate as the user
 * configured it, fixed or scheduled.
 *
 * <p>What the user configured is read once, when the guard attaches: each trainable layer's rate and schedule. A
 * factor below 1 sets each layer to its own rate times the factor (layers keep their ratios to each other), and a
 * schedule to a {@link ScaledSchedule} of it (a decay keeps decaying, a step keeps its step). Back at 1, every layer
 * gets exactly its original rate and schedule again. Layers whose optimizer has no learning rate are left alone. A
 * network whose configuration already holds a {@link ScaledSchedule} (a model saved while the guard held it down) is
 * read as the schedule inside it, at that factor.
 */
public final class LearningRateScale {

    private final Model model;
    private final List<Original> originals = new ArrayList<>();
    private double factor = 1.0;

    /** What one layer's optimizer was configured with; {@code schedule} null for a fixed rate. */
    private record Original(int index, String name, double rate, ISchedule schedule) {
    }

    public LearningRateScale(Model model) {
        this.model = model;
        capture();
    }

    /**
     * Reads every layer's rate and schedule as the network now holds them. Called while the factor is 1, so that
     * what it reads is the user's own configuration, including a rate the user set after the guard attached.
     */
    private void capture() {
        originals.clear();
        Layer[] layers = NetworkState.layersOf(model);
        for (int i = 0; i < layers.length; i++) {
            if (layers[i].conf().getLayer() instanceof BaseLayer base && base.getIUpdater() != null
                    && base.getIUpdater().hasLearningRate()) {
                IUpdater u = base.getIUpdater();
                ISchedule schedule = scheduleOf(u);
                if (schedule instanceof ScaledSchedule scaled) {
                    // A model saved while the guard held its rates down: the user's schedule is the one inside.
                    schedule = scaled.schedule();
                    factor = scaled.factor();
                }
                originals.add(new Original(i, base.getLayerName(), schedule == null ? u.getLearningRate(0, 0)
                        : Double.NaN, schedule == null ? null : schedule.clone()));
            }
        }
    }

    /** The factor in force: 1 when the rates are the user's own. */
    public double factor() {
        return factor;
    }

    /** Sets every layer's rate to its original times {@code next} (exactly the original at 1). */
    public void set(double next) {
        if (!(next > 0) || !Double.isFinite(next) || next == factor) {
            return;
        }
        if (factor == 1.0) {
            capture();
        }
        factor = next;
        for (Original o : originals) {
            if (o.schedule != null) {
                ISchedule s = factor == 1.0 ? o.schedule.clone() : new ScaledSchedule(o.schedule.clone(), factor);
                if (model instanceof MultiLayerNetwork net) {
                    net.setLearningRate(o.index, s);
                } else if (model instanceof ComputationGraph graph) {
                    graph.setLearningRate(o.name, s);
                }
            } else if (model instanceof MultiLayerNetwork net) {
                net.setLearningRate(o.index, o.rate * factor);
            } else if (model instanceof ComputationGraph graph) {
                graph.setLearningRate(o.name, o.rate * factor);
            }
        }
    }

    /**
     * The schedule an optimizer's configuration holds. Every DL4J optimizer with a learning rate has a
     * {@code getLearningRateSchedule()} getter, but {@link IUpdater} does not declare it.
     */
    private static ISchedule scheduleOf(IUpdater u) {
        try {
            Method getter = u.getClass().getMethod("getLearningRateSchedule");
            return getter.invoke(u) instanceof ISchedule s ? s : null;
        } catch (ReflectiveOperationException e) {
            return null;
        }
    }
}
