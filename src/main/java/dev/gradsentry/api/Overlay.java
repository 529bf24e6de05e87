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
import dev.gradsentry.training.UserData;
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
        Workload named = apply(json.readerFor(Workload.class)
                .without(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES), fields);
        WorkloadKind workload = named.workload() != null ? named.workload()
                : named.model() != null ? WorkloadKind.USER : null;
        if (workload == null) {
            throw new InvalidSettingException("workload", "workload is required; valid: "
                    + ExternalName.valid(WorkloadKind.class) + " (or give model and data for your own model)");
        }
        if (workload == WorkloadKind.USER) {
            fields.put("workload", ExternalName.of(WorkloadKind.USER));
            return apply(RunSpec.user(named.model(), named.data()), fields);
        }
        return apply(RunSpec.defaults(workload), fields);
    }

    private static Workload apply(com.fasterxml.jackson.databind.ObjectReader reader, ObjectNode fields)
            throws JsonProcessingException {
        try {
            return reader.treeToValue(fields, Workload.class);
        } catch (ValueInstantiationException e) {
            if (e.getCause() instanceof InvalidSettingException named) {
                throw named;
            }
            throw e;
        }
    }

    /**
     * The fields that pick a spec's defaults: {@code workload}, or {@code model} and {@code data} for a user's own
     * model (whose workload is then {@code user}).
     */
    private record Workload(WorkloadKind workload, String model, UserData data) {
    }
}
