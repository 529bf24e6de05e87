package dev.gradsentry.core.detect;

/**
 * What the detectors saw in one step, before the update: the input of the clipping policies and of the guard.
 *
 * @param nonFinite  the loss or some gradient value is NaN or infinite
 * @param spike      the gradient norm is far above its recent range (see {@link SpikeDetector})
 * @param spikeScore the largest z-score of the step (global or per layer); NaN during warm-up
 * @param spikeLayer the layer with the largest z-score, or {@code global}; null when there is no spike
 * @param diverging  the loss is far above its recent window (see {@link DivergenceDetector})
 */
public record Signal(boolean nonFinite, boolean spike, double spikeScore, String spikeLayer, boolean diverging) {

    public static final Signal QUIET = new Signal(false, false, Double.NaN, null, false);

    /** Anything that should make an adaptive policy act. */
    public boolean trigger() {
        return nonFinite || spike || diverging;
    }

    /** The step is lost (non-finite, or a loss far above its window): worse than a spike. */
    public boolean severe() {
        return nonFinite || diverging;
    }
}
