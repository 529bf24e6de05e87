package dev.gradsentry.core.intervene;

/** How much the guard may do to a run. */
public enum GuardMode {
    /** Detect and act: clip, skip, roll back, back the learning rate off, pause. */
    AUTO,
    /** Detect and record what would have been done; change nothing. */
    OBSERVE,
    /** Neither detect nor act; the probe still measures. */
    OFF
}
