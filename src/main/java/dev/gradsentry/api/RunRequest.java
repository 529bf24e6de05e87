package dev.gradsentry.api;

import com.fasterxml.jackson.annotation.JsonAnySetter;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.gradsentry.core.InvalidSettingException;
import dev.gradsentry.training.RunSpec;
import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.Min;

import java.util.Map;
import java.util.function.ToIntFunction;

/**
 * Body of {@code POST /api/runs}, and the run file ({@code gradsentry.run-file}): fields of {@link RunSpec}, of which
 * only {@code workload} is required (the others default to the workload's healthy configuration), or {@code model}
 * and {@code data} for a user's own model ({@code workload} is then {@code user}), and {@code epochs} as another way
 * to give {@code steps}.
 *
 * @param epochs passes over the training data; give it or {@code steps}, not both
 * @param spec   the fields of {@link RunSpec} as given, checked when laid over the workload's defaults
 */
public record RunRequest(@Min(1) @Max(10_000) Integer epochs, @JsonAnySetter Map<String, JsonNode> spec) {

    public RunRequest {
        spec = spec == null ? Map.of() : spec;
    }

    /** @param batchesPerEpoch steps in one pass over a spec's training data, to turn {@code epochs} into steps */
    RunSpec toSpec(ObjectMapper json, ToIntFunction<RunSpec> batchesPerEpoch) throws JsonProcessingException {
        ObjectNode fields = json.valueToTree(spec);
        if (epochs != null && fields.has("steps")) {
            throw new InvalidSettingException("epochs", "give steps or epochs, not both");
        }
        Overlay overlay = new Overlay(json);
        RunSpec given = overlay.runSpec(fields);
        return epochs == null ? given
                : overlay.apply(given, json.createObjectNode().put("steps", epochs * batchesPerEpoch.applyAsInt(given)));
    }
}
