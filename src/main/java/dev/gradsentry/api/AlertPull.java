package dev.gradsentry.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.gradsentry.api.AlertResource.Alert;
import dev.gradsentry.api.AlertResource.Labels;
import dev.gradsentry.api.AlertResource.Outcome;
import dev.gradsentry.api.AlertResource.Status;
import dev.gradsentry.config.GradSentryConfig;
import dev.gradsentry.training.RunRegistry;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import org.jboss.logging.Logger;

import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Pull mode ({@code gradsentry.alerts.pull.url}): while a run trains, every {@code interval} this service reads the
 * alerts about that run from Alertmanager's API v2 ({@code GET /api/v2/alerts} with the label filters
 * {@code run="<id>"}, {@code action=~".+"} and, when {@code gradsentry.alerts.instance} is set, {@code instance}) and
 * hands them to the {@link AlertInbox}, as the webhook does. Each service thus gets its own alerts however many sit
 * behind one Service address. Only active (not silenced, not inhibited) alerts are read; the API does not list
 * resolved ones, so {@code relax-on-resolve} works with the webhook only.
 */
@ApplicationScoped
public class AlertPull {

    private static final Logger LOG = Logger.getLogger(AlertPull.class);

    private final AlertInbox inbox;
    private final RunRegistry runs;
    private final GradSentryConfig config;
    private final ObjectMapper json;
    private ScheduledExecutorService poller;
    private HttpClient http;
    /** Whether the last poll failed, so that a lasting outage is logged once and its end once. */
    private boolean failing;

    public AlertPull(AlertInbox inbox, RunRegistry runs, GradSentryConfig config, ObjectMapper json) {
        this.inbox = inbox;
        this.runs = runs;
        this.config = config;
        this.json = json;
    }

    void onStart(@Observes StartupEvent event) {
        Optional<String> url = config.alerts().pull().url();
        if (url.isEmpty()) {
            return;
        }
        Duration interval = config.alerts().pull().interval();
        http = HttpClient.newBuilder().connectTimeout(interval).build();
        poller = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "gradsentry-alert-pull");
            t.setDaemon(true);
            return t;
        });
        poller.scheduleWithFixedDelay(this::pollQuietly, interval.toMillis(), interval.toMillis(),
                TimeUnit.MILLISECONDS);
        LOG.infof("pulling this service's alerts from %s every %s (gradsentry.alerts.pull)", url.get(),
                interval.toMillis() + " ms");
    }

    void onStop(@Observes ShutdownEvent event) {
        if (poller != null) {
            poller.shutdownNow();
        }
    }

    private void pollQuietly() {
        try {
            poll().ifPresent(o -> {
                if (o.applied() > 0) {
                    LOG.infof("pulled alerts: %s", String.join("; ", o.notes()));
                }
            });
        } catch (IOException | RuntimeException e) {
            if (!failing) {
                LOG.warnf("cannot read alerts from %s: %s (retrying every %s)", config.alerts().pull().url().get(),
                        e.getMessage(), config.alerts().pull().interval().toMillis() + " ms");
            }
            failing = true;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** One poll: empty when no run trains. */
    Optional<Outcome> poll() throws IOException, InterruptedException {
        Optional<String> run = runs.training();
        if (run.isEmpty()) {
            return Optional.empty();
        }
        StringBuilder query = new StringBuilder("?active=true&silenced=false&inhibited=false");
        query.append("&filter=").append(encode("run=\"" + run.get() + "\""));
        query.append("&filter=").append(encode("action=~\".+\""));
        config.alerts().instance().ifPresent(i -> query.append("&filter=").append(encode("instance=\"" + i + "\"")));
        String base = config.alerts().pull().url().orElseThrow().replaceAll("/+$", "");
        HttpResponse<String> answer = http.send(HttpRequest.newBuilder(URI.create(base + "/api/v2/alerts" + query))
                .timeout(config.alerts().pull().interval()).header("Accept", "application/json").GET().build(),
                HttpResponse.BodyHandlers.ofString());
        if (answer.statusCode() != 200) {
            throw new IOException("HTTP " + answer.statusCode() + " " + answer.body().strip());
        }
        if (failing) {
            LOG.infof("reading alerts from %s again", base);
            failing = false;
        }
        List<Alert> alerts = new ArrayList<>();
        for (JsonNode a : json.readTree(answer.body())) {
            JsonNode labels = a.path("labels");
            if (!labels.path("alertname").isTextual() || !a.path("fingerprint").isTextual()
                    || !a.path("startsAt").isTextual()) {
                LOG.warnf("alert without alertname, fingerprint or startsAt from Alertmanager skipped: %s", a);
                continue;
            }
            alerts.add(new Alert(Status.FIRING, new Labels(labels.path("alertname").asText(),
                    text(labels, "action"), text(labels, "run"), text(labels, "instance")), null,
                    Instant.parse(a.path("startsAt").asText()), text(a, "endsAt"), text(a, "generatorURL"),
                    a.path("fingerprint").asText()));
        }
        return Optional.of(inbox.apply(alerts));
    }

    private static String text(JsonNode node, String field) {
        JsonNode v = node.path(field);
        return v.isTextual() ? v.asText() : null;
    }

    private static String encode(String matcher) {
        return URLEncoder.encode(matcher, StandardCharsets.UTF_8);
    }
}
