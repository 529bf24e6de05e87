package dev.gradsentry.core.clip;

import dev.gradsentry.core.clip.FixedClip.Kind;
import dev.gradsentry.core.detect.Signal;
import dev.gradsentry.core.probe.LayerStats;
import dev.gradsentry.core.probe.ParamStats;
import dev.gradsentry.core.probe.StepStats;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.DoubleFunction;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.params.provider.Arguments.arguments;

class FixedClipTest {

    /** Each factory's policy at threshold 0.75, its name, and its decision for any {@link Steps#step}. */
    static Stream<Arguments> policies() {
        return Stream.of(
                arguments(FixedClip.value(0.75), "value", new ClipDecision.Value(0.75)),
                arguments(FixedClip.norm(0.75), "norm",
                        new ClipDecision.LayerNorm(Map.of("0_dense", 0.75, "1_output", 0.75))),
                arguments(FixedClip.paramNorm(0.75), "param-norm", new ClipDecision.ParamNorm(0.75)),
                arguments(FixedClip.globalNorm(0.75), "global-norm", new ClipDecision.GlobalNorm(0.75)));
    }

    @ParameterizedTest
    @MethodSource("policies")
    void decidesTheSameOnEveryStep(FixedClip policy, String name, ClipDecision expected) {
        double[] norms = {0.0, 0.3, 0.75, 2.5, 1e9};
        for (int i = 0; i < norms.length; i++) {
            assertEquals(expected, policy.decide(Steps.step(i, norms[i]), Signal.QUIET));
        }
        assertEquals(expected, policy.decide(Steps.step(5, 1e9), new Signal(false, true, 40, "global", true)));
    }

    @Test
    void normGivesEveryLayerOfTheStepTheThreshold() {
        StepStats graph = new StepStats(0, 0, 32, 0.5, 0.1, 3, 1, 0, List.of(
                new LayerStats("embed", 1, 1, 0, Double.NaN, List.of(new ParamStats("W", 1, 0))),
                new LayerStats("lstm", 2, 1, 0, Double.NaN,
                        List.of(new ParamStats("W", 1, 0), new ParamStats("RW", 1, 0), new ParamStats("b", 1, 0))),
                new LayerStats("out", 2, 1, 0, Double.NaN, List.of(new ParamStats("W", 2, 0)))));
        assertEquals(new ClipDecision.LayerNorm(Map.of("embed", 2.0, "lstm", 2.0, "out", 2.0)),
                FixedClip.norm(2).decide(graph, Signal.QUIET));
    }

    @ParameterizedTest
    @MethodSource("policies")
    void nameSettingsAndCopy(FixedClip policy, String name, ClipDecision expected) {
        assertEquals(name, policy.name());
        assertEquals(Map.of("threshold", 0.75), policy.settings());
        assertThrows(UnsupportedOperationException.class, () -> policy.settings().put("threshold", 1.0));
        assertEquals(name + "{threshold=0.75}", policy.toString());
        ClipPolicy copy = ClipPolicies.create(policy.name(), policy.settings());
        assertNotSame(policy, copy);
        assertInstanceOf(FixedClip.class, copy);
        // One class serves every kind, so the copy's kind shows in its name and its decision.
        assertEquals(name, copy.name());
        assertEquals(policy.settings(), copy.settings());
        assertEquals(expected, copy.decide(Steps.step(0, 2.5), Signal.QUIET));
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void aKindIsFoundByItsPolicyName(Kind kind) {
        assertEquals(Optional.of(kind), Kind.byPolicyName(kind.policyName()));
        assertEquals(kind.policyName(), new FixedClip(kind, 0.75).name());
    }

    @Test
    void anUnknownPolicyNameHasNoKind() {
        assertEquals(Optional.empty(), Kind.byPolicyName("autoclip"));
        assertEquals(Optional.empty(), Kind.byPolicyName("VALUE"));
        assertEquals(Optional.empty(), Kind.byPolicyName(null));
    }

    @Test
    void rejectsAMissingKind() {
        assertThrows(NullPointerException.class, () -> new FixedClip(null, 0.75));
    }

    static Stream<Arguments> factoriesAndBadThresholds() {
        List<Named<DoubleFunction<FixedClip>>> factories = List.of(
                Named.of("value", FixedClip::value),
                Named.of("norm", FixedClip::norm),
                Named.of("param-norm", FixedClip::paramNorm),
                Named.of("global-norm", FixedClip::globalNorm));
        double[] bad = {Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, 0.0, -0.0, -1.0};
        return factories.stream()
                .flatMap(factory -> Arrays.stream(bad).mapToObj(threshold -> arguments(factory, threshold)));
    }

    @ParameterizedTest
    @MethodSource("factoriesAndBadThresholds")
    void rejectsThresholdsThatAreNotFinitePositive(DoubleFunction<FixedClip> factory, double bad) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> factory.apply(bad));
        assertEquals("threshold must be a finite number > 0, was " + bad, e.getMessage());
    }
}
