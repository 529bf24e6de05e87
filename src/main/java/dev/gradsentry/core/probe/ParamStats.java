package dev.gradsentry.core.probe;

/**
 * Gradient statistics of one parameter array of one layer (W, b, RW, ...) for one step.
 *
 * @param param     DL4J's parameter key within the layer, e.g. {@code W}, {@code b}, {@code RW}
 * @param norm      L2 norm of the batch-averaged gradient
 * @param nonFinite number of NaN or infinite gradient values
 */
public record ParamStats(String param, double norm, long nonFinite) {
    public ParamStats {
        if (param == null || param.isEmpty()) {
            throw new IllegalArgumentException("param must be a non-empty parameter key");
        }
        if (nonFinite < 0) {
            throw new IllegalArgumentException("nonFinite must be >= 0, was " + nonFinite);
        }
    }
}
