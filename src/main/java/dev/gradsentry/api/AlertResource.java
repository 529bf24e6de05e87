package dev.gradsentry.api;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import dev.gradsentry.config.GradSentryConfig;
import dev.gradsentry.core.InvalidSettingException;
import dev.gradsentry.core.intervene.ExternalRequest;
import dev.gradsentry.core.ExternalName;
import dev.gradsentry.training.RunRegistry;
import jakarta.inject.Provider;
import jakarta.validation.Valid;
import jakarta.validation.constraints.NotBlank;
import jakarta.validation.constraints.NotNull;
import jakarta.validation.constraints.Pattern;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import org.jboss.logging.Logger;

import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Alertmanager's webhook (payload version 4) into the guard: each firing alert whose {@code action} label names an
 * intervention is applied to the run its {@code run} label names, if that run trains here (and, with
 * {@code gradsentry.alerts.instance} set, its {@code instance} label names this service), through the same engine as
 * automatic interventions, audited with reason {@code alert} and the alert's name and fingerprint. Any other alert is
 * answered and logged as ignored with the reason: it is about another run or instance, or names no run. Alertmanager re-sends groups, so a delivery is applied
 * once per (fingerprint, startsAt, status), and each action at most once per delivery however many alerts of the
 * group ask for it. A delivery is remembered only once it was applied or definitively refused (an action GradSentry
 * does not know, a resolution): one that found no run to apply it to is applied when it comes again. Deliveries
 * applied to a run are remembered with the run, in its checkpoints, so a redelivery after a crash and resume is
 * still a duplicate. A delivery with no alerts is valid and does nothing.
 */
@Path("/api/alerts/alertmanager")
@Produces(MediaType.APPLICATION_JSON)
public class AlertResource {

    private static final Logger LOG = Logger.getLogger(AlertResource.class);
    private static final int REMEMBERED = 10_000;

    private final Provider<RunRegistry> runs;
    private final Provider<GradSentryConfig> config;
    /** Deliveries refused for good or applied outside a run's guard (a resume), oldest first, bounded. */
    private final Map<String, Boolean> seen = new LinkedHashMap<>(16, 0.75f, false) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, Boolean> eldest) {
            return size() > REMEMBERED;
        }
    };

    /** Both are looked up on each delivery, not when the resource is built. */
    public AlertResource(Provider<RunRegistry> runs, Provider<GradSentryConfig> config) {
        this.runs = runs;
        this.config = config;
    }

    /** One alert of a delivery; fields GradSentry does not use are accepted and ignored. */
    @JsonIgnoreProperties(ignoreUnknown = true)
    public record Alert(@NotNull Status status, @NotNull @Valid Labels labels, Map<String, String> annotations,
                        @NotNull Instant startsAt, String endsAt, String generatorURL, @NotBlank String fingerprint) {
    }

    public enum Status { FIRING, RESOLVED }

    /**
     * The labels GradSentry reads: the alert's name, the action it asks for, the run it is about and the Prometheus
     * target ({@code instance}) that run trains on. The shipped rules set all of them (deploy/prometheus).
     */
    @JsonIgnoreProperties(ignoreUnknown = true)
    public record Labels(@NotNull String alertname, String action, String run, String instance) {
    }

    /** The webhook body (payload version 4), checked whole before any alert is applied. */
    @JsonIgnoreProperties(ignoreUnknown = true)
    public record Webhook(@NotNull @Pattern(regexp = "4", message = "must be \"4\" (Alertmanager webhook payload)")
                          String version, String status, String receiver, String groupKey,
                          @NotNull(message = "must be a list (it may be empty)") List<@NotNull @Valid Alert> alerts) {
    }

    /** What one delivery did. */
    public record Outcome(int applied, int duplicates, int ignored, int resolved, List<String> notes) {
    }

    @POST
    @Consumes(MediaType.APPLICATION_JSON)
    public synchronized Outcome receive(@Valid Webhook body) {
        if (body == null) {
            throw new InvalidSettingException("alerts", "the body is empty; expected an Alertmanager "
                    + "webhook payload (version 4)");
        }
        int applied = 0;
        int duplicates = 0;
        int ignored = 0;
        int resolved = 0;
        List<String> notes = new ArrayList<>();
        Set<AlertAction> requested = EnumSet.noneOf(AlertAction.class);
        for (Alert a : body.alerts()) {
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
            // A group can carry one alert per layer; one tightening per delivery, not one per layer.
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
                String why = runs.get().training().map(t -> "run " + a.labels().run() + " is not training here "
                        + "(run " + t + " is)").orElse("no run is training");
                ignored++;
                notes.add(name + ": " + label + " not applied, " + why);
                LOG.infof("alert %s (fingerprint %s) ignored: %s", name, a.fingerprint(), why);
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
