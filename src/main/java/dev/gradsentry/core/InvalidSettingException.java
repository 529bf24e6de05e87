package dev.gradsentry.core;

/**
 * A setting or field that breaks its rule, named as the record that has it names it ({@code spikeZ},
 * {@code threshold}): the configuration and the REST API turn {@link #field()} into the key or the JSON field they show
 * the user, and pass the message on as it is.
 */
public final class InvalidSettingException extends IllegalArgumentException {

    private final String field;

    /**
     * @param field   the field at fault, as its record names it
     * @param message what is wrong and what is valid, e.g. {@code spikeZ must be > 0}
     */
    public InvalidSettingException(String field, String message) {
        super(message);
        this.field = field;
    }

    public String field() {
        return field;
    }
}
