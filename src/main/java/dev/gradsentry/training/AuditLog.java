package dev.gradsentry.training;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import dev.gradsentry.core.intervene.Intervention;
import dev.gradsentry.core.intervene.InterventionListener;
import org.jboss.logging.Logger;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;

/**
 * A run's interventions: appended one JSON object per line to {@code interventions.jsonl} in the run's directory,
 * each line forced to disk before the next step, and kept in memory for the REST API.
 */
public final class AuditLog implements InterventionListener, AutoCloseable {

    private static final Logger LOG = Logger.getLogger(AuditLog.class);
    static final ObjectMapper JSON = new ObjectMapper().registerModule(new JavaTimeModule())
            .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS);

    private final Path file;
    private final List<Intervention> events = new ArrayList<>();
    private FileChannel channel;
    private boolean writeFailed;

    /** @param file where to append; null keeps the log in memory only */
    public AuditLog(Path file) {
        this.file = file;
    }

    public Path file() {
        return file;
    }

    @Override
    public synchronized void onIntervention(Intervention i) {
        events.add(i);
        LOG.infof("run %s step %d: %s (%s)%s", i.run(), i.step(), i.kind(), i.reason(), i.applied() ? ""
                : " [observe mode: not applied]");
        if (file == null || writeFailed) {
            return;
        }
        try {
            if (channel == null) {
                Files.createDirectories(file.getParent());
                channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                        StandardOpenOption.APPEND);
            }
            byte[] line = (JSON.writeValueAsString(i) + "\n").getBytes(StandardCharsets.UTF_8);
            ByteBuffer buffer = ByteBuffer.wrap(line);
            while (buffer.hasRemaining()) {
                channel.write(buffer);
            }
            channel.force(false);
        } catch (IOException e) {
            writeFailed = true;
            LOG.errorf("cannot append to the audit log %s (%s); interventions stay in memory only", file,
                    e.getMessage());
        }
    }

    /** Matching interventions, oldest first, from {@code offset}, at most {@code limit}. */
    public synchronized List<Intervention> page(Predicate<Intervention> filter, int offset, int limit) {
        return events.stream().filter(filter).skip(offset).limit(limit).toList();
    }

    public synchronized long count(Predicate<Intervention> filter) {
        return events.stream().filter(filter).count();
    }

    @Override
    public synchronized void close() {
        if (channel != null) {
            try {
                channel.close();
            } catch (IOException e) {
                LOG.warnf("closing the audit log %s: %s", file, e.getMessage());
            }
            channel = null;
        }
    }
}
