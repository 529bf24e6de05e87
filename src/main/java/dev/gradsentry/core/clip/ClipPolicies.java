package dev.gradsentry.core.clip;

import dev.gradsentry.core.InvalidSettingException;
import dev.gradsentry.core.clip.FixedClip.Kind;

import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Builds a {@link ClipPolicy} from its configuration name and settings, the way configuration files and the REST API
 * describe policies. Settings that are not given take the policy's default; integer settings ({@code window},
 * {@code warmup}) arrive as doubles and must be whole numbers.
 */
public final class ClipPolicies {

    private static final List<String> NAMES = List.of(NoClip.NAME, Kind.VALUE.policyName(), Kind.NORM.policyName(),
            Kind.PARAM_NORM.policyName(), Kind.GLOBAL_NORM.policyName(), AutoClip.NAME, ZClip.NAME, Agc.NAME,
            AdaptiveClip.NAME);

    private ClipPolicies() {
    }

    /** Every policy name {@link #create} accepts, in the order a user would read them (simplest first). */
    public static List<String> names() {
        return NAMES;
    }

    /**
     * The policy {@code name} with {@code settings} (null or missing keys take the defaults).
     *
     * @throws IllegalArgumentException for an unknown name, a key the policy does not have, or an invalid value; the
     *                                  message names the offender and lists what is valid
     */
    public static ClipPolicy create(String name, Map<String, Double> settings) {
        Map<String, Double> given = settings == null ? Map.of() : settings;
        Map<String, Double> valid = defaults(name);
        for (Map.Entry<String, Double> setting : given.entrySet()) {
            if (!valid.containsKey(setting.getKey())) {
                throw new InvalidSettingException(setting.getKey(), "unknown setting '" + setting.getKey()
                        + "' for clip policy '"
                        + name + "', valid settings: " + valid.keySet());
            }
            if (setting.getValue() == null) {
                throw new InvalidSettingException(setting.getKey(), setting.getKey() + " must be a number, was null");
            }
        }
        return build(name, given);
    }

    /** Every setting of policy {@code name} with its default value, in the order of the policy's settings. */
    public static Map<String, Double> defaults(String name) {
        // The defaults live in the policy classes; a policy built from no settings reports exactly them.
        return build(name, Map.of()).settings();
    }

    private static ClipPolicy build(String name, Map<String, Double> settings) {
        if (name == null) {
            throw unknown(null);
        }
        // The fixed kinds' names are enum values, not constants a switch can use as labels.
        Optional<Kind> fixed = Kind.byPolicyName(name);
        if (fixed.isPresent()) {
            return new FixedClip(fixed.get(), number(settings, "threshold", FixedClip.DEFAULT_THRESHOLD));
        }
        return switch (name) {
            case NoClip.NAME -> new NoClip();
            case AutoClip.NAME -> new AutoClip(number(settings, "percentile", AutoClip.DEFAULT_PERCENTILE),
                    whole(settings, "window", AutoClip.DEFAULT_WINDOW, 0));
            case ZClip.NAME -> new ZClip(number(settings, "alpha", ZClip.DEFAULT_ALPHA),
                    number(settings, "zThreshold", ZClip.DEFAULT_Z_THRESHOLD),
                    whole(settings, "warmup", ZClip.DEFAULT_WARMUP, 1));
            case Agc.NAME -> new Agc(number(settings, "lambda", Agc.DEFAULT_LAMBDA),
                    number(settings, "eps", Agc.DEFAULT_EPS));
            case AdaptiveClip.NAME -> new AdaptiveClip(
                    number(settings, "percentile", AdaptiveClip.DEFAULT_PERCENTILE),
                    whole(settings, "window", AdaptiveClip.DEFAULT_WINDOW, 1),
                    number(settings, "tightenFactor", AdaptiveClip.DEFAULT_TIGHTEN_FACTOR),
                    number(settings, "floorFraction", AdaptiveClip.DEFAULT_FLOOR_FRACTION),
                    whole(settings, "cooldown", AdaptiveClip.DEFAULT_COOLDOWN, 0),
                    whole(settings, "relaxAfter", AdaptiveClip.DEFAULT_RELAX_AFTER, 1),
                    number(settings, "updateRatioCap", AdaptiveClip.DEFAULT_UPDATE_RATIO_CAP),
                    number(settings, "updateRatioTrigger", AdaptiveClip.DEFAULT_UPDATE_RATIO_TRIGGER),
                    number(settings, "gradientRatioCap", AdaptiveClip.DEFAULT_GRADIENT_RATIO_CAP),
                    number(settings, "gradientRatioTrigger", AdaptiveClip.DEFAULT_GRADIENT_RATIO_TRIGGER));
            default -> throw unknown(name);
        };
    }

    private static IllegalArgumentException unknown(String name) {
        return new IllegalArgumentException("unknown clip policy '" + name + "', valid names: " + NAMES);
    }

    private static double number(Map<String, Double> settings, String key, double fallback) {
        Double value = settings.get(key);
        return value == null ? fallback : value;
    }

    private static int whole(Map<String, Double> settings, String key, int fallback, int min) {
        Double value = settings.get(key);
        if (value == null) {
            return fallback;
        }
        if (!(value == Math.rint(value) && value >= min && value <= Integer.MAX_VALUE)) {
            throw new InvalidSettingException(key, key + " must be a whole number >= " + min + ", was " + value);
        }
        return value.intValue();
    }
}
