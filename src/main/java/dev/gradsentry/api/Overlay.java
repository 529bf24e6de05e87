package dev.gradsentry.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.exc.ValueInstantiationException;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.gradsentry.core.InvalidSettingException;
import dev.gradsentry.core.ExternalName;
import dev.gradsentry.training.RunSpec;
import dev.gradsentry.training.WorkloadKind;

import java.util.Map;

/**
 * A record with some of its fields replaced by those a JSON object names: how a partial change (the body of
 * {@code PUT /api/policy} or {@code POST /api/runs}, a configuration group) becomes a whole value without a second
 * list of the record's fields. Jackson builds the result through the record's constructor, so the record's own
 * checks run; the mapper decides how fields are spelled and how strict types are (REST bodies are strict, text from
 * configuration is converted).
 *
 * <p>A field the record lacks or a value of the wrong type is Jackson's exception, with the field's path; a value
 * the record refuses is an {@link InvalidSettingException} naming the field.
 */
final class Overlay {

    private final ObjectMapper json;

    Overlay(ObjectMapper json) {
        this.json = json;
    }

    /** {@code base} with the fields {@code changes} names replaced. */
    <T> T apply(T base, ObjectNode changes) throws JsonProcessingException {
        try {
            return build(base, changes);
        } catch (ValueInstantiationException e) {
            if (e.getCause() instanceof InvalidSettingException named) {
                throw named;
            }
            throw e;
        }
    }

    @SuppressWarnings("unchecked")
    private <T> T build(T base, ObjectNode changes) throws JsonProcessingException {
        ObjectNode whole = json.valueToTree(base);
        whole.setAll(changes);
        return (T) json.treeToValue(whole, base.getClass());
    }

    /**
     * The spec {@code fields} describe: their {@code workload}'s defaults with the fields given replaced.
     *
     * @throws InvalidSettingException when {@code workload} is missing
     */
    RunSpec runSpec(ObjectNode fields) throws JsonProcessingException {
        Workload named = json.readerFor(Workload.class).without(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
                .treeToValue(fields, Workload.class);
        if (named.workload() == null) {
            throw new InvalidSettingException("workload", "workload is required; valid: "
                    + ExternalName.valid(WorkloadKind.class));
        }
        return apply(RunSpec.defaults(named.workload()), fields);
    }

    /** The one field that picks a spec's defaults. */
    private record Workload(WorkloadKind workload) {
    }
}
