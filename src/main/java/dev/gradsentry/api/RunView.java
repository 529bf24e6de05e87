package dev.gradsentry.api;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonUnwrapped;
import dev.gradsentry.training.RunStatus;

/** How a run is shown over REST: its status, whose {@code spec} can be posted back to start the same run again. */
public record RunView(@JsonUnwrapped RunStatus status) {

    /** The steps the run trains in all, beside {@code step}, the steps it has done. */
    @JsonProperty
    public long totalSteps() {
        return status.spec().steps();
    }
}
