package dev.gradsentry.config;

import io.quarkus.runtime.configuration.DurationConverter;
import org.eclipse.microprofile.config.spi.Converter;

import java.time.Duration;

/** Reads a duration as Quarkus does ({@code 10s}, {@code 500ms}, {@code PT10S}); text it cannot read gets the forms. */
public final class DurationText implements Converter<Duration> {

    private static final DurationConverter QUARKUS = new DurationConverter();

    @Override
    public Duration convert(String value) {
        try {
            return QUARKUS.convert(value);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("expected a duration such as 10s, 500ms or PT10S");
        }
    }
}
