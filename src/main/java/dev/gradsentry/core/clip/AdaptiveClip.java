package dev.gradsentry.core.clip;

import dev.gradsentry.core.detect.Signal;
import dev.gradsentry.core.probe.LayerStats;
import dev.gradsentry.core.probe.StepStats;

import dev.gradsentry.core.state.SavedState;

import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * GradSentry's default policy: observe while healthy, clip only once trouble shows, and let go again when it passes.
 *
 * <ul>
 *   <li><b>Observe.</b> No clipping. Each layer's norm on healthy steps (no detector fired) goes into a window of the
 *   last {@code window} values.</li>
 *   <li><b>Enable.</b> On the first trigger (a spike, a non-finite step or divergence) every layer gets a norm
 *   threshold of the {@code percentile}-th percentile of its healthy window: per layer, because layers' norms differ
 *   by orders of magnitude, and from healthy history, because that is the scale the layer trains well at. With no
 *   history yet (a blow-up on the first step) the current norm divided by 10 stands in.</li>
 *   <li><b>Tighten.</b> Each further trigger while clipping, at most once every {@code cooldown} steps, multiplies
 *   every threshold by {@code tightenFactor}, down to {@code floorFraction} of the threshold first enabled.</li>
 *   <li><b>Relax.</b> After {@code relaxAfter} consecutive healthy steps the thresholds are multiplied by
 *   {@code 1 / tightenFactor}; the healthy count then starts again (hysteresis). Once a relaxed threshold is back above
 *   the threshold first enabled, clipping is switched off and the policy observes again.</li>
 * </ul>
 *
 * <p>Defaults (percentile 90, window 200, tighten 0.5, floor 0.01, cooldown 10, relax after 500) were chosen so that
 * an ordinary healthy run is never clipped, a run that explodes is clipped at the scale it trained at, and a run that
 * recovers is handed back within a few thousand steps.
 */
public final class AdaptiveClip implements ClipPolicy {

    public static final String NAME = "adaptive";
    public static final double DEFAULT_PERCENTILE = 90;
    public static final int DEFAULT_WINDOW = 200;
    public static final double DEFAULT_TIGHTEN_FACTOR = 0.5;
    public static final double DEFAULT_FLOOR_FRACTION = 0.01;
    public static final int DEFAULT_COOLDOWN = 10;
    public static final int DEFAULT_RELAX_AFTER = 500;
    /** Below this many healthy norms a layer's history is too short for a percentile. */
    static final int SHORT_HISTORY = 20;

    private final double percentile;
    private final int window;
    private final double tightenFactor;
    private final double floorFraction;
    private final int cooldown;
    private final int relaxAfter;

    private final Map<String, double[]> history = new LinkedHashMap<>();
    private final Map<String, Integer> historySize = new LinkedHashMap<>();
    private Map<String, Double> thresholds;
    private Map<String, Double> enabledAt;
    private int sinceTighten;
    private int healthyStreak;
    private ClipChange lastChange;

    public AdaptiveClip(double percentile, int window, double tightenFactor, double floorFraction, int cooldown,
                        int relaxAfter) {
        require(percentile > 0 && percentile <= 100, "percentile", "must be in (0, 100]", percentile);
        require(window >= 1, "window", "must be >= 1", window);
        require(tightenFactor > 0 && tightenFactor < 1, "tightenFactor", "must be in (0, 1)", tightenFactor);
        require(floorFraction > 0 && floorFraction <= 1, "floorFraction", "must be in (0, 1]", floorFraction);
        require(cooldown >= 0, "cooldown", "must be >= 0", cooldown);
        require(relaxAfter >= 1, "relaxAfter", "must be >= 1", relaxAfter);
        this.percentile = percentile;
        this.window = window;
        this.tightenFactor = tightenFactor;
        this.floorFraction = floorFraction;
        this.cooldown = cooldown;
        this.relaxAfter = relaxAfter;
    }

    public static AdaptiveClip defaults() {
        return new AdaptiveClip(DEFAULT_PERCENTILE, DEFAULT_WINDOW, DEFAULT_TIGHTEN_FACTOR, DEFAULT_FLOOR_FRACTION,
                DEFAULT_COOLDOWN, DEFAULT_RELAX_AFTER);
    }

    private static void require(boolean ok, String name, String rule, double value) {
        if (!ok || Double.isNaN(value)) {
            throw new IllegalArgumentException(name + " " + rule + ", was " + value);
        }
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public ClipDecision decide(StepStats step, Signal signal) {
        lastChange = null;
        sinceTighten++;
        if (signal.trigger()) {
            healthyStreak = 0;
            if (thresholds == null) {
                enable(step);
            } else {
                tighten(signal.severe());
            }
        } else {
            healthyStreak++;
            for (LayerStats l : step.layers()) {
                remember(l.layer(), l.norm());
            }
            if (thresholds != null && healthyStreak >= relaxAfter) {
                relax();
                healthyStreak = 0;
            }
        }
        return thresholds == null ? new ClipDecision.None() : new ClipDecision.LayerNorm(thresholds);
    }

    @Override
    public void onSkippedStep(Signal signal) {
        lastChange = null;
        healthyStreak = 0;
        if (thresholds == null) {
            enable(null);
        } else {
            tighten(signal.severe());
        }
    }

    private void enable(StepStats step) {
        Map<String, Double> t = new LinkedHashMap<>();
        for (String layer : history.keySet()) {
            t.put(layer, scaleOf(layer));
        }
        if (step != null) {
            for (LayerStats l : step.layers()) {
                if (!t.containsKey(l.layer()) && l.norm() > 0 && Double.isFinite(l.norm())) {
                    t.put(l.layer(), l.norm() / 10);
                }
            }
        }
        if (t.isEmpty()) {
            return; // nothing known yet about any layer's scale: stay armed, enable on the next trigger
        }
        thresholds = t;
        enabledAt = Map.copyOf(t);
        sinceTighten = 0;
        lastChange = new ClipChange("clip-enable", "all", Double.NaN, t.values().iterator().next());
    }

    /**
     * @param severe the step was lost (NaN, or rolled back for divergence) while clipping: the thresholds let through
     *               updates that wreck the run, so the cooldown does not apply
     */
    private void tighten(boolean severe) {
        if (sinceTighten < cooldown && !severe) {
            return;
        }
        double before = thresholds.values().iterator().next();
        Map<String, Double> t = new LinkedHashMap<>();
        thresholds.forEach((layer, v) -> t.put(layer, Math.max(v * tightenFactor, enabledAt.get(layer) * floorFraction)));
        if (t.equals(thresholds)) {
            return; // at the floor everywhere
        }
        thresholds = t;
        sinceTighten = 0;
        lastChange = new ClipChange("clip-tighten", "all", before, t.values().iterator().next());
    }

    private void relax() {
        double before = thresholds.values().iterator().next();
        Map<String, Double> t = new LinkedHashMap<>();
        boolean back = true;
        for (Map.Entry<String, Double> e : thresholds.entrySet()) {
            double v = e.getValue() / tightenFactor;
            t.put(e.getKey(), v);
            back &= v > enabledAt.get(e.getKey());
        }
        if (back) {
            thresholds = null;
            enabledAt = null;
            lastChange = new ClipChange("clip-disable", "all", before, Double.NaN);
        } else {
            thresholds = t;
            lastChange = new ClipChange("clip-relax", "all", before, t.values().iterator().next());
        }
    }

    private void remember(String layer, double norm) {
        if (!(norm > 0) || !Double.isFinite(norm)) {
            return;
        }
        double[] ring = history.computeIfAbsent(layer, k -> new double[window]);
        int n = historySize.getOrDefault(layer, 0);
        ring[n % window] = norm;
        historySize.put(layer, n + 1);
    }

    /**
     * The layer's healthy scale: the percentile of its window, linear between closest ranks; with fewer than
     * {@value #SHORT_HISTORY} norms (or than the window holds, if smaller), the smallest. A run that blows up within its first steps has norms that grow
     * step by step before any detector fires, so there the earliest, smallest one is the healthiest.
     */
    private double scaleOf(String layer) {
        int n = Math.min(historySize.get(layer), window);
        double[] sorted = Arrays.copyOf(history.get(layer), n);
        Arrays.sort(sorted);
        return n < Math.min(SHORT_HISTORY, window) ? sorted[0] : AutoClip.interpolated(sorted, n, percentile);
    }

    /** Current per-layer thresholds, empty while observing. */
    public Map<String, Double> thresholds() {
        return thresholds == null ? Map.of() : Map.copyOf(thresholds);
    }

    @Override
    public ClipChange lastChange() {
        return lastChange;
    }

    @Override
    public Map<String, Double> settings() {
        Map<String, Double> s = new LinkedHashMap<>();
        s.put("percentile", percentile);
        s.put("window", (double) window);
        s.put("tightenFactor", tightenFactor);
        s.put("floorFraction", floorFraction);
        s.put("cooldown", (double) cooldown);
        s.put("relaxAfter", (double) relaxAfter);
        return Collections.unmodifiableMap(s);
    }

    @Override
    public SavedState saveState() {
        SavedState s = new SavedState().put("counters", sinceTighten, healthyStreak);
        history.forEach((layer, ring) -> s.put("history." + layer, ring).put("historySize." + layer,
                historySize.get(layer)));
        if (thresholds != null) {
            thresholds.forEach((layer, t) -> s.put("threshold." + layer, t).put("enabledAt." + layer,
                    enabledAt.get(layer)));
        }
        return s;
    }

    @Override
    public void restoreState(SavedState s) {
        sinceTighten = (int) s.number("counters", 0);
        healthyStreak = (int) s.number("counters", 1);
        history.clear();
        historySize.clear();
        for (String layer : s.suffixes("history.")) {
            double[] ring = s.get("history." + layer);
            if (ring.length != window) {
                throw new IllegalArgumentException("saved window of layer " + layer + " has " + ring.length
                        + " entries, the policy's window is " + window);
            }
            history.put(layer, ring);
            historySize.put(layer, (int) s.number("historySize." + layer, 0));
        }
        List<String> clipped = s.suffixes("threshold.");
        if (clipped.isEmpty()) {
            thresholds = null;
            enabledAt = null;
        } else {
            thresholds = new LinkedHashMap<>();
            Map<String, Double> enabled = new LinkedHashMap<>();
            for (String layer : clipped) {
                thresholds.put(layer, s.number("threshold." + layer, 0));
                enabled.put(layer, s.number("enabledAt." + layer, 0));
            }
            enabledAt = Collections.unmodifiableMap(enabled);
        }
        lastChange = null;
    }

    @Override
    public ClipPolicy copy() {
        return new AdaptiveClip(percentile, window, tightenFactor, floorFraction, cooldown, relaxAfter);
    }
}
