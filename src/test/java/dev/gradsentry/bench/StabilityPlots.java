package dev.gradsentry.bench;

import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.markers.SeriesMarkers;

import java.awt.Color;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** The stability benchmark's PNG charts, drawn with XChart. */
final class StabilityPlots {

    private static final int WIDTH = 900;
    private static final int HEIGHT = 480;
    /** Curves are averaged into at most this many points, so that 5,000 noisy steps still read as a curve. */
    private static final int POINTS = 300;

    private StabilityPlots() {
    }

    /** Training loss over steps, one curve per run (each run's {@link StabilityRun.Trace} is required). */
    static void loss(String title, List<StabilityRun.Outcome> runs, Path png) throws IOException {
        XYChart chart = chart(title, "step", "training loss (mean over buckets of steps, log scale)");
        chart.getStyler().setYAxisLogarithmic(true);
        for (StabilityRun.Outcome run : runs) {
            XYSeries curve = addCurve(chart, run.contender().label(), run.trace().loss());
            if (curve != null && run.contender().equals(Contender.protect())) {
                // The policy under test stands out from the palette's pastels.
                curve.setLineColor(Color.BLACK);
                curve.setLineWidth(2.5f);
            }
        }
        save(chart, png);
    }

    /**
     * The adaptive run's global gradient norm before clipping, the largest global norm its per-layer thresholds let
     * through, and the steps at which the guard acted.
     */
    static void norm(String title, StabilityRun.Outcome adaptive, Path png) throws IOException {
        StabilityRun.Trace t = adaptive.trace();
        XYChart chart = chart(title, "step", "global gradient norm (log scale)");
        chart.getStyler().setYAxisLogarithmic(true);
        addCurve(chart, "global norm before clipping", t.globalNorm());
        addSteps(chart, "clip bound: sqrt(sum of per-layer thresholds^2)", t.clipBound());
        List<Double> x = new ArrayList<>();
        List<Double> y = new ArrayList<>();
        for (long step : t.interventionSteps()) {
            // The audit step is the guard's count of steps done when it acted, i.e. the index of the acted-on step.
            int i = (int) Math.min(step, t.globalNorm().length - 1);
            double v = t.globalNorm()[i];
            if (v > 0 && Double.isFinite(v)) {
                x.add((double) i);
                y.add(v);
            }
        }
        if (!x.isEmpty()) {
            XYSeries s = chart.addSeries("intervention", x, y);
            s.setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Scatter);
            s.setMarker(SeriesMarkers.DIAMOND);
        }
        save(chart, png);
    }

    /** Held-out metric at each evaluation, one curve per run. */
    static void metric(String title, String metric, List<StabilityRun.Outcome> runs, Path png) throws IOException {
        XYChart chart = chart(title, "step", "held-out " + metric);
        for (StabilityRun.Outcome run : runs) {
            StabilityRun.Trace t = run.trace();
            List<Double> x = new ArrayList<>();
            List<Double> y = new ArrayList<>();
            for (int i = 0; i < t.evalSteps().length; i++) {
                if (Double.isFinite(t.evalValues()[i])) {
                    x.add((double) t.evalSteps()[i]);
                    y.add(t.evalValues()[i]);
                }
            }
            if (!x.isEmpty()) {
                chart.addSeries(run.contender().label(), x, y).setMarker(SeriesMarkers.CIRCLE);
            }
        }
        save(chart, png);
    }

    private static XYChart chart(String title, String xTitle, String yTitle) {
        XYChart chart = new XYChartBuilder().width(WIDTH).height(HEIGHT).title(title).xAxisTitle(xTitle)
                .yAxisTitle(yTitle).build();
        chart.getStyler().setLegendPosition(org.knowm.xchart.style.Styler.LegendPosition.OutsideE);
        chart.getStyler().setMarkerSize(6);
        return chart;
    }

    /** Bucket means of a per-step curve; a bucket holding a non-finite value is left out (the curve breaks off). */
    private static XYSeries addCurve(XYChart chart, String name, double[] perStep) {
        int bucket = Math.max(1, (int) Math.ceil(perStep.length / (double) POINTS));
        List<Double> x = new ArrayList<>();
        List<Double> y = new ArrayList<>();
        for (int from = 0; from < perStep.length; from += bucket) {
            int to = Math.min(perStep.length, from + bucket);
            double sum = 0;
            for (int i = from; i < to; i++) {
                sum += perStep[i];
            }
            double mean = sum / (to - from);
            if (mean > 0 && Double.isFinite(mean)) {
                x.add((double) to);
                y.add(mean);
            }
        }
        if (x.isEmpty()) {
            return null;
        }
        XYSeries series = chart.addSeries(name, x, y);
        series.setMarker(SeriesMarkers.NONE);
        return series;
    }

    /** A per-step curve drawn as is, for a threshold that moves in steps. */
    private static void addSteps(XYChart chart, String name, double[] perStep) {
        List<Double> x = new ArrayList<>();
        List<Double> y = new ArrayList<>();
        for (int i = 0; i < perStep.length; i++) {
            if (perStep[i] > 0 && Double.isFinite(perStep[i])) {
                x.add((double) i);
                y.add(perStep[i]);
            }
        }
        if (!x.isEmpty()) {
            chart.addSeries(name, x, y).setMarker(SeriesMarkers.NONE);
        }
    }

    private static void save(XYChart chart, Path png) throws IOException {
        if (chart.getSeriesMap().isEmpty()) {
            // XChart cannot lay out an empty chart; a placeholder series keeps the file and says why it is empty.
            chart.addSeries("no finite values", new double[] {0}, new double[] {1}).setMarker(SeriesMarkers.NONE);
        }
        BitmapEncoder.saveBitmap(chart, png.toString(), BitmapEncoder.BitmapFormat.PNG);
    }
}
