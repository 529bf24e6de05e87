package dev.gradsentry.core.intervene;

/** Receives every intervention as it happens (the audit log, the metrics); called on the training thread. */
@FunctionalInterface
public interface InterventionListener {
    void onIntervention(Intervention intervention);
}
