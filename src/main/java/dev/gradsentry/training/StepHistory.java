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
import java.util.concurrent.locks.LockSupport;
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
    /** How long the writer sleeps when nothing is queued; steps wait at most this long before they are written. */
    private static final long IDLE_PARK_NANOS = TimeUnit.MILLISECONDS.toNanos(50);
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
    public void layers(List<String> names) {
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
    public boolean offer(long step, StepStats stats, Map<String, Double> thresholds, boolean clipped, double heldOut) {
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
            return offerAndWake(s, wait)
                    && s.done().await(deadline - System.nanoTime(), TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /** Queues an entry the writer must see now (a sync or a stop) and wakes it from its idle sleep. */
    private boolean offerAndWake(Entry e, Duration wait) throws InterruptedException {
        boolean queued = queue.offer(e, wait.toNanos(), TimeUnit.NANOSECONDS);
        LockSupport.unpark(writer);
        return queued;
    }

    /** Writes what is queued, forces it to disk and ends the writer thread (a later step starts a new one). */
    @Override
    public void close() {
        Thread w = writer;
        if (w == null || !w.isAlive()) {
            return;
        }
        try {
            if (offerAndWake(new Stop(), SYNC_WAIT)) {
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
        while (true) {
            if (queue.drainTo(batch, BATCH) == 0) {
                if (Thread.interrupted()) {
                    closeSegment();
                    return;
                }
                // Sleep rather than wait on the queue: a writer waiting in take() is woken by every offer, and that
                // wake-up cost the training thread about a point of its step (./bench overhead, 1 December). A sync
                // or a stop unparks it at once.
                LockSupport.parkNanos(this, IDLE_PARK_NANOS);
                continue;
            }
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
     * Reads the steps with {@code from <= step <= to}, oldest first, into {@code sink}, one row per bucket of
     * {@code every} steps (the steps {@code k * every} to {@code k * every + every - 1}, cut to the range), so that
     * nothing that happened between two rows is lost: see {@link Bucket} for how a bucket's steps become one row.
     * With {@code every = 1} each row is one step as it was written. Safe while the run writes: a record being
     * written is not read yet.
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
        if (!selection.stopped) {
            selection.emit();
        }
    }

    /**
     * Gathers the rows of a read into buckets. A bucket is handed on once a step of a later bucket (or the end of the
     * range) is read: an evaluation record follows the step it belongs to, so by then the bucket has all of its own.
     */
    private static final class Selection implements StepFile.Records {
        private final long from;
        private final long to;
        private final long every;
        private final RowSink sink;
        private Bucket bucket;
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
                emit();
                stopped = true;
                return false;
            }
            if (row.step() < from) {
                return true;
            }
            long index = Math.floorDiv(row.step(), every);
            if (bucket != null && bucket.index != index && !emit()) {
                return false;
            }
            if (bucket == null) {
                bucket = new Bucket(index, row);
            } else {
                bucket.add(row);
            }
            return true;
        }

        @Override
        public boolean evaluation(long offset, long step, double value) {
            if (bucket != null && step >= from && step <= to && Math.floorDiv(step, every) == bucket.index) {
                bucket.heldOut = value;
            }
            return true;
        }

        /** Hands on the bucket being gathered, if any; false once the sink stops. */
        boolean emit() {
            Bucket b = bucket;
            bucket = null;
            try {
                if (b != null && !sink.row(b.row())) {
                    stopped = true;
                }
            } catch (IOException e) {
                failure = e;
                stopped = true;
            }
            return !stopped;
        }
    }

    /**
     * The steps of one bucket of {@code every}, as one row that keeps what matters of each: a one-step spike or
     * non-finite value still shows after any amount of thinning. The row carries
     * <ul>
     * <li>the bucket's last step (the next bucket starts after it: a page that asks from there on misses nothing)
     * and its epoch;</li>
     * <li>the largest global norm and max-abs value, and each layer's largest norm and max-abs value, where a NaN
     * counts as the largest (as {@code Math.max} does), so that a non-finite step is not hidden;</li>
     * <li>the sum of the non-finite value counts, and {@code clipped} if any step was;</li>
     * <li>the mean loss (one non-finite loss makes it non-finite) and the learning rate of the last step, the rate
     * in force when the bucket ends;</li>
     * <li>the smallest clip threshold in force (the tightest bound; NaN when no step had one) and each layer's
     * largest sampled update ratio (NaN when none was sampled);</li>
     * <li>the held-out metric measured after a step of the bucket, the last one if several.</li>
     * </ul>
     * With one step per bucket the row is that step's row, bit for bit.
     */
    private static final class Bucket {
        final long index;
        private long step;
        private int epoch;
        private double lossSum;
        private int steps;
        private double learningRate;
        private double globalNorm;
        private double maxAbs;
        private long nonFinite;
        private double clipThreshold;
        private boolean clipped;
        double heldOut;
        private final double[][] layers;
        private final long[] layerNonFinite;

        Bucket(long index, StepRow first) {
            this.index = index;
            lossSum = first.loss();
            globalNorm = first.globalNorm();
            maxAbs = first.maxAbs();
            clipThreshold = first.clipThreshold();
            heldOut = first.heldOut();
            nonFinite = first.nonFinite();
            layers = new double[first.layers().size()][];
            layerNonFinite = new long[first.layers().size()];
            for (int i = 0; i < layers.length; i++) {
                StepRow.Layer l = first.layers().get(i);
                layers[i] = new double[] {l.norm(), l.maxAbs(), l.updateRatio(), l.clipThreshold()};
                layerNonFinite[i] = l.nonFinite();
            }
            steps = 1;
            latest(first);
        }

        void add(StepRow r) {
            lossSum += r.loss();
            steps++;
            nonFinite += r.nonFinite();
            globalNorm = Math.max(globalNorm, r.globalNorm());
            maxAbs = Math.max(maxAbs, r.maxAbs());
            clipThreshold = smallest(clipThreshold, r.clipThreshold());
            if (!Double.isNaN(r.heldOut())) {
                heldOut = r.heldOut();
            }
            for (int i = 0; i < layers.length && i < r.layers().size(); i++) {
                StepRow.Layer l = r.layers().get(i);
                double[] v = layers[i];
                v[0] = Math.max(v[0], l.norm());
                v[1] = Math.max(v[1], l.maxAbs());
                v[2] = Double.isNaN(v[2]) ? l.updateRatio() : Double.isNaN(l.updateRatio()) ? v[2]
                        : Math.max(v[2], l.updateRatio());
                v[3] = smallest(v[3], l.clipThreshold());
                layerNonFinite[i] += l.nonFinite();
            }
            latest(r);
        }

        private void latest(StepRow r) {
            step = r.step();
            epoch = r.epoch();
            learningRate = r.learningRate();
            clipped |= r.clipped();
        }

        /** The smaller of two thresholds, NaN (none in force) only when both are. */
        private static double smallest(double a, double b) {
            return Double.isNaN(a) ? b : Double.isNaN(b) ? a : Math.min(a, b);
        }

        StepRow row() {
            List<StepRow.Layer> ls = new ArrayList<>(layers.length);
            for (int i = 0; i < layers.length; i++) {
                double[] v = layers[i];
                ls.add(new StepRow.Layer(v[0], v[1], layerNonFinite[i], v[2], v[3]));
            }
            return new StepRow(step, epoch, steps == 1 ? lossSum : lossSum / steps, learningRate, globalNorm,
                    maxAbs, nonFinite, clipThreshold, clipped, heldOut, ls);
        }
    }
}
