package dev.gradsentry.config;

import org.eclipse.microprofile.config.spi.Converter;

/**
 * Reads {@code true} or {@code false} and nothing else. The built-in converter takes any other text (a typo,
 * {@code maybe}) as {@code false}, so a switch set wrongly would silently stay off.
 */
public final class BooleanText implements Converter<Boolean> {

    @Override
    public Boolean convert(String value) {
        String v = value.strip();
        if (v.equalsIgnoreCase("true")) {
            return Boolean.TRUE;
        }
        if (v.equalsIgnoreCase("false")) {
            return Boolean.FALSE;
        }
        throw new IllegalArgumentException("expected true or false, was '" + value + "'");
    }
}
