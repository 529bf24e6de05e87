package dev.gradsentry.api;

import com.fasterxml.jackson.annotation.JsonAnySetter;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.gradsentry.core.InvalidSettingException;
import dev.gradsentry.training.RunSpec;
import dev.gradsentry.training.Workloads;
import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.Min;

import java.util.Map;

/**
 * Body of {@code POST /api/runs}: fields of {@link RunSpec}, of which only {@code workload} is required (the others
 * default to the workload's healthy configuration), and {@code epochs} as another way to give {@code steps}.
 *
 * @param epochs passes over the training data; give it or {@code steps}, not both
 * @param spec   the fields of {@link RunSpec} as given, checked when laid over the workload's defaults
 */
public record RunRequest(@Min(1) @Max(10_000) Integer epochs, @JsonAnySetter Map<String, JsonNode> spec) {

    public RunRequest {
        spec = spec == null ? Map.of() : spec;
    }

    RunSpec toSpec(ObjectMapper json) throws JsonProcessingException {
        ObjectNode fields = json.valueToTree(spec);
        if (epochs != null && fields.has("steps")) {
            throw new InvalidSettingException("epochs", "give steps or epochs, not both");
        }
        Overlay overlay = new Overlay(json);
        RunSpec given = overlay.runSpec(fields);
        return epochs == null ? given
                : overlay.apply(given, json.createObjectNode().put("steps", epochs * Workloads.batchesPerEpoch(given)));
    }
}
