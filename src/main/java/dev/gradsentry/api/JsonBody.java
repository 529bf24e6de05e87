package dev.gradsentry.api;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.gradsentry.config.GradSentryConfig;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import org.jboss.logging.Logger;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Reads every request body under {@code /api} on the event loop, before Quarkus REST takes a worker thread for the
 * request, and checks what it must be before it is parsed: within the size limit (also for bodies that did not
 * declare their length; see {@link BodyHeaders}) and UTF-8 (RFC 8259, section 8.1; Jackson alone would guess UTF-16
 * or UTF-32 from the first bytes and read a garbled body). Quarkus REST then reads the body from memory.
 *
 * <p>A client that announces a body and sends it slowly, or never, holds no thread: the body must arrive whole within
 * {@code gradsentry.http.body-timeout} (else 408, one WARN line), and at most {@code gradsentry.http.max-body-reads}
 * bodies are read at once (more are answered 503 at once), of which one upload ({@link UserFileResource}, which may
 * be far larger than JSON). Every refusal closes the connection.
 */
@ApplicationScoped
public class JsonBody {

    private static final Logger LOG = Logger.getLogger(JsonBody.class);

    private final BodyHeaders limit;
    private final GradSentryConfig config;
    private final ObjectMapper json;
    /** Bodies being read now. */
    private final AtomicInteger reading = new AtomicInteger();
    /** Uploads being read now: at most one, as each may hold up to gradsentry.upload.max-mib of heap. */
    private final AtomicInteger uploading = new AtomicInteger();

    public JsonBody(BodyHeaders limit, GradSentryConfig config, ObjectMapper json) {
        this.limit = limit;
        this.config = config;
        this.json = json;
    }

    void install(@Observes Router router) {
        router.route("/api/*").order(FrontRoute.BODY.order()).handler(this::read);
    }

    private void read(RoutingContext context) {
        HttpServerRequest request = context.request();
        String length = request.getHeader(HttpHeaders.CONTENT_LENGTH);
        boolean hasBody = request.getHeader(HttpHeaders.TRANSFER_ENCODING) != null
                || length != null && !length.strip().equals("0");
        if (!hasBody || request.isEnded()) {
            context.next();
            return;
        }
        int max = config.http().maxBodyReads();
        if (reading.incrementAndGet() > max) {
            reading.decrementAndGet();
            context.response().putHeader(HttpHeaders.RETRY_AFTER, "1");
            Problem.send(context, json, 503, "Service Unavailable", max + " request bodies are being read already "
                    + "(gradsentry.http.max-body-reads); try again", ProblemMappers.BODY);
            return;
        }
        boolean upload = BodyHeaders.upload(context.normalizedPath());
        if (upload && uploading.incrementAndGet() > 1) {
            uploading.decrementAndGet();
            reading.decrementAndGet();
            context.response().putHeader(HttpHeaders.RETRY_AFTER, "1");
            Problem.send(context, json, 503, "Service Unavailable", "another upload is being read; uploads are read "
                    + "one at a time, try again when it is done", ProblemMappers.BODY);
            return;
        }
        new Read(context, upload).start();
    }

    /** One body being read; every callback runs on the connection's event loop. */
    private final class Read {
        private final RoutingContext context;
        private final String path;
        private final int max;
        private final Buffer body = Buffer.buffer();
        private final boolean upload;
        private long timer;
        private boolean finished;

        Read(RoutingContext context, boolean upload) {
            this.context = context;
            this.path = context.normalizedPath();
            this.max = limit.limit(path);
            this.upload = upload;
        }

        void start() {
            HttpServerRequest request = context.request();
            long timeout = config.http().bodyTimeout().toMillis();
            timer = context.vertx().setTimer(timeout, t -> {
                if (finish()) {
                    LOG.warnf("%s %s from %s: the body was not complete after %d ms (%d bytes arrived); answered 408 "
                            + "and closed the connection", request.method(), path, request.remoteAddress(), timeout,
                            body.length());
                    Problem.send(context, json, 408, "Request Timeout", "the body did not arrive within "
                            + "gradsentry.http.body-timeout (" + timeout + " ms)", ProblemMappers.BODY);
                }
            });
            request.handler(chunk -> {
                if (finished) {
                    return;
                }
                if ((long) body.length() + chunk.length() > max) {
                    finish();
                    LOG.warnf("%s %s from %s: the body is over %d bytes; answered 413", request.method(), path,
                            request.remoteAddress(), max);
                    Problem.send(context, json, 413, "Payload Too Large",
                            limit.tooLarge(path, (long) body.length() + chunk.length()) + " (it was cut off there)",
                            ProblemMappers.BODY);
                    return;
                }
                body.appendBuffer(chunk);
            });
            request.exceptionHandler(e -> {
                if (finish()) {
                    LOG.debugf("%s %s: the connection failed while the body was read: %s", request.method(), path, e);
                }
            });
            request.endHandler(v -> {
                if (!finish()) {
                    return;
                }
                // An upload is a file of any kind: a model zip or an IDX file is not text.
                String invalid = upload ? null : notUtf8(body.getBytes());
                if (invalid != null) {
                    Problem.send(context, json, 400, "Bad Request", invalid, ProblemMappers.BODY);
                    return;
                }
                context.setBody(body);
                context.next();
            });
            request.resume();
        }

        /** True the first time: the read is over, its slot is free. */
        private boolean finish() {
            if (finished) {
                return false;
            }
            finished = true;
            context.vertx().cancelTimer(timer);
            reading.decrementAndGet();
            if (upload) {
                uploading.decrementAndGet();
            }
            return true;
        }
    }

    /** Why {@code body} is not UTF-8, or null when it is. */
    static String notUtf8(byte[] body) {
        ByteBuffer bytes = ByteBuffer.wrap(body);
        try {
            StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(bytes);
            return null;
        } catch (CharacterCodingException e) {
            int at = Math.min(bytes.position(), body.length - 1);
            return "the body is not valid UTF-8 (byte " + String.format("0x%02x", body[at]) + " at offset " + at
                    + "); send JSON encoded as UTF-8";
        }
    }
}
