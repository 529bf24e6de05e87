package dev.gradsentry.api;

import dev.gradsentry.training.StepRow;

import java.util.function.Function;

/**
 * The columns of {@code GET /api/runs/{id}/steps}, named once for its JSON and its CSV: those of a step, then those
 * of each layer ({@code <layer>.<column>} in CSV, under {@code layers.<layer>} in JSON).
 */
enum StepColumn {
    STEP("step", Kind.WHOLE, r -> r.step()),
    EPOCH("epoch", Kind.WHOLE, r -> r.epoch()),
    LOSS("loss", Kind.DOUBLE, r -> r.loss()),
    LEARNING_RATE("learningRate", Kind.FLOAT, r -> r.learningRate()),
    GLOBAL_NORM("globalNorm", Kind.FLOAT, r -> r.globalNorm()),
    MAX_ABS("maxAbs", Kind.FLOAT, r -> r.maxAbs()),
    NON_FINITE("nonFinite", Kind.WHOLE, r -> r.nonFinite()),
    CLIP_THRESHOLD("clipThreshold", Kind.FLOAT, r -> r.clipThreshold()),
    CLIPPED("clipped", Kind.BOOLEAN, r -> r.clipped()),
    HELD_OUT("heldOut", Kind.DOUBLE, r -> r.heldOut());

    /** How a column's values are written: as stored (32- or 64-bit floats), whole numbers, or true/false. */
    enum Kind { FLOAT, DOUBLE, WHOLE, BOOLEAN }

    final String json;
    final Kind kind;
    final Function<StepRow, Object> value;

    StepColumn(String json, Kind kind, Function<StepRow, Object> value) {
        this.json = json;
        this.kind = kind;
        this.value = value;
    }

    /** A layer's columns. */
    enum Layer {
        NORM("norm", Kind.FLOAT, l -> l.norm()),
        MAX_ABS("maxAbs", Kind.FLOAT, l -> l.maxAbs()),
        NON_FINITE("nonFinite", Kind.WHOLE, l -> l.nonFinite()),
        UPDATE_RATIO("updateRatio", Kind.FLOAT, l -> l.updateRatio()),
        CLIP_THRESHOLD("clipThreshold", Kind.FLOAT, l -> l.clipThreshold());

        final String json;
        final Kind kind;
        final Function<StepRow.Layer, Object> value;

        Layer(String json, Kind kind, Function<StepRow.Layer, Object> value) {
            this.json = json;
            this.kind = kind;
            this.value = value;
        }
    }
}
