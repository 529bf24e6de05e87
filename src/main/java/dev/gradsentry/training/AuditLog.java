package dev.gradsentry.training;

import dev.gradsentry.core.ExternalName;
import dev.gradsentry.core.intervene.Intervention;
import dev.gradsentry.core.intervene.InterventionListener;
import org.jboss.logging.Logger;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import java.util.function.Predicate;
import java.util.stream.Collectors;
import java.util.zip.CRC32;

/**
 * A run's interventions: kept in memory for the REST API and appended, one JSON object per line (format
 * {@link SavedJson#AUDIT}, stamped on each line: a resumed run appends to a file an older version may have begun), to
 * {@code interventions.jsonl} in the run's directory.
 *
 * <p>Events of a step are first held as pending; the run writes a checkpoint that carries them and then
 * {@link #flush()}es them to the file, forced to disk, before the next step. A crash at any point therefore leaves
 * each event either in the file or in the newest checkpoint, and a resumed run appends exactly the missing ones
 * ({@link #reconcile}). The checkpoint also records the file's length and CRC-32 at that moment ({@link #mark()}),
 * so a truncated or altered file is noticed when the run is resumed. When a run falls back to an older checkpoint
 * because the newer ones are damaged, the lines of the steps it trains again are moved to
 * {@code interventions.jsonl.superseded}: the log then holds each step's events once.
 */
public final class AuditLog implements InterventionListener, AutoCloseable {

    private static final Logger LOG = Logger.getLogger(AuditLog.class);
    /** Beside the log: lines of steps that were trained again after a fall back to an older checkpoint. */
    static final String SUPERSEDED = ".superseded";

    /** Repeated events are logged once per this interval of event time, the rest counted in one summary line. */
    static final Duration LOG_INTERVAL = Duration.ofSeconds(10);

    private final Path file;
    private final Consumer<String> log;
    private final List<Intervention> events = new ArrayList<>();
    /** Events from index {@code written} on are not in the file yet. */
    private int written;
    private long bytes;
    private final CRC32 crc = new CRC32();
    private FileChannel channel;
    /** The current log interval: when it began (event time), the events logged in it, and those only counted. */
    private Instant intervalStart;
    private final Set<String> loggedInInterval = new HashSet<>();
    private final Map<String, Integer> countedInInterval = new LinkedHashMap<>();

    /** @param file where to append; null keeps the log in memory only */
    public AuditLog(Path file) {
        this(file, LOG::info);
    }

    /** @param log where the service log's lines about events go */
    AuditLog(Path file, Consumer<String> log) {
        this.file = file;
        this.log = log;
    }

    @Override
    public synchronized void onIntervention(Intervention i) {
        events.add(i);
        if (intervalStart == null || !i.time().isBefore(intervalStart.plus(LOG_INTERVAL))) {
            summarize(i.run());
            intervalStart = i.time();
        }
        // An exploding run in observe mode has an event on nearly every step: the first of each kind in an interval
        // is logged, the rest are counted and summed up in one line when the interval ends.
        String what = ExternalName.of(i.kind()) + " (" + i.reason() + ")" + (i.applied() ? ""
                : " [observe mode: not applied]");
        if (loggedInInterval.add(what)) {
            log.accept("run " + i.run() + " step " + i.step() + ": " + what);
        } else {
            countedInInterval.merge(what, 1, Integer::sum);
        }
        if (file == null) {
            written = events.size();
        }
    }

    /** Logs one line for the events of the interval that were only counted, and starts a new interval. */
    private void summarize(String run) {
        if (!countedInInterval.isEmpty()) {
            int total = countedInInterval.values().stream().mapToInt(Integer::intValue).sum();
            log.accept("run " + run + ": " + total + " events in the last " + LOG_INTERVAL.toSeconds()
                    + " s not logged one by one: " + countedInInterval.entrySet().stream()
                    .map(e -> e.getKey() + " x" + e.getValue()).collect(Collectors.joining(", ")));
        }
        countedInInterval.clear();
        loggedInInterval.clear();
    }

    /**
     * Whether some events not in the file yet applied something; the run then checkpoints at once. Events that
     * applied nothing (observe mode) wait for the next regular checkpoint: a crash before it trains those steps
     * again, which audits them again.
     */
    public synchronized boolean hasPendingApplied() {
        for (int n = written; n < events.size(); n++) {
            if (events.get(n).applied()) {
                return true;
            }
        }
        return false;
    }

    /** Whether some events are not in the file yet; asked after every step, so it copies nothing. */
    public synchronized boolean hasPending() {
        return written < events.size();
    }

    /** Events not yet in the file, oldest first. */
    public synchronized List<Intervention> pending() {
        return List.copyOf(events.subList(written, events.size()));
    }

    /** How far the file is known to be written, for a checkpoint: all events, and the file's length and CRC. */
    public synchronized Mark mark() {
        return new Mark(events.size(), bytes, crc.getValue());
    }

    /** Appends the pending events to the file and forces them to disk; on failure they stay pending. */
    public synchronized void flush() throws IOException {
        if (file == null || written == events.size()) {
            return;
        }
        ByteArrayOutputStream text = new ByteArrayOutputStream();
        for (Intervention i : events.subList(written, events.size())) {
            text.write(SavedJson.AUDIT.write(i));
            text.write('\n');
        }
        byte[] line = text.toByteArray();
        if (channel == null) {
            Files.createDirectories(file.getParent());
            channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        }
        // Write at the known end, not in append mode: after a failed write the next attempt overwrites the partial
        // line instead of leaving it in the middle of the file.
        channel.truncate(bytes);
        ByteBuffer buffer = ByteBuffer.wrap(line);
        long at = bytes;
        while (buffer.hasRemaining()) {
            at += channel.write(buffer, at);
        }
        channel.force(false);
        bytes = at;
        crc.update(line);
        written = events.size();
    }

    /**
     * Reads the file a crashed or stopped run left, checks it against the checkpoint's {@link Mark}, and makes the
     * log whole again: events the file lacks but the checkpoint carries are appended, unreadable lines are dropped
     * (the damaged file is kept beside as {@code .damaged}). Returns what was wrong, empty when nothing.
     *
     * @param mark       the checkpoint's mark
     * @param carried    the checkpoint's pending events: the last {@code carried.size()} of {@code mark.events()}
     */
    public synchronized List<String> reconcile(Mark mark, List<Intervention> carried) throws IOException {
        List<String> problems = new ArrayList<>();
        events.clear();
        byte[] content = file != null && Files.exists(file) ? Files.readAllBytes(file) : new byte[0];
        CRC32 prefix = new CRC32();
        prefix.update(content, 0, (int) Math.min(content.length, mark.bytes()));
        if (content.length < mark.bytes()) {
            problems.add(file.getFileName() + " is " + content.length + " bytes, the checkpoint saw "
                    + mark.bytes() + ": truncated");
        } else if (prefix.getValue() != mark.crc()) {
            problems.add(file.getFileName() + " fails the CRC-32 check of its first " + mark.bytes() + " bytes");
        }
        String text = new String(content, StandardCharsets.UTF_8);
        String[] lines = text.split("\n", -1);
        List<String> good = new ArrayList<>();
        boolean damaged = false;
        for (int n = 0; n < lines.length; n++) {
            String line = lines[n];
            boolean complete = n < lines.length - 1;
            if (line.isEmpty()) {
                damaged |= complete;
                continue;
            }
            try {
                if (!complete) {
                    throw new IOException("no line end");
                }
                events.add(SavedJson.AUDIT.read(line.getBytes(StandardCharsets.UTF_8), Intervention.class));
                good.add(line);
            } catch (IOException e) {
                damaged = true;
                problems.add(file.getFileName() + " line " + (n + 1) + " is unreadable and was dropped ("
                        + (complete ? "not a valid event" : "cut off") + ")");
            }
        }
        long expectedBefore = mark.events() - carried.size();
        if (events.size() < expectedBefore) {
            problems.add(file.getFileName() + " holds " + events.size() + " events, the checkpoint expected at least "
                    + expectedBefore + ": " + (expectedBefore - events.size()) + " lost");
        }
        int firstMissing = (int) Math.max(0, events.size() - expectedBefore);
        List<Intervention> missing = firstMissing < carried.size()
                ? carried.subList(firstMissing, carried.size()) : List.of();
        boolean superseded = events.size() > mark.events();
        if (superseded) {
            // The run continues from an older checkpoint (the newer ones were damaged): the steps these events
            // belong to are trained again and audited again, so the file keeps only what the checkpoint saw.
            int from = (int) mark.events();
            Path aside = file.resolveSibling(file.getFileName() + SUPERSEDED);
            Files.write(aside, (String.join("\n", good.subList(from, good.size())) + "\n")
                    .getBytes(StandardCharsets.UTF_8), StandardOpenOption.CREATE, StandardOpenOption.APPEND);
            problems.add(file.getFileName() + " held " + (events.size() - from) + " events from after the "
                    + "checkpoint; the steps they belong to are trained again, so they were moved to "
                    + aside.getFileName());
            events.subList(from, events.size()).clear();
            good.subList(from, good.size()).clear();
        }
        byte[] kept = good.stream().map(l -> l + "\n").collect(Collectors.joining()).getBytes(StandardCharsets.UTF_8);
        if (damaged) {
            Files.copy(file, file.resolveSibling(file.getFileName() + ".damaged"),
                    StandardCopyOption.REPLACE_EXISTING);
        }
        if (damaged || superseded) {
            AtomicFile.replace(file, kept);
        }
        close();
        bytes = kept.length;
        crc.reset();
        crc.update(kept);
        written = events.size();
        events.addAll(missing);
        flush();
        return problems;
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
        if (!events.isEmpty()) {
            summarize(events.get(events.size() - 1).run());
        }
        if (channel != null) {
            try {
                channel.close();
            } catch (IOException e) {
                LOG.warnf("closing the audit log %s: %s", file, e.getMessage());
            }
            channel = null;
        }
    }

    /**
     * How far a log was when a checkpoint was taken.
     *
     * @param events all events up to then, written or pending
     * @param bytes  the file's length then (written events only)
     * @param crc    CRC-32 of those bytes
     */
    public record Mark(long events, long bytes, long crc) {
    }
}
