package dev.gradsentry.metrics;

import dev.gradsentry.core.intervene.Guard;
import dev.gradsentry.core.intervene.Intervention;
import dev.gradsentry.core.intervene.InterventionListener;
import dev.gradsentry.core.probe.GradientProbe;
import dev.gradsentry.core.probe.StepObserver;
import dev.gradsentry.core.probe.StepStats;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tag;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.binder.MeterBinder;

import java.time.Duration;

/**
 * The meters of a network GradSentry guards, for any Micrometer registry: each step's gradient
 * ({@link GradientMeters}) and the guard's interventions and clipping ({@link GuardMeters}). In your own training
 * code, after {@code network.init()}:
 * <pre>{@code
 * Guard guard = Guard.protect(network);
 * new GradSentryMeters(guard).bindTo(registry);   // any MeterRegistry: Prometheus, JMX, OTLP, ...
 * network.fit(trainIterator, epochs);
 * }</pre>
 *
 * <p>The service publishes the same meters through the same wiring: it binds one instance at startup and
 * {@link #attach attaches} each run's probe and guard to it, adding the meters of the run it drives
 * ({@link RunMeters}: identity, state, plan, evaluation, step time), which a network trained in your own loop does
 * not have.
 *
 * <p>Gauges read at scrape time what the training thread last left (see the two binders); attaching and binding may
 * come in either order.
 */
public final class GradSentryMeters implements MeterBinder, StepObserver, InterventionListener {

    private final GradientMeters gradient;
    private final GuardMeters guard;

    /** The meters of {@code guard}'s network, with the default norm window and no extra tags. */
    public GradSentryMeters(Guard guard) {
        this(guard, Tags.empty());
    }

    /**
     * The meters of {@code guard}'s network, with the default norm window ({@value GradientMeters#DEFAULT_WINDOW_SECONDS}
     * s, the most common Prometheus scrape interval).
     *
     * @param guard     a guard from {@link Guard#protect}, which attached the probe whose steps are measured
     * @param extraTags added to every meter, e.g. the model's name when one process trains several
     */
    public GradSentryMeters(Guard guard, Iterable<Tag> extraTags) {
        this(extraTags, Duration.ofSeconds(GradientMeters.DEFAULT_WINDOW_SECONDS));
        if (guard.probe() == null) {
            throw new IllegalArgumentException("the guard has no probe of its own: it was built by hand, not by "
                    + "Guard.protect; attach the probe it intercepts with attach(probe, guard)");
        }
        attach(guard.probe(), guard);
    }

    /**
     * Meters with nothing attached yet: {@link #attach} the probe and guard of each run as it starts.
     *
     * @param extraTags  added to every meter, e.g. a deployment label
     * @param normWindow the time the window max and min gauges of the gradient norms cover before a scrape; at least
     *                   the scrape interval, so that no step falls between two scrapes
     */
    public GradSentryMeters(Iterable<Tag> extraTags, Duration normWindow) {
        Tags tags = Tags.of(extraTags);
        gradient = new GradientMeters(tags, normWindow);
        guard = new GuardMeters(tags);
    }

    /**
     * From now on measures the steps of {@code probe} and the interventions of {@code guard}, and reads the guard's
     * thresholds. A later call replaces the guard the gauges read (a new run); an earlier probe keeps reporting to
     * these meters, so attach each probe once.
     *
     * @param guard the guard that {@code probe} hands each step to; null for a probe without one, whose guard meters
     *              then stay NaN and zero
     */
    public void attach(GradientProbe probe, Guard guard) {
        probe.addObserver(this);
        if (guard != null) {
            guard.addListener(this);
            this.guard.guardAttached(guard);
        }
    }

    /** A new run: no step of it yet, so the last-step gauges are NaN until its first step. */
    public void runStarted() {
        gradient.runStarted();
    }

    @Override
    public void bindTo(MeterRegistry registry) {
        guard.bindTo(registry);
        gradient.bindTo(registry);
    }

    @Override
    public void onStep(StepStats step) {
        gradient.onStep(step);
        guard.onStep(step);
    }

    @Override
    public void onIntervention(Intervention intervention) {
        guard.onIntervention(intervention);
    }
}
