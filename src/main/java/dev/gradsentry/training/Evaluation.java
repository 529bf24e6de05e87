package dev.gradsentry.training;

/**
 * One evaluation on held-out data.
 *
 * @param metric {@code accuracy} (fraction of test examples classified correctly, 0..1) or {@code mse}
 * @param value  the metric's value; NaN when the network's output was not finite
 * @param step   the number of training steps done when it was measured
 */
public record Evaluation(String metric, double value, long step) {
}
