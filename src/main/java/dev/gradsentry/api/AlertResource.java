package dev.gradsentry.api;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import dev.gradsentry.config.GradSentryConfig;
import dev.gradsentry.core.intervene.ExternalRequest;
import dev.gradsentry.training.RunRegistry;
import jakarta.inject.Provider;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import org.jboss.logging.Logger;

import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Alertmanager's webhook (payload version 4) into the guard: each firing alert whose {@code action} label names an
 * intervention is applied to the running run through the same engine as automatic interventions, audited with
 * reason {@code alert} and the alert's name and fingerprint. Alertmanager re-sends groups, so a delivery is applied
 * once per (fingerprint, startsAt, status), and each action at most once per delivery however many alerts of the
 * group ask for it. A delivery with no alerts is valid and does nothing.
 */
@Path("/api/alerts/alertmanager")
@Produces(MediaType.APPLICATION_JSON)
public class AlertResource {

    private static final Logger LOG = Logger.getLogger(AlertResource.class);
    private static final int REMEMBERED = 10_000;
    static final Map<String, ExternalRequest.Action> ACTIONS = Map.of(
            "enable-clipping", ExternalRequest.Action.ENABLE_CLIPPING,
            "tighten-clipping", ExternalRequest.Action.TIGHTEN_CLIPPING,
            "relax-clipping", ExternalRequest.Action.RELAX_CLIPPING,
            "rollback", ExternalRequest.Action.ROLLBACK,
            "lr-backoff", ExternalRequest.Action.LR_BACKOFF,
            "pause", ExternalRequest.Action.PAUSE);

    private final Provider<RunRegistry> runs;
    private final Provider<GradSentryConfig> config;
    /** Deliveries already handled, oldest first, bounded. */
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

    @JsonIgnoreProperties(ignoreUnknown = true)
    public record Alert(String status, Map<String, String> labels, Map<String, String> annotations, String startsAt,
                        String endsAt, String generatorURL, String fingerprint) {
    }

    /** The webhook body; fields GradSentry does not use are accepted and ignored. */
    @JsonIgnoreProperties(ignoreUnknown = true)
    public record Webhook(String version, String status, String receiver, String groupKey, List<Alert> alerts) {
    }

    /** What one delivery did. */
    public record Outcome(int applied, int duplicates, int ignored, int resolved, List<String> notes) {
    }

    @POST
    @Consumes(MediaType.APPLICATION_JSON)
    public synchronized Outcome receive(Webhook body) {
        validate(body);
        int applied = 0;
        int duplicates = 0;
        int ignored = 0;
        int resolved = 0;
        List<String> notes = new ArrayList<>();
        Set<ExternalRequest.Action> requested = EnumSet.noneOf(ExternalRequest.Action.class);
        for (Alert a : body.alerts()) {
            String name = a.labels().get("alertname");
            String key = a.fingerprint() + "|" + a.startsAt() + "|" + a.status();
            if (seen.putIfAbsent(key, Boolean.TRUE) != null) {
                duplicates++;
                continue;
            }
            String action = a.labels().getOrDefault("action", "none");
            String detail = "alert " + name + " fingerprint " + a.fingerprint() + " startsAt " + a.startsAt();
            if (a.status().equals("resolved")) {
                resolved++;
                LOG.infof("alert %s resolved (fingerprint %s)", name, a.fingerprint());
                if (config.get().alerts().relaxOnResolve() && action.equals("tighten-clipping")
                        && runs.get().requestOnActive(new ExternalRequest(ExternalRequest.Action.RELAX_CLIPPING, "alert",
                        detail + " resolved"))) {
                    notes.add(name + ": resolved, clipping relaxed");
                }
                continue;
            }
            if (action.equals("resume")) {
                Optional<String> paused = runs.get().pausedCurrent();
                if (paused.isPresent()) {
                    runs.get().resume(paused.get(), "alert", detail);
                    applied++;
                    notes.add(name + ": resumed run " + paused.get());
                } else {
                    ignored++;
                    notes.add(name + ": resume not applied, no run is paused");
                }
                continue;
            }
            ExternalRequest.Action mapped = ACTIONS.get(action);
            if (mapped == null) {
                ignored++;
                notes.add(name + ": action '" + action + "' is not one GradSentry applies; ignored");
                LOG.infof("alert %s with action '%s' ignored (known actions: %s, resume)", name, action,
                        ACTIONS.keySet());
                continue;
            }
            // A group can carry one alert per layer; one tightening per delivery, not one per layer.
            if (!requested.add(mapped)) {
                duplicates++;
                notes.add(name + ": " + action + " already requested by an earlier alert of this delivery");
                continue;
            }
            if (runs.get().requestOnActive(new ExternalRequest(mapped, "alert", detail))) {
                applied++;
                notes.add(name + ": " + action + " queued for the next step");
            } else {
                ignored++;
                notes.add(name + ": " + action + " not applied, no run is training");
            }
        }
        return new Outcome(applied, duplicates, ignored, resolved, notes);
    }

    /** Checks the whole body before anything is applied, so a malformed delivery changes nothing. */
    private static void validate(Webhook body) {
        if (body == null) {
            throw new ProblemMappers.BadRequestProblem("alerts", "the body is empty; expected an Alertmanager "
                    + "webhook payload (version 4)");
        }
        if (!"4".equals(body.version())) {
            throw new ProblemMappers.BadRequestProblem("version", "version must be \"4\" (Alertmanager webhook "
                    + "payload), was " + body.version());
        }
        if (body.alerts() == null) {
            throw new ProblemMappers.BadRequestProblem("alerts", "alerts must be a list (it may be empty)");
        }
        for (int i = 0; i < body.alerts().size(); i++) {
            Alert a = body.alerts().get(i);
            String at = "alerts[" + i + "]";
            if (a == null) {
                throw new ProblemMappers.BadRequestProblem(at, at + " is null");
            }
            if (!"firing".equals(a.status()) && !"resolved".equals(a.status())) {
                throw new ProblemMappers.BadRequestProblem(at + ".status", at + ".status must be firing or resolved, "
                        + "was " + a.status());
            }
            if (a.labels() == null || a.labels().get("alertname") == null) {
                throw new ProblemMappers.BadRequestProblem(at + ".labels.alertname", at + ".labels.alertname is "
                        + "required");
            }
            if (a.fingerprint() == null || a.fingerprint().isBlank()) {
                throw new ProblemMappers.BadRequestProblem(at + ".fingerprint", at + ".fingerprint is required");
            }
            try {
                Instant.parse(a.startsAt() == null ? "" : a.startsAt());
            } catch (DateTimeParseException e) {
                throw new ProblemMappers.BadRequestProblem(at + ".startsAt", at + ".startsAt must be an RFC 3339 "
                        + "time, was " + a.startsAt());
            }
        }
    }
}
