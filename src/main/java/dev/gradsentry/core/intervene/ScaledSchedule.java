package dev.gradsentry.core.intervene;

import org.nd4j.linalg.schedule.ISchedule;
import org.nd4j.shade.jackson.annotation.JsonCreator;
import org.nd4j.shade.jackson.annotation.JsonProperty;

import java.util.Objects;

/**
 * A user's learning-rate schedule with every value multiplied by a factor: how the guard backs the learning rate off
 * without dropping the schedule (a warm-up, a decay or a step keeps its shape, at a fraction of its height).
 *
 * <p>Part of the network's configuration once set, so DL4J's {@code ModelSerializer} writes it into model files and
 * checkpoints (through the JSON properties below) and reads it back.
 */
public final class ScaledSchedule implements ISchedule {

    private final ISchedule schedule;
    private final double factor;

    @JsonCreator
    public ScaledSchedule(@JsonProperty("schedule") ISchedule schedule, @JsonProperty("factor") double factor) {
        this.schedule = Objects.requireNonNull(schedule, "schedule");
        this.factor = factor;
    }

    @JsonProperty("schedule")
    public ISchedule schedule() {
        return schedule;
    }

    @JsonProperty("factor")
    public double factor() {
        return factor;
    }

    @Override
    public double valueAt(int iteration, int epoch) {
        return schedule.valueAt(iteration, epoch) * factor;
    }

    @Override
    public ISchedule clone() {
        return new ScaledSchedule(schedule.clone(), factor);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ScaledSchedule s && s.factor == factor && s.schedule.equals(schedule);
    }

    @Override
    public int hashCode() {
        return Objects.hash(schedule, factor);
    }

    @Override
    public String toString() {
        return "ScaledSchedule(" + schedule + " x " + factor + ")";
    }
}
