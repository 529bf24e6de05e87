package dev.gradsentry.training;

import dev.gradsentry.core.probe.StepStats;
import org.jboss.logging.Logger;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;

/**
 * A run's per-step history: every step's statistics, appended to segment files in {@code runs/<id>/steps/}
 * ({@link StepFile} has the format) by a writer thread of its own, and read back by step range.
 *
 * <p>The training thread only hands each step to a bounded queue of {@value #QUEUE_CAPACITY} entries and returns; it
 * never waits for the disk. The writer takes up to {@value #BATCH} entries at a time. When the queue is full (the disk stalls for longer than the queue lasts: about 40 s at
 * 200 steps a second) the step is dropped from the history, counted in {@link #dropped()} and logged; training goes
 * on. Before each checkpoint the run waits (at most {@link #SYNC_WAIT}) until the queue is written and forced to
 * disk, so after a crash the history holds every step up to the checkpoint; {@link #recover} then cuts off a record
 * the crash left half-written and every step from the checkpoint on, which the resumed run trains, and so writes,
 * again.
 *
 * <p>Retention: the segments of a run together stay within {@code keepBytes}; when a new segment would pass it, the
 * oldest are deleted, so the history keeps the newest steps.
 */
public final class StepHistory implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(StepHistory.class);

    static final String DIR = "steps";
    /** Steps the training thread may be ahead of the disk before steps are dropped. */
    static final int QUEUE_CAPACITY = 8192;
    /** Entries the writer takes off the queue at once. */
    static final int BATCH = 256;
    /** The longest a checkpoint waits for the history to reach the disk. */
    static final Duration SYNC_WAIT = Duration.ofSeconds(2);
    /** Segments per retention limit: deleting the oldest drops about this fraction of the kept history. */
    private static final int SEGMENTS = 8;
    private static final long MIN_SEGMENT = 64 * 1024;

    private final Path dir;
    private final long keepBytes;
    private final long segmentBytes;
    private final BlockingQueue<Entry> queue = new ArrayBlockingQueue<>(QUEUE_CAPACITY);
    private final AtomicLong dropped = new AtomicLong();
    private volatile List<String> layers = List.of();
    /** Touched by the training thread only. */
    private Thread writer;

    /** Writer state, touched by the writer thread only. */
    private FileChannel segment;
    private long segmentSize;
    /** The current segment's header length: a segment holding no more than that holds no record yet. */
    private long headerLength;
    private ByteBuffer buffer = ByteBuffer.allocate(1 << 16);
    private boolean failing;

    /**
     * @param dir       the run's directory; the segments go into its {@code steps/}
     * @param keepBytes the most the segments of the run may take together
     */
    public StepHistory(Path dir, long keepBytes) {
        if (keepBytes < MIN_SEGMENT) {
            throw new IllegalArgumentException("keepBytes must be >= " + MIN_SEGMENT);
        }
        this.dir = dir.resolve(DIR);
        this.keepBytes = keepBytes;
        this.segmentBytes = Math.max(MIN_SEGMENT, keepBytes / SEGMENTS);
    }

    /** What the queue carries to the writer. */
    private sealed interface Entry {
    }

    private record Step(long step, StepStats stats, Map<String, Double> thresholds, boolean clipped,
                        double heldOut) implements Entry {
    }

    private record Evaluation(long step, double value) implements Entry {
    }

    private record Sync(CountDownLatch done) implements Entry {
    }

    private record Stop() implements Entry {
    }

    /** The network's layer names, in the order of every row's layers; set when the probe is attached. */
    void layers(List<String> names) {
        layers = List.copyOf(names);
    }

    /**
     * Hands one step to the writer; on the training thread, right after the step. Returns false when the queue is
     * full and the step was dropped.
     *
     * @param step       0-based index of the step
     * @param thresholds the clip thresholds in force ({@code ClipDecision#thresholds()}), by layer or {@code global}
     * @param clipped    whether the decision changed the step's gradient
     * @param heldOut    the held-out metric measured right after the step, NaN when none
     */
    boolean offer(long step, StepStats stats, Map<String, Double> thresholds, boolean clipped, double heldOut) {
        return enqueue(new Step(step, stats, thresholds, clipped, heldOut));
    }

    /** Records an evaluation after the step with index {@code step}, whose record is already queued. */
    boolean offerEvaluation(long step, double value) {
        return enqueue(new Evaluation(step, value));
    }

    private boolean enqueue(Entry e) {
        startWriter();
        if (queue.offer(e)) {
            return true;
        }
        if (dropped.getAndIncrement() == 0) {
            LOG.warnf("the step history in %s cannot keep up with training; steps are left out of it until it does "
                    + "(the run trains on)", dir);
        }
        return false;
    }

    private void startWriter() {
        if (writer != null && writer.isAlive()) {
            return;
        }
        writer = new Thread(this::write, "gradsentry-history-" + dir.getParent().getFileName());
        writer.setDaemon(true);
        writer.start();
    }

    /**
     * Waits until everything queued so far is written and forced to disk, at most {@code wait}; false when it took
     * longer (the history then lags, nothing is lost).
     */
    boolean sync(Duration wait) {
        if (writer == null || !writer.isAlive()) {
            return true;
        }
        Sync s = new Sync(new CountDownLatch(1));
        long deadline = System.nanoTime() + wait.toNanos();
        try {
            return queue.offer(s, wait.toNanos(), TimeUnit.NANOSECONDS)
                    && s.done().await(deadline - System.nanoTime(), TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /** Writes what is queued, forces it to disk and ends the writer thread (a later step starts a new one). */
    @Override
    public void close() {
        Thread w = writer;
        if (w == null || !w.isAlive()) {
            return;
        }
        try {
            if (queue.offer(new Stop(), SYNC_WAIT.toNanos(), TimeUnit.NANOSECONDS)) {
                w.join(SYNC_WAIT.toMillis());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Steps left out because the queue was full, since this process started the run. */
    public long dropped() {
        return dropped.get();
    }

    private void write() {
        List<Entry> batch = new ArrayList<>();
        try {
            while (true) {
                batch.add(queue.take());
                queue.drainTo(batch, BATCH - 1);
                for (Entry e : batch) {
                    if (e instanceof Step s) {
                        append(s);
                    } else if (e instanceof Evaluation v) {
                        append(v);
                    } else if (e instanceof Sync s) {
                        flush(true);
                        s.done().countDown();
                    } else {
                        flush(true);
                        closeSegment();
                        return;
                    }
                }
                batch.clear();
                flush(false);
            }
        } catch (InterruptedException e) {
            closeSegment();
        }
    }

    private void append(Step s) {
        List<String> names = layers;
        int room = StepFile.maxStepBytes(names.size());
        if (room > StepFile.MAX_PAYLOAD || s.stats().layers().size() != names.size()) {
            dropped.incrementAndGet();
            return;
        }
        reserve(room);
        int start = buffer.position();
        StepFile.putStep(buffer, s.step(), s.stats(), s.thresholds(), s.clipped(), s.heldOut());
        rollIfFull(s.step(), names, buffer.position() - start);
    }

    /**
     * An evaluation record always goes into the segment of the step record it belongs to, whatever its size: a
     * segment then never begins with a record of a step whose row is in the one before.
     */
    private void append(Evaluation v) {
        reserve(64);
        StepFile.putEvaluation(buffer, v.step(), v.value());
        if (segment == null && !failing) {
            openNewest(layers);
        }
        if (segment == null) {
            create(v.step(), layers);
        }
    }

    private void reserve(int bytes) {
        if (buffer.remaining() < bytes) {
            flush(false);
            if (buffer.capacity() < bytes) {
                buffer = ByteBuffer.allocate(bytes);
            }
        }
    }

    /**
     * Makes sure the record just put in the buffer (its last {@code length} bytes) goes into a segment with room:
     * before it, the buffered records are written to the current segment and a new one begins at {@code step}.
     */
    private void rollIfFull(long step, List<String> names, int length) {
        if (segment == null && !failing) {
            openNewest(names);
        }
        long buffered = buffer.position() - length;
        if (segment != null && segmentSize + buffered + length > segmentBytes
                && segmentSize + buffered > headerLength) {
            byte[] record = new byte[length];
            buffer.get(buffer.position() - length, record);
            buffer.position(buffer.position() - length);
            flush(false);
            closeSegment();
            create(step, names);
            buffer.put(record);
            retain();
        } else if (segment == null) {
            create(step, names);
        }
    }

    /** Continues the newest segment when it is for the same layers and has room; otherwise none is open. */
    private void openNewest(List<String> names) {
        try {
            List<Path> all = segments();
            if (all.isEmpty()) {
                return;
            }
            Path newest = all.get(all.size() - 1);
            StepFile.Scan scan = StepFile.read(newest, new StepFile.Records() {
                @Override
                public boolean step(long offset, StepRow row) {
                    return true;
                }

                @Override
                public boolean evaluation(long offset, long step, double value) {
                    return true;
                }
            });
            if (!scan.layers().equals(names) || scan.validEnd() >= segmentBytes) {
                return;
            }
            segment = FileChannel.open(newest, StandardOpenOption.WRITE);
            segment.truncate(scan.validEnd());
            segmentSize = scan.validEnd();
            headerLength = StepFile.header(names).length;
        } catch (IOException e) {
            fail(e);
        }
    }

    private void create(long firstStep, List<String> names) {
        try {
            Files.createDirectories(dir);
            segment = FileChannel.open(dir.resolve(StepFile.name(firstStep)), StandardOpenOption.CREATE,
                    StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING);
            byte[] header = StepFile.header(names);
            segment.write(ByteBuffer.wrap(header), 0);
            segmentSize = header.length;
            headerLength = header.length;
            failing = false;
        } catch (IOException e) {
            fail(e);
        }
    }

    /** Writes the buffered records to the current segment; forces it to disk when {@code force}. */
    private void flush(boolean force) {
        buffer.flip();
        try {
            if (segment != null && buffer.hasRemaining()) {
                while (buffer.hasRemaining()) {
                    segmentSize += segment.write(buffer, segmentSize);
                }
            }
            if (segment != null && force) {
                segment.force(false);
            }
        } catch (IOException e) {
            fail(e);
        } finally {
            buffer.clear();
        }
    }

    /**
     * A write failed (disk full, directory gone): the segment is closed and the next record starts a new one; the
     * records in between are lost from the history, the run trains on.
     */
    private void fail(IOException e) {
        if (!failing) {
            LOG.errorf("cannot write the step history in %s (%s); steps are left out of it until it can", dir,
                    e.toString());
        }
        failing = true;
        closeSegment();
        buffer.clear();
    }

    private void closeSegment() {
        if (segment != null) {
            try {
                segment.close();
            } catch (IOException e) {
                LOG.warnf("closing a step history segment in %s: %s", dir, e.getMessage());
            }
            segment = null;
        }
    }

    /** Deletes the oldest segments until the rest fit in {@code keepBytes}; the current one is always kept. */
    private void retain() {
        try {
            List<Path> all = segments();
            long total = 0;
            for (Path p : all) {
                total += size(p);
            }
            // The newest segment has just begun and grows to segmentBytes: room is made for all of it.
            total += segmentBytes - size(all.get(all.size() - 1));
            for (int i = 0; i < all.size() - 1 && total > keepBytes; i++) {
                total -= size(all.get(i));
                Files.deleteIfExists(all.get(i));
            }
        } catch (IOException e) {
            LOG.warnf("cannot trim the step history in %s: %s", dir, e.getMessage());
        }
    }

    private static long size(Path p) {
        try {
            return Files.size(p);
        } catch (IOException e) {
            return 0;
        }
    }

    /** The segment files, oldest (lowest first step) first. */
    List<Path> segments() throws IOException {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> StepFile.firstStep(p) >= 0).sorted(Comparator.comparingLong(StepFile::firstStep))
                    .toList();
        }
    }

    /**
     * Makes the history of a run found on disk fit its checkpoint, before the run writes to it: a record a crash cut
     * off is cut away, and so is every step from {@code fromStep} on (the checkpoint's step count), since the
     * resumed run trains those steps again. Returns what was wrong, empty when nothing.
     */
    List<String> recover(long fromStep) throws IOException {
        List<String> problems = new ArrayList<>();
        List<Path> all = segments();
        for (int i = all.size() - 1; i >= 0; i--) {
            Path file = all.get(i);
            if (StepFile.firstStep(file) >= fromStep) {
                Files.delete(file);
                continue;
            }
            long[] cut = {-1};
            StepFile.Scan scan = StepFile.read(file, new StepFile.Records() {
                @Override
                public boolean step(long offset, StepRow row) {
                    return keep(offset, row.step());
                }

                @Override
                public boolean evaluation(long offset, long step, double value) {
                    return keep(offset, step);
                }

                private boolean keep(long offset, long step) {
                    if (step >= fromStep) {
                        cut[0] = offset;
                        return false;
                    }
                    return true;
                }
            });
            long end = cut[0] >= 0 ? cut[0] : scan.validEnd();
            if (scan.problem() != null) {
                problems.add("step history " + file.getFileName() + ": " + scan.problem() + "; cut back to byte "
                        + end);
            }
            if (end < Files.size(file)) {
                try (FileChannel c = FileChannel.open(file, StandardOpenOption.WRITE)) {
                    c.truncate(end);
                }
            }
            break;
        }
        if (layers.isEmpty()) {
            layers = newestLayers();
        }
        return problems;
    }

    /** The layer names of the rows: the network's, or those of the newest segment for a run not trained yet. */
    public List<String> layerNames() {
        List<String> l = layers;
        if (l.isEmpty()) {
            try {
                l = newestLayers();
            } catch (IOException e) {
                return List.of();
            }
        }
        return l;
    }

    private List<String> newestLayers() throws IOException {
        List<Path> all = segments();
        for (int i = all.size() - 1; i >= 0; i--) {
            try {
                return StepFile.layers(all.get(i));
            } catch (IOException e) {
                // unreadable header: an older segment may still tell
            }
        }
        return List.of();
    }

    /** Receives rows in step order; returns false to stop. */
    @FunctionalInterface
    public interface RowSink {
        boolean row(StepRow row) throws IOException;
    }

    /**
     * Reads the rows with {@code from <= step <= to} whose step is a multiple of {@code every}, or that carry a
     * held-out metric, oldest first, into {@code sink}; a row carries the metric measured right after its step.
     * Safe while the run writes: a record being written is not read yet.
     */
    public void read(long from, long to, long every, RowSink sink) throws IOException {
        Selection selection = new Selection(from, to, every, sink);
        List<Path> all = segments();
        for (int i = 0; i < all.size() && !selection.stopped; i++) {
            if (i + 1 < all.size() && StepFile.firstStep(all.get(i + 1)) <= from) {
                continue; // every step of this segment comes before the range
            }
            if (StepFile.firstStep(all.get(i)) > to) {
                break;
            }
            try {
                StepFile.read(all.get(i), selection);
            } catch (NoSuchFileException e) {
                // deleted by retention since it was listed: its steps are gone
            }
            if (selection.failure != null) {
                throw selection.failure;
            }
        }
        if (selection.pending != null && !selection.stopped) {
            sink.row(selection.pending);
        }
    }

    /**
     * Picks the rows of a read. A row is handed on only once the next record is read, because an evaluation record
     * that follows it belongs to it; the last row skipped is kept for the same reason.
     */
    private static final class Selection implements StepFile.Records {
        private final long from;
        private final long to;
        private final long every;
        private final RowSink sink;
        private StepRow pending;
        private StepRow skipped;
        private boolean stopped;
        private IOException failure;

        Selection(long from, long to, long every, RowSink sink) {
            this.from = from;
            this.to = to;
            this.every = every;
            this.sink = sink;
        }

        @Override
        public boolean step(long offset, StepRow row) {
            if (row.step() > to) {
                stopped = true;
                return emit(null);
            }
            if (row.step() < from) {
                return true;
            }
            if (row.step() % every != 0 && Double.isNaN(row.heldOut())) {
                skipped = row;
                return true;
            }
            return emit(row);
        }

        @Override
        public boolean evaluation(long offset, long step, double value) {
            if (pending != null && pending.step() == step) {
                pending = pending.withHeldOut(value);
            } else if (skipped != null && skipped.step() == step) {
                StepRow row = skipped.withHeldOut(value);
                skipped = null;
                return emit(row);
            }
            return true;
        }

        /** Hands on the pending row and makes {@code next} the pending one; false once the sink stops. */
        private boolean emit(StepRow next) {
            StepRow previous = pending;
            pending = next;
            try {
                if (previous != null && !sink.row(previous)) {
                    stopped = true;
                }
            } catch (IOException e) {
                failure = e;
                stopped = true;
            }
            if (stopped) {
                pending = null;
            }
            return !stopped;
        }
    }
}
