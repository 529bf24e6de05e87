package dev.gradsentry.api;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import dev.gradsentry.core.InvalidSettingException;
import jakarta.validation.Valid;
import jakarta.validation.constraints.NotBlank;
import jakarta.validation.constraints.NotNull;
import jakarta.validation.constraints.Pattern;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;

import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * Alertmanager's webhook (payload version 4): the delivery is checked whole, then its alerts go to the
 * {@link AlertInbox}, which applies each to the run it names. A delivery with no alerts is valid and does nothing.
 */
@Path("/api/alerts/alertmanager")
@Produces(MediaType.APPLICATION_JSON)
public class AlertResource {

    private final AlertInbox inbox;

    public AlertResource(AlertInbox inbox) {
        this.inbox = inbox;
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
    public Outcome receive(@Valid Webhook body) {
        if (body == null) {
            throw new InvalidSettingException("alerts", "the body is empty; expected an Alertmanager "
                    + "webhook payload (version 4)");
        }
        return inbox.apply(body.alerts());
    }
}
