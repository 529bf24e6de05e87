package dev.gradsentry.api;

import com.fasterxml.jackson.databind.JsonMappingException;

import java.util.stream.Collectors;

/** Where in a JSON object Jackson failed, written as the REST API and the configuration name fields. */
final class FieldPath {

    private FieldPath() {
    }

    /** {@code alerts[0].labels.alertname}; empty for the object as a whole. */
    static String of(JsonMappingException e) {
        return e.getPath().stream()
                .map(r -> r.getFieldName() != null ? r.getFieldName() : "[" + r.getIndex() + "]")
                .collect(Collectors.joining("."))
                .replace(".[", "[");
    }
}
