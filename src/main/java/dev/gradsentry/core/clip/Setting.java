package dev.gradsentry.core.clip;

import dev.gradsentry.core.InvalidSettingException;

/**
 * Checks of policy settings, shared so that every policy rejects a bad setting with the same wording, naming the
 * setting: configuration and the REST API pass these messages straight to the user.
 */
final class Setting {

    private Setting() {
    }

    /** {@code value} if it is a finite number greater than 0. */
    static double positive(String name, double value) {
        if (!(value > 0) || Double.isInfinite(value)) {
            throw new InvalidSettingException(name, name + " must be a finite number > 0, was " + value);
        }
        return value;
    }

    /** {@code value} if it lies in the closed range [min, max]. */
    static double inRange(String name, double value, double min, double max) {
        if (!(value >= min && value <= max)) {
            throw new InvalidSettingException(name, name + " must be a number in [" + min + ", " + max + "], was "
                    + value);
        }
        return value;
    }

    /** {@code value} if it lies strictly between 0 and 1. */
    static double fraction(String name, double value) {
        if (!(value > 0 && value < 1)) {
            throw new InvalidSettingException(name, name + " must be a number in (0, 1), was " + value);
        }
        return value;
    }

    /** {@code value} if it is at least {@code min}. */
    static int atLeast(String name, int value, int min) {
        if (value < min) {
            throw new InvalidSettingException(name, name + " must be a whole number >= " + min + ", was " + value);
        }
        return value;
    }
}
