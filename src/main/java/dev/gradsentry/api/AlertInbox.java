package dev.gradsentry.api;

import dev.gradsentry.api.AlertResource.Alert;
import dev.gradsentry.api.AlertResource.Labels;
import dev.gradsentry.api.AlertResource.Outcome;
import dev.gradsentry.api.AlertResource.Status;
import dev.gradsentry.config.GradSentryConfig;
import dev.gradsentry.core.ExternalName;
import dev.gradsentry.core.intervene.ExternalRequest;
import dev.gradsentry.training.RunRegistry;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Provider;
import org.jboss.logging.Logger;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Where alerts arrive, pushed by Alertmanager's webhook or pulled from its API ({@link AlertPull}): each firing alert
 * whose {@code action} label names an intervention is applied to the run its {@code run} label names, if that run
 * trains here (and, with {@code gradsentry.alerts.instance} set, its {@code instance} label names this service),
 * through the same engine as automatic interventions, audited with reason {@code alert} and the alert's name and
 * fingerprint. Any other alert is answered and logged as ignored with the reason: it is about another run or
 * instance, or names no run.
 *
 * <p>Alertmanager re-sends groups and a pull sees an alert on every poll while it fires, so an alert is applied once
 * per (fingerprint, startsAt, status), and each action at most once per batch however many alerts of it ask for it.
 * An alert is remembered only once it was applied or definitively refused (an action GradSentry does not know, a
 * resolution): one that found no run to apply it to is applied when it comes again. Alerts applied to a run are
 * remembered with the run, in its checkpoints, so a redelivery after a crash and resume is still a duplicate.
 */
@ApplicationScoped
public class AlertInbox {

    private static final Logger LOG = Logger.getLogger(AlertInbox.class);
    private static final int REMEMBERED = 10_000;

    private final Provider<RunRegistry> runs;
    private final Provider<GradSentryConfig> config;
    /** Alerts refused for good or applied outside a run's guard (a resume), oldest first, bounded. */
    private final Map<String, Boolean> seen = new LinkedHashMap<>(16, 0.75f, false) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, Boolean> eldest) {
            return size() > REMEMBERED;
        }
    };

    /** Both are looked up on each batch, not when the inbox is built. */
    public AlertInbox(Provider<RunRegistry> runs, Provider<GradSentryConfig> config) {
        this.runs = runs;
        this.config = config;
    }

    /** Applies one batch: a webhook delivery or one poll's answer. */
    public synchronized Outcome apply(List<Alert> alerts) {
        int applied = 0;
        int duplicates = 0;
        int ignored = 0;
        int resolved = 0;
        List<String> notes = new ArrayList<>();
        Set<AlertAction> requested = EnumSet.noneOf(AlertAction.class);
        for (Alert a : alerts) {
            String name = a.labels().alertname();
            String key = a.fingerprint() + "|" + a.startsAt() + "|" + a.status();
            if (seen.containsKey(key) || runs.get().delivered(key)) {
                duplicates++;
                continue;
            }
            String label = a.labels().action() == null ? "none" : a.labels().action();
            Optional<AlertAction> action = ExternalName.find(AlertAction.class, label);
            String detail = "alert " + name + " fingerprint " + a.fingerprint() + " startsAt " + a.startsAt();
            Optional<String> elsewhere = otherTarget(a.labels());
            if (a.status() == Status.RESOLVED) {
                seen.put(key, Boolean.TRUE);
                resolved++;
                LOG.infof("alert %s resolved (fingerprint %s)", name, a.fingerprint());
                if (config.get().alerts().relaxOnResolve() && action.orElse(null) == AlertAction.TIGHTEN_CLIPPING
                        && elsewhere.isEmpty() && runs.get().requestOn(a.labels().run(), new ExternalRequest(
                        ExternalRequest.Action.RELAX_CLIPPING, "alert", detail + " resolved"), null)) {
                    notes.add(name + ": resolved, clipping relaxed");
                }
                continue;
            }
            if (action.isEmpty()) {
                seen.put(key, Boolean.TRUE);
                ignored++;
                notes.add(name + ": action '" + label + "' is not one GradSentry applies; ignored");
                LOG.infof("alert %s with action '%s' ignored (known actions: %s)", name, label,
                        ExternalName.valid(AlertAction.class));
                continue;
            }
            if (elsewhere.isPresent()) {
                ignored++;
                notes.add(name + ": " + label + " not applied, " + elsewhere.get());
                LOG.infof("alert %s (fingerprint %s) ignored: %s", name, a.fingerprint(), elsewhere.get());
                continue;
            }
            Optional<ExternalRequest.Action> request = action.get().request();
            if (request.isEmpty()) {
                Optional<String> paused = runs.get().pausedCurrent().filter(a.labels().run()::equals);
                if (paused.isPresent()) {
                    runs.get().resume(paused.get(), "alert", detail);
                    seen.put(key, Boolean.TRUE);
                    applied++;
                    notes.add(name + ": resumed run " + paused.get());
                } else {
                    ignored++;
                    notes.add(name + ": resume not applied, run " + a.labels().run() + " is not the paused run "
                            + "here");
                }
                continue;
            }
            Optional<String> training = runs.get().training();
            if (!training.map(a.labels().run()::equals).orElse(false)) {
                String why = training.map(t -> "run " + a.labels().run() + " is not training here (run " + t
                        + " is)").orElse("no run is training");
                ignored++;
                notes.add(name + ": " + label + " not applied, " + why);
                LOG.infof("alert %s (fingerprint %s) ignored: %s", name, a.fingerprint(), why);
                continue;
            }
            // A group can carry one alert per layer; one tightening per delivery, not one per layer. Counted only
            // for an alert about the run training here, so that one about another run cannot hide it.
            if (!requested.add(action.get())) {
                // Covered by the earlier alert's request: remembered with it if it was applied.
                duplicates++;
                notes.add(name + ": " + label + " already requested by an earlier alert of this delivery");
                continue;
            }
            if (runs.get().requestOn(a.labels().run(), new ExternalRequest(request.get(), "alert", detail), key)) {
                applied++;
                notes.add(name + ": " + label + " queued for the next step of run " + a.labels().run());
            } else {
                ignored++;
                notes.add(name + ": " + label + " not applied, run " + a.labels().run() + " ended or its guard is "
                        + "not built yet");
            }
        }
        return new Outcome(applied, duplicates, ignored, resolved, notes);
    }

    /**
     * Why an alert is not for this service whatever trains here: it names no run, or (when
     * {@code gradsentry.alerts.instance} says what Prometheus calls this service) another instance; empty when it may
     * be.
     */
    private Optional<String> otherTarget(Labels labels) {
        if (labels.run() == null || labels.run().isBlank()) {
            return Optional.of("the alert has no run label (GradSentry applies an alert only to the run it names; "
                    + "the rules in deploy/prometheus add it)");
        }
        Optional<String> self = config.get().alerts().instance();
        if (self.isPresent() && !self.get().equals(labels.instance())) {
            return Optional.of("the alert is about instance " + labels.instance() + ", this service is "
                    + self.get());
        }
        return Optional.empty();
    }
}
