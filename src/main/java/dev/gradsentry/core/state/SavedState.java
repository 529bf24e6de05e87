package dev.gradsentry.core.state;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What a detector or a clipping policy learned, as named arrays of numbers: plain enough to write into a checkpoint
 * as JSON and to read back without knowing the class that wrote it. Names keep their insertion order, which policies
 * rely on (the first layer's threshold is the one they report).
 */
public final class SavedState {

    private final Map<String, double[]> values;

    public SavedState() {
        this(new LinkedHashMap<>());
    }

    public SavedState(Map<String, double[]> values) {
        this.values = new LinkedHashMap<>(values);
    }

    public static SavedState empty() {
        return new SavedState(Map.of());
    }

    public SavedState put(String name, double... numbers) {
        values.put(name, numbers.clone());
        return this;
    }

    /** The numbers saved under {@code name}; {@link IllegalArgumentException} naming it when absent. */
    public double[] get(String name) {
        double[] v = values.get(name);
        if (v == null) {
            throw new IllegalArgumentException("saved state lacks '" + name + "'");
        }
        return v.clone();
    }

    /** The {@code index}-th number under {@code name}, checked to exist. */
    public double number(String name, int index) {
        double[] v = get(name);
        if (index >= v.length) {
            throw new IllegalArgumentException("saved state '" + name + "' has " + v.length + " numbers, needs "
                    + (index + 1));
        }
        return v[index];
    }

    /** Whether {@code name} was saved. */
    public boolean has(String name) {
        return values.containsKey(name);
    }

    /** The part after {@code prefix} of every name that starts with it, in saved order. */
    public List<String> suffixes(String prefix) {
        return values.keySet().stream().filter(k -> k.startsWith(prefix)).map(k -> k.substring(prefix.length()))
                .toList();
    }

    public boolean isEmpty() {
        return values.isEmpty();
    }

    /** The names and numbers, for serialisation. */
    public Map<String, double[]> values() {
        return Collections.unmodifiableMap(values);
    }
}
