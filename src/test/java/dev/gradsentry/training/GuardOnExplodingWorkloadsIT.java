package dev.gradsentry.training;

import dev.gradsentry.core.clip.AdaptiveClip;
import dev.gradsentry.core.intervene.Guard;
import dev.gradsentry.core.intervene.GuardMode;
import dev.gradsentry.core.intervene.GuardSettings;
import dev.gradsentry.core.intervene.Intervention;
import dev.gradsentry.core.probe.GradientProbe;
import dev.gradsentry.core.probe.StepStats;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Clock;
import java.util.ArrayList;
import java.util.List;

import static dev.gradsentry.core.InterventionKind.CLIP_ENABLE;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The documented exploding configurations, without a guard and with the adaptive default: without, training ends
 * in NaN; with, it ends finite and better.
 */
class GuardOnExplodingWorkloadsIT {

    private static final int STEPS = 200;
    private static Workloads workloads;

    @BeforeAll
    static void loadData() {
        FashionMnist data = FashionMnist.load(FashionMnist.DEBIAN_PATH);
        workloads = new Workloads(() -> data);
    }

    private record Outcome(StepStats last, double metric, List<Intervention> events) {
    }

    private static Outcome train(WorkloadKind kind, GuardMode mode) {
        RunSpec e = RunSpec.exploding(kind);
        RunSpec spec = new RunSpec(e.workload(), e.cell(), e.activation(), e.recurrentGain(), e.hidden(),
                e.optimizer(), e.learningRate(), e.batchSize(), STEPS, e.seed(), 0, 500, e.sequenceLength());
        TrainingSetup setup = workloads.prepare(spec);
        GradientProbe probe = setup.network().attachProbe();
        Guard guard = new Guard(setup.network().model(), "t", AdaptiveClip.defaults(), GuardSettings.defaults().withMode(mode),
                Clock.systemUTC());
        List<Intervention> events = new ArrayList<>();
        guard.addListener(events::add);
        probe.intercept(guard);
        for (int i = 0; i < STEPS && !guard.paused(); i++) {
            setup.network().fit(setup.train().next());
        }
        assertFalse(guard.paused(), kind + " " + mode + ": " + events);
        return new Outcome(probe.lastStep(), setup.evaluate(STEPS).value(), events);
    }

    @Test
    void plainRnnOnFashionMnist() {
        Outcome none = train(WorkloadKind.FASHION_RNN, GuardMode.OFF);
        Outcome adaptive = train(WorkloadKind.FASHION_RNN, GuardMode.AUTO);
        assertFalse(none.last().finite(), "without a guard the documented configuration must explode");
        assertTrue(Double.isNaN(none.metric()));
        assertTrue(adaptive.last().finite(), adaptive.events().toString());
        assertTrue(adaptive.metric() > 0.25, "accuracy " + adaptive.metric() + " " + adaptive.events());
        assertTrue(adaptive.events().stream().anyMatch(i -> i.kind() == CLIP_ENABLE));
    }

    @Test
    void addingProblem() {
        Outcome none = train(WorkloadKind.ADDING, GuardMode.OFF);
        Outcome adaptive = train(WorkloadKind.ADDING, GuardMode.AUTO);
        assertFalse(none.last().finite(), "without a guard the documented configuration must explode");
        assertTrue(Double.isNaN(none.metric()));
        assertTrue(adaptive.last().finite(), adaptive.events().toString());
        assertTrue(adaptive.metric() < 0.5, "mse " + adaptive.metric() + " " + adaptive.events());
    }
}
