package dev.gradsentry.training;

import dev.gradsentry.core.probe.LayerStats;
import dev.gradsentry.core.probe.StepStats;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The step history on disk: what goes in comes back, a torn tail and a resume are cut right, retention holds. */
class StepHistoryTest {

    private static final long MIB = 1024 * 1024;

    @TempDir
    Path tmp;

    private static List<String> names(int layers) {
        return IntStream.range(0, layers).mapToObj(i -> i + "_dense").toList();
    }

    /** A step whose every value derives from its index and the layer, so a read-back row can be checked. */
    private static StepStats step(long i, int layers) {
        List<LayerStats> ls = new ArrayList<>();
        for (int l = 0; l < layers; l++) {
            ls.add(new LayerStats(l + "_dense", norm(i, l), 0.5 * norm(i, l), i == 7 && l == 2 ? 3 : 0,
                    i % 10 == 0 ? 1e-3 * (l + 1) : Double.NaN, List.of()));
        }
        return new StepStats(i, (int) (i / 100), 32, 2.0 / (i + 1), 0.01, Math.sqrt(layers) * norm(i, 0),
                0.5 * norm(i, 0), i == 7 ? 3 : 0, ls);
    }

    private static double norm(long i, int layer) {
        return 0.1 + i * 0.001 + layer;
    }

    private static List<StepRow> read(StepHistory h, long from, long to, long every) throws IOException {
        List<StepRow> rows = new ArrayList<>();
        h.read(from, to, every, rows::add);
        return rows;
    }

    /** Even steps under a global-norm threshold, odd ones under a per-layer one. */
    private static void write(StepHistory h, long from, long to, int layers) {
        for (long i = from; i < to; i++) {
            assertTrue(h.offer(i, step(i, layers), i % 2 == 0 ? Map.of("global", 5.0) : Map.of("1_dense", 2.5),
                    i % 3 == 0, i % 50 == 49 ? 0.8 : Double.NaN));
        }
    }

    @Test
    void everyValueOfAStepComesBackAsAFloat() throws IOException {
        int layers = 100;
        StepHistory h = new StepHistory(tmp, 256 * MIB);
        h.layers(names(layers));
        write(h, 0, 1000, layers);
        h.offerEvaluation(999, 0.875);
        h.close();

        List<StepRow> rows = read(h, 0, Long.MAX_VALUE, 1);
        assertEquals(1000, rows.size());
        for (StepRow r : rows) {
            long i = r.step();
            StepStats s = step(i, layers);
            assertEquals(s.loss(), r.loss(), 0.0);
            assertEquals((float) s.globalNorm(), (float) r.globalNorm());
            assertEquals(s.nonFinite(), r.nonFinite());
            assertEquals(i % 3 == 0, r.clipped());
            assertEquals(i % 2 == 0 ? 5.0 : Double.NaN, r.clipThreshold());
            assertEquals(i % 50 == 49 ? (i == 999 ? 0.875 : 0.8) : Double.NaN, r.heldOut(), 1e-7, "step " + i);
            for (int l = 0; l < layers; l++) {
                StepRow.Layer x = r.layers().get(l);
                assertEquals((float) norm(i, l), (float) x.norm());
                assertEquals(i == 7 && l == 2 ? 3 : 0, x.nonFinite());
                assertEquals(i % 10 == 0 ? (float) (1e-3 * (l + 1)) : Float.NaN, (float) x.updateRatio());
                assertEquals(i % 2 == 1 && l == 1 ? 2.5 : Double.NaN, x.clipThreshold());
            }
        }
        assertEquals(names(layers), h.layerNames());
    }

    @Test
    void aStepOfAHundredLayersTakesUnder900BytesAndUnder1300WithAThresholdForEachLayer() throws IOException {
        int layers = 100;
        Map<String, Double> perLayer = new java.util.HashMap<>();
        names(layers).forEach(n -> perLayer.put(n, 1.0));
        double global = bytesPerStep(tmp.resolve("global"), layers, Map.of("global", 5.0));
        double each = bytesPerStep(tmp.resolve("per-layer"), layers, perLayer);
        // The update ratio is on one step in ten (the default gradsentry.update-ratio-every). Measured 2026-12-01:
        // 876.0 bytes a step under a global-norm threshold (or none), 1276.0 under per-layer thresholds (adaptive).
        System.out.printf("step history at %d layers: %.1f bytes/step (global threshold), %.1f (per-layer)%n",
                layers, global, each);
        assertTrue(global < 900, global + " bytes/step");
        assertTrue(each < 1300, each + " bytes/step");
    }

    private static double bytesPerStep(Path dir, int layers, Map<String, Double> thresholds) throws IOException {
        StepHistory h = new StepHistory(dir, 256 * MIB);
        h.layers(names(layers));
        for (long i = 0; i < 1000; i++) {
            h.offer(i, step(i, layers), thresholds, false, Double.NaN);
        }
        h.close();
        return (Files.size(h.segments().get(0)) - StepFile.header(names(layers)).length) / 1000.0;
    }

    @Test
    void aRangeWithEveryGivesOneRowPerBucketEndingAtItsLastStepWithTheHeldOutMetricMeasuredInIt()
            throws IOException {
        StepHistory h = new StepHistory(tmp, 256 * MIB);
        h.layers(names(3));
        write(h, 0, 200, 3);
        h.offerEvaluation(199, 0.9);
        h.close();
        List<StepRow> rows = read(h, 40, 160, 20);
        assertEquals(List.of(59L, 79L, 99L, 119L, 139L, 159L, 160L), rows.stream().map(StepRow::step).toList());
        assertEquals(List.of(0.8, Double.NaN, 0.8, Double.NaN, Double.NaN, 0.8, Double.NaN),
                rows.stream().map(StepRow::heldOut).map(v -> Double.isNaN(v) ? v : Math.round(v * 1e6) / 1e6)
                        .toList(),
                "the evaluations after steps 49, 99 and 149");
        List<StepRow> tail = read(h, 190, 1000, 20);
        assertEquals(List.of(199L), tail.stream().map(StepRow::step).toList(), "the last bucket, cut to the range");
        assertEquals(0.9, tail.get(0).heldOut(), 0.0, "the last evaluation in the bucket");
        assertTrue(read(h, 500, 600, 1).isEmpty());
    }

    @Test
    void aOneStepSpikeSurvivesEveryTenAndEachValueIsAggregatedAsDocumented() throws IOException {
        StepHistory h = new StepHistory(tmp, 256 * MIB);
        h.layers(names(3));
        for (long i = 0; i < 30; i++) {
            StepStats s = step(i, 3);
            if (i == 13) {
                List<LayerStats> ls = new ArrayList<>(s.layers());
                ls.set(1, new LayerStats("1_dense", 4e4, 9e3, 0, Double.NaN, List.of()));
                s = new StepStats(i, s.epoch(), 32, 50.0, 0.005, 5e4, 9e3, 0, ls);
            }
            assertTrue(h.offer(i, s, i == 15 ? Map.of("global", 7.0, "0_dense", 1.5) : i == 16 ? Map.of("global",
                    6.0) : Map.of(), i == 14, Double.NaN));
        }
        h.close();
        List<StepRow> every = read(h, 0, 29, 1);
        List<StepRow> rows = read(h, 0, 29, 10);
        assertEquals(List.of(9L, 19L, 29L), rows.stream().map(StepRow::step).toList());
        StepRow spike = rows.get(1);
        assertEquals(5e4, spike.globalNorm(), 1e-2, "the spike at step 13, between two sampled steps");
        assertEquals(4e4, spike.layers().get(1).norm(), 1e-2);
        assertEquals(9e3, spike.maxAbs(), 1e-3);
        assertEquals(9e3, spike.layers().get(1).maxAbs(), 1e-3);
        assertEquals(every.get(19).layers().get(0).norm(), spike.layers().get(0).norm(), 0.0,
                "a layer that did not spike: its largest norm in the bucket, its last");
        double meanLoss = every.subList(10, 20).stream().mapToDouble(StepRow::loss).sum() / 10;
        assertEquals(meanLoss, spike.loss(), 1e-12, "the mean loss");
        assertEquals(0.01, spike.learningRate(), 1e-9, "the last step's learning rate, not step 13's");
        assertTrue(spike.clipped(), "step 14 was clipped");
        assertFalse(rows.get(2).clipped());
        assertEquals(6.0, spike.clipThreshold(), 1e-6, "the tightest global threshold in force");
        assertEquals(1.5, spike.layers().get(0).clipThreshold(), 1e-6);
        assertTrue(Double.isNaN(spike.layers().get(1).clipThreshold()), "no threshold in force for the layer");
        assertEquals(1e-3 * 2, rows.get(1).layers().get(1).updateRatio(), 1e-9, "step 10's sampled ratio");
        assertEquals(3, rows.get(0).nonFinite(), "step 7's non-finite values");
        assertEquals(3, rows.get(0).layers().get(2).nonFinite());
        assertEquals(every.get(29), read(h, 29, 29, 10).get(0), "one step in a bucket: its row as written");
    }

    @Test
    void aRecordTornByACrashIsCutOffAndTheResumedRunAppendsAfterTheLastWholeOne() throws IOException {
        StepHistory h = new StepHistory(tmp, 256 * MIB);
        h.layers(names(3));
        write(h, 0, 50, 3);
        h.close();
        Path segment = h.segments().get(0);
        long whole = Files.size(segment);
        try (FileChannel c = FileChannel.open(segment, StandardOpenOption.WRITE)) {
            c.truncate(whole - 5); // the last record, step 49, half-written
        }

        StepHistory resumed = new StepHistory(tmp, 256 * MIB);
        List<String> problems = resumed.recover(60);
        assertEquals(1, problems.size(), problems.toString());
        assertTrue(problems.get(0).contains("cut off"), problems.get(0));
        assertEquals(names(3), resumed.layerNames(), "the layer names come from the segment before the run trains");
        assertEquals(49, read(resumed, 0, 100, 1).size());
        write(resumed, 49, 60, 3);
        resumed.close();
        List<Long> steps = read(resumed, 0, 100, 1).stream().map(StepRow::step).toList();
        assertEquals(LongList.range(0, 60), steps);
    }

    @Test
    void resumingFromACheckpointDropsTheStepsAfterItSoTheyAreNotKeptTwice() throws IOException {
        // Segments of 512 KiB, so the steps after the checkpoint span several files.
        StepHistory h = new StepHistory(tmp, 4 * MIB);
        h.layers(names(100));
        write(h, 0, 1000, 100);
        h.close();
        assertTrue(h.segments().size() >= 3, "segments: " + h.segments());

        StepHistory resumed = new StepHistory(tmp, 4 * MIB);
        assertEquals(List.of(), resumed.recover(400));
        resumed.layers(names(100));
        assertEquals(LongList.range(0, 400), read(resumed, 0, 5000, 1).stream().map(StepRow::step).toList());
        write(resumed, 400, 700, 100);
        resumed.close();
        List<Long> steps = read(resumed, 0, 5000, 1).stream().map(StepRow::step).toList();
        assertEquals(LongList.range(0, 700), steps, "no step twice, none missing");
    }

    @Test
    void pastItsRetentionTheHistoryDropsItsOldestStepsAndStaysWithinTheLimit() throws IOException {
        StepHistory h = new StepHistory(tmp, 1 * MIB);
        h.layers(names(100));
        write(h, 0, 5000, 100); // about 4 MiB
        h.close();
        long total = 0;
        for (Path p : h.segments()) {
            total += Files.size(p);
        }
        assertTrue(total <= 1 * MIB, total + " bytes on disk");
        List<StepRow> rows = read(h, 0, 10_000, 1);
        assertEquals(4999, rows.get(rows.size() - 1).step());
        assertTrue(rows.get(0).step() > 3000, "oldest kept: " + rows.get(0).step());
        assertEquals(LongList.range(rows.get(0).step(), 5000), rows.stream().map(StepRow::step).toList());
    }

    @Test
    void whenTheDiskStallsTheTrainingThreadIsNotHeldUpAndTheDroppedStepsAreCounted() throws Exception {
        // A named pipe with no reader: the writer thread blocks opening it, as on a hung disk.
        Path dir = Files.createDirectories(tmp.resolve(StepHistory.DIR));
        Path fifo = dir.resolve(StepFile.name(0));
        Process mkfifo = new ProcessBuilder("mkfifo", fifo.toString()).start();
        assertTrue(mkfifo.waitFor(10, TimeUnit.SECONDS) && mkfifo.exitValue() == 0);
        StepHistory h = new StepHistory(tmp, 256 * MIB);
        h.layers(names(3));
        int offered = StepHistory.QUEUE_CAPACITY + 500;
        long start = System.nanoTime();
        int accepted = 0;
        for (long i = 0; i < offered; i++) {
            accepted += h.offer(i, step(i, 3), Map.of(), false, Double.NaN) ? 1 : 0;
        }
        long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        assertTrue(millis < 2000, "offering took " + millis + " ms");
        // The writer takes one batch off the queue before it blocks.
        assertTrue(accepted >= StepHistory.QUEUE_CAPACITY && accepted <= StepHistory.QUEUE_CAPACITY + StepHistory.BATCH,
                "accepted " + accepted);
        assertEquals(offered - accepted, h.dropped());
        assertFalse(h.sync(Duration.ofMillis(100)), "a checkpoint's wait for the history is bounded");

        // The disk comes back: the pipe is replaced by nothing (deleted while the writer still waits on it, then
        // its writing end closed), and the writer writes what it had queued to a new segment.
        try (var unblock = new java.io.FileOutputStream(fifo.toFile())) {
            Files.delete(fifo);
        }
        assertTrue(h.sync(Duration.ofSeconds(10)));
        h.close();
        assertEquals(accepted, read(h, 0, offered, 1).size());
    }

    /**
     * The final evaluation's record comes right after its step's, and may not fit the segment that step filled: it
     * stays there all the same, or reading from that step would skip the segment and lose the row.
     */
    @Test
    void anEvaluationThatDoesNotFitTheFullSegmentOfItsStepStaysWithItsStep() throws IOException {
        long segmentBytes = 64 * 1024; // a keep of 512 KiB makes segments of 64 KiB
        for (int k = 1; k <= 60; k++) {
            String name = "x".repeat(k);
            long total = StepFile.header(List.of(name)).length;
            int n = 0;
            while (total + size(n, name) <= segmentBytes) {
                total += size(n++, name);
            }
            if (total + 17 <= segmentBytes) {
                continue; // the evaluation fits: not the case this test is about
            }
            StepHistory h = new StepHistory(tmp.resolve(name), 512 * 1024);
            h.layers(List.of(name));
            for (int i = 0; i < n; i++) {
                h.offer(i, oneLayer(i, name), Map.of(), false, Double.NaN);
            }
            h.offerEvaluation(n - 1, 0.5);
            h.close();
            List<StepRow> last = read(h, n - 1, n - 1, 1);
            assertEquals(1, last.size(), "the row of step " + (n - 1) + ", read from it");
            assertEquals(0.5, last.get(0).heldOut(), 0.0);
            return;
        }
        throw new AssertionError("no layer name makes an evaluation miss the room left in a segment");
    }

    private static StepStats oneLayer(long i, String name) {
        return new StepStats(i, 0, 32, 1.0, 0.01, 1.0, 0.5, 0,
                List.of(new LayerStats(name, 1.0, 0.5, 0, Double.NaN, List.of())));
    }

    private static int size(long i, String name) {
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(StepFile.maxStepBytes(1));
        StepFile.putStep(b, i, oneLayer(i, name), Map.of(), false, Double.NaN);
        return b.position();
    }

    /** Longs from {@code from} (inclusive) to {@code to} (exclusive). */
    private static final class LongList {
        static List<Long> range(long from, long to) {
            List<Long> l = new ArrayList<>();
            for (long i = from; i < to; i++) {
                l.add(i);
            }
            return l;
        }
    }

    @Test
    void aStepForAnotherNumberOfLayersIsDroppedNotWrittenUnderTheWrongNames() throws IOException {
        StepHistory h = new StepHistory(tmp, 256 * MIB);
        h.layers(names(3));
        h.offer(0, step(0, 3), Map.of(), false, Double.NaN);
        h.offer(1, step(1, 4), Map.of(), false, Double.NaN);
        h.close();
        assertEquals(1, h.dropped());
        assertArrayEquals(new long[] {0}, read(h, 0, 10, 1).stream().mapToLong(StepRow::step).toArray());
    }
}
