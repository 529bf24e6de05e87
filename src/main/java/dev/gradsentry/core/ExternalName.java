package dev.gradsentry.core;

import java.util.Arrays;
import java.util.Locale;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * How an enum constant is spelled outside Java: in REST bodies, configuration values, metric labels, log lines and
 * saved files. Lower case, words joined by {@code -}: {@code FASHION_MLP} is {@code fashion-mlp}, {@code LR_BACKOFF}
 * is {@code lr-backoff}, the spelling SmallRye Config's enum converter reads too. Reading ignores case and takes
 * {@code _} for {@code -}, so files written before this spelling ({@code FASHION_MLP}) still read. JSON reads and
 * writes enums with this spelling through {@code EnumJson} (in {@code training}: {@code core} knows nothing of JSON).
 */
public final class ExternalName {

    private ExternalName() {
    }

    public static String of(Enum<?> constant) {
        return constant.name().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    /** The constant spelled {@code name}, if there is one. */
    public static <E extends Enum<E>> Optional<E> find(Class<E> type, String name) {
        String wanted = name.replace('_', '-');
        return Arrays.stream(type.getEnumConstants()).filter(c -> of(c).equalsIgnoreCase(wanted)).findFirst();
    }

    /** Every constant's name, in declaration order, for messages that say what is valid. */
    public static String valid(Class<? extends Enum<?>> type) {
        return Arrays.stream(type.getEnumConstants()).map(ExternalName::of).collect(Collectors.joining(", "));
    }
}
