package dev.gradsentry.bench;

import dev.gradsentry.bench.StabilityBench.Entry;
import dev.gradsentry.bench.StabilityBench.Plan;
import dev.gradsentry.bench.StabilityConfig.Half;
import dev.gradsentry.bench.StabilityConfig.Row;
import dev.gradsentry.training.RunSpec;
import dev.gradsentry.training.WorkloadKind;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.learning.config.Nesterovs;
import org.nd4j.linalg.learning.config.Sgd;

import java.util.ArrayList;
import java.util.List;

import static dev.gradsentry.bench.Configurations.FASHION_BATCH;
import static dev.gradsentry.bench.Configurations.SEQUENCE_BATCH;
import static dev.gradsentry.bench.StabilityBench.CONTROL_SEEDS;
import static dev.gradsentry.bench.StabilityBench.TROUBLE_SEEDS;

/**
 * The stability benchmark's plans.
 *
 * <p><b>The split into halves</b> was decided before any guard result on these rows was seen, by this rule: each half
 * holds MLPs and RNNs, plain SGD and momentum, exploding rows and late trouble; everything the guard was developed on
 * before issue 10 (fashion-mlp and the adding problem's plain RNN, both from {@link RunSpec#exploding}) and the
 * learning-rate jump the issue reports as already handled go to {@code tuning}; everything built on Adam, every
 * sequence-classification task, and the troubles whose mechanism differs most from tuning's (a scaled batch that
 * stays finite, label noise that no gradient statistic sees) go to {@code validation}, so that tuning cannot see
 * them. Tuning: fashion-mlp, adding T=10, deep tanh MLP, learning-rate jump, NaN batch (and, added later for the rule
 * on stalled adaptive optimizers, fashion-rnn relu Adam, for the fix to batch normalisation's running statistics, the
 * batch-norm MLP, and, on 2026-12-02 (sixth session), because every validation row the guard missed was a plain RNN on
 * Nesterov momentum and tuning held none, adding T=10 Nesterov and recall relu Nesterov T=20). Validation: fashion-rnn,
 * adding T=20, recall tanh, recall relu Adam, scaled batch, label noise; and rows added later, each written down
 * before the guard ran on it: recall relu Nesterov (2026-12-01; the changes of 2026-12-02 were then made on it), recall
 * tanh Nesterov and fashion-rnn relu Nesterov (2026-12-02, held out against those changes), fashion-rnn tanh Nesterov
 * and deep relu MLP Nesterov (2026-12-02, second session, held out against that session's rule, which they then
 * rejected).
 */
final class Plans {

    private Plans() {
    }

    static Plan full() {
        List<Entry> entries = new ArrayList<>();
        // --- tuning ---
        entries.add(new Entry(fashionMlp(600, 50), StabilityBench.allContenders(), TROUBLE_SEEDS));
        // 2,000 steps: at 600 the best fixed thresholds were far from converged (T=20, norm 0.5, seed 42: MSE 0.113 at
        // 600, 0.026 at 2,000); the issue asks for horizons where they get near it.
        entries.add(new Entry(addingShort(2000, 100), StabilityBench.allContenders(), TROUBLE_SEEDS));
        entries.add(new Entry(deepTanh(300, 25), StabilityBench.barContenders(), TROUBLE_SEEDS));
        entries.add(new Entry(learningRateJump(400, 25, 200), StabilityBench.barContenders(), TROUBLE_SEEDS));
        entries.add(new Entry(nanBatch(400, 25, 200), StabilityBench.barContenders(), TROUBLE_SEEDS));
        entries.add(new Entry(fashionRnnAdam(300, 50), StabilityBench.barContenders(), TROUBLE_SEEDS));
        entries.add(new Entry(batchNormMlp(300, 25), StabilityBench.barContenders(), TROUBLE_SEEDS));
        entries.add(new Entry(addingNesterov(2000, 100), StabilityBench.barContenders(), TROUBLE_SEEDS));
        entries.add(new Entry(recallShortNesterov(300, 50), StabilityBench.barContenders(), TROUBLE_SEEDS));
        // --- validation ---
        entries.add(new Entry(fashionRnn(250, 50), StabilityBench.allContenders(), TROUBLE_SEEDS));
        entries.add(new Entry(addingLong(2000, 100), StabilityBench.barContenders(), TROUBLE_SEEDS));
        entries.add(new Entry(recallTanh(200, 50), StabilityBench.barContenders(), TROUBLE_SEEDS));
        entries.add(new Entry(recallAdam(200, 50), StabilityBench.barContenders(), TROUBLE_SEEDS));
        entries.add(new Entry(recallNesterov(500, 50), StabilityBench.barContenders(), TROUBLE_SEEDS));
        entries.add(new Entry(recallTanhNesterov(500, 50), StabilityBench.barContenders(), TROUBLE_SEEDS));
        entries.add(new Entry(fashionRnnNesterov(300, 50), StabilityBench.barContenders(), TROUBLE_SEEDS));
        entries.add(new Entry(fashionRnnTanhNesterov(300, 50), StabilityBench.barContenders(), TROUBLE_SEEDS));
        entries.add(new Entry(deepReluNesterov(300, 25), StabilityBench.barContenders(), TROUBLE_SEEDS));
        entries.add(new Entry(scaledBatch(300, 25, 150), StabilityBench.barContenders(), TROUBLE_SEEDS));
        entries.add(new Entry(labelNoise(400, 25, 200), StabilityBench.barContenders(), TROUBLE_SEEDS));
        // --- healthy controls ---
        for (StabilityConfig control : controls(300, 150, 25)) {
            entries.add(new Entry(control, StabilityBench.controlContenders(), CONTROL_SEEDS));
        }
        entries.add(new Entry(article(5000, 500), StabilityBench.articleContenders(), 1));
        return new Plan(entries);
    }

    /**
     * The test suite's run: two exploding rows (one with every kind of contender), one late trouble, one healthy
     * control and the seed article, one seed, a few steps, one threshold per grid.
     */
    static Plan quick() {
        List<Contender> few = List.of(Contender.none(), Contender.fixed("value", 0.1), Contender.fixed("norm", 1),
                Contender.fixed("global-norm", 1), Contender.protect());
        List<Contender> all = new ArrayList<>(few);
        all.addAll(all.size() - 1, List.of(Contender.clipOnly("autoclip"), Contender.clipOnly("zclip"),
                Contender.clipOnly("agc"), Contender.guardWithoutClipping()));
        return new Plan(List.of(
                new Entry(fashionMlp(40, 10), all, 1),
                new Entry(recallTanh(20, 10), few, 1),
                new Entry(nanBatch(40, 10, 20), few, 1),
                new Entry(controls(30, 30, 10).get(0), StabilityBench.controlContenders(), 1),
                new Entry(article(30, 15), StabilityBench.articleContenders(), 1)));
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Exploding rows. The facts in the comments were measured on this 2-core machine while other builds shared it
    // (load average 4 to 7), with ./bench stability --only ROW --contender ... --seeds 3 (seeds 42, 43, 44) unless a
    // seed is named; "ms/step" is the warm time per step there, including periodic evaluations, and the guesses passed
    // on are about 0.8 of it (the first ETA only; later ETAs use the measured times).
    // ---------------------------------------------------------------------------------------------------------------

    /**
     * {@link RunSpec#exploding}: relu 784-64-64-10, SGD lr 10: dead ReLUs at chance from the first steps. Seed 42:
     * none 0.10; global-norm 0.1 0.69 / 0.72 / 0.71 at 100 / 500 / 600 steps, a plateau (the README's 3-seed run: 0.74
     * median). 6-11 ms/step.
     */
    static StabilityConfig fashionMlp(long steps, int evalEvery) {
        return Configurations.accuracy("fashion-mlp", Row.EXPLODING, Half.TUNING, "784-64-64-10 relu, SGD lr 10",
                Configurations.spec(RunSpec.exploding(WorkloadKind.FASHION_MLP), FASHION_BATCH, 100), steps,
                evalEvery, 0.7, 10, null, 9);
    }

    /**
     * {@link RunSpec#exploding}: plain relu RNN 64, recurrent gain 1.5, SGD lr 0.1, rows of Fashion-MNIST: NaN by step 4.
     * Seed 42: norm 1 0.58 / 0.61 / 0.64 / 0.65 at 200 / 250 / 300 / 500 steps, global-norm 0.5 0.61 / 0.63 / 0.64 /
     * 0.67: 250 steps reach about 95% of 500's. 40-60 ms/step.
     */
    static StabilityConfig fashionRnn(long steps, int evalEvery) {
        return Configurations.accuracy("fashion-rnn", Row.EXPLODING, Half.VALIDATION,
                "plain RNN 64 relu, recurrent gain 1.5, SGD lr 0.1, image rows as a sequence",
                Configurations.spec(RunSpec.exploding(WorkloadKind.FASHION_RNN), FASHION_BATCH, 100), steps,
                evalEvery, 0.5, 10, null, 45);
    }

    /**
     * Added on 2026-12-01 to tune the guard's rule for a stalled adaptive optimizer on, away from the validation half's
     * recall task: a plain relu RNN 64 with recurrent gain 2 on Fashion-MNIST rows, Adam lr 0.01. The first gradients
     * (global norm 1e4, then 4.6e3, 400) fill Adam's second moment and the run crawls: none 0.48 / 0.28 / 0.53 after
     * 300 steps (seeds 42-44), norm 1 0.67 on seed 42, loss 20 at step 0 (chance: 2.3). 20 ms/step.
     */
    static StabilityConfig fashionRnnAdam(long steps, int evalEvery) {
        return Configurations.accuracy("fashion-rnn relu Adam", Row.EXPLODING, Half.TUNING,
                "plain RNN 64 relu, recurrent gain 2, Adam lr 0.01, image rows as a sequence",
                Configurations.fashionRnn(64, Activation.RELU, 2.0, Adam::new, 0.01), steps, evalEvery, 0.6, 10,
                null, 20);
    }

    /**
     * Added on 2026-12-02 (second session) to the tuning half, disclosed: the guard was tried on this network before
     * the row existed, and a defect found on it was fixed (clipping held batch normalisation's running statistics
     * near their starting values). Two blocks of a linear dense layer of 128, batch normalisation and a relu, SGD lr
     * 10. None 0.19 / 0.10 / 0.10 after 300 steps (2,000 test images). 35 ms/step.
     */
    static StabilityConfig batchNormMlp(long steps, int evalEvery) {
        return Configurations.accuracy("batch-norm MLP", Row.EXPLODING, Half.TUNING,
                "784-2x(128 linear, batch norm, relu)-10, SGD lr 10",
                Configurations.batchNormMlp(2, 128, Sgd::new, 10), steps, evalEvery, 0.7, 10, null, 30);
    }

    /**
     * {@link RunSpec#exploding} (plain tanh RNN 32, recurrent gain 2, SGD lr 0.1) over T=10 instead of 100, where it
     * learns: none NaN from step 31 on 3 of 3 seeds; global-norm 5 MSE 0.090 / 0.095 / 0.075 after 600 steps, value 0.05
     * 0.11, norm 0.5 0.09-0.12 (predicting 1.0: 0.167); after 2,000 steps global-norm 5 0.039 (0.030-0.043). At T=20
     * and T=50 the same spec stays at 0.15-0.18 with every threshold tried in 600-1,000 steps. 10-17 ms/step.
     */
    static StabilityConfig addingShort(long steps, int evalEvery) {
        return Configurations.adding("adding T=10", Row.EXPLODING, Half.TUNING,
                "plain RNN 32 tanh, recurrent gain 2, SGD lr 0.1",
                Configurations.spec(RunSpec.exploding(WorkloadKind.ADDING), SEQUENCE_BATCH, 10), steps, evalEvery,
                0.12, null, 12);
    }

    /**
     * A plain tanh RNN over T=20 with recurrent gain 1.5 and Nesterov momentum (plain SGD at lr 0.1 does not learn
     * T=20 in 1,000 steps, best 0.15; gain 2 with Nesterov reached 0.134 in 800): none NaN from step 59-63 on 3 of 3
     * seeds; norm 0.5 MSE 0.104 / 0.076 / 0.086 after 600 steps (seed 42: 0.070 after 800), norm 1 0.13 / 0.065 /
     * 0.14, value 0.05 0.15-0.16; after 2,000 steps norm 1 0.021 (0.017-0.028). 20 ms/step.
     */
    static StabilityConfig addingLong(long steps, int evalEvery) {
        return Configurations.adding("adding T=20", Row.EXPLODING, Half.VALIDATION,
                "plain RNN 32 tanh, recurrent gain 1.5, Nesterov lr 0.03 momentum 0.9",
                Configurations.spec(addingOnNesterov(1.5, 20), SEQUENCE_BATCH, 20), steps, evalEvery, 0.1, null, 16);
    }

    /** {@link RunSpec#exploding}'s adding problem at another gain and length, on Nesterov lr 0.03 momentum 0.9. */
    private static RunSpec addingOnNesterov(double recurrentGain, int length) {
        RunSpec e = RunSpec.exploding(WorkloadKind.ADDING);
        return new RunSpec(e.workload(), e.cell(), e.activation(), recurrentGain, e.hidden(),
                RunSpec.Optimizer.NESTEROVS, 0.03, e.batchSize(), e.steps(), e.seed(), e.evalInterval(),
                e.evalExamples(), length);
    }

    /**
     * Added to the tuning half on 2026-12-02 (sixth session), before the guard ran on it: every validation row the
     * guard missed was a plain RNN on Nesterov momentum, a kind the tuning half did not hold. The adding problem's
     * plain tanh RNN 32 at recurrent gain 2 over T=10, Nesterov lr 0.03 momentum 0.9. A near neighbour of the held-out
     * adding T=20 (gain 1.5, T=20), so that row is a weaker hold-out for rules tuned on this one.
     */
    static StabilityConfig addingNesterov(long steps, int evalEvery) {
        return Configurations.adding("adding T=10 Nesterov", Row.EXPLODING, Half.TUNING,
                "plain RNN 32 tanh, recurrent gain 2, Nesterov lr 0.03 momentum 0.9",
                Configurations.spec(addingOnNesterov(2, 10), SEQUENCE_BATCH, 10), steps, evalEvery, 0.12, null, 12);
    }

    /**
     * Added with {@link #addingNesterov}, for the same reason: the recall task over 20 symbols with a plain relu RNN
     * 64, recurrent gain 2, Nesterov lr 0.01 momentum 0.9. A near neighbour of the held-out recall relu Nesterov (40
     * symbols).
     */
    static StabilityConfig recallShortNesterov(long steps, int evalEvery) {
        return Configurations.accuracy("recall relu Nesterov T=20", Row.EXPLODING, Half.TUNING,
                "plain RNN 64 relu, recurrent gain 2, Nesterov lr 0.01 momentum 0.9, recall the first of 20 symbols",
                Configurations.recall(4, 20, 64, Activation.RELU, 2.0, lr -> new Nesterovs(lr, 0.9), 0.01), steps,
                evalEvery, 0.9, 4, null, 15);
    }

    /**
     * Six tanh layers of 128 with Nesterov momentum at lr 0.5: none saturated at chance (0.10) on 3 of 3 seeds;
     * global-norm 0.1 0.839 / 0.845 / 0.836 and norm 0.1 0.82-0.83 after 300 steps (seed 42: 0.850 / 0.849 / 0.854 at
     * 200 / 300 / 400, converged). The same network at lr 0.05 trains healthily to 0.855. 13-21 ms/step.
     */
    static StabilityConfig deepTanh(long steps, int evalEvery) {
        return Configurations.accuracy("deep tanh MLP", Row.EXPLODING, Half.TUNING,
                "784-6x128-10 tanh, Nesterov lr 0.5 momentum 0.9",
                Configurations.deepMlp(6, 128, Activation.TANH, lr -> new Nesterovs(lr, 0.9), 0.5), steps,
                evalEvery, 0.8, 10, null, 14);
    }

    /**
     * Recall the first of 20 symbols (4 classes) with a plain tanh RNN, recurrent gain 2, SGD lr 0.1: none 0.24 / 0.53
     * / 0.51 after 200 steps (stalled; chance 0.25); value 0.1 and norm 1 1.00 on 3 of 3 seeds, from step 50-100. The
     * relu version (gain 1.5, SGD lr 0.05) goes NaN at step 3 without clipping and reaches 1.00 with norm 1 (seed 42).
     * 15-17 ms/step.
     */
    static StabilityConfig recallTanh(long steps, int evalEvery) {
        return Configurations.accuracy("recall tanh", Row.EXPLODING, Half.VALIDATION,
                "plain RNN 64 tanh, recurrent gain 2, SGD lr 0.1, recall the first of 20 symbols",
                Configurations.recall(4, 20, 64, Activation.TANH, 2.0, Sgd::new, 0.1), steps, evalEvery, 0.9, 4,
                null, 14);
    }

    /**
     * The recall task with a plain relu RNN, recurrent gain 2, trained with Adam at lr 0.01. Adam bounds each update by
     * about its learning rate, so nothing goes NaN; instead the first gradients (global norm 4e3 to 2e5) fill Adam's
     * second moment and the run stalls at chance: none 0.24 / 0.25 / 0.997 after 200 steps; norm 1, norm 0.1 and
     * global-norm 0.1 1.00 on 3 of 3 seeds, value 0.01 0.98-1.00. With gain 1.5 the rescue is seed-dependent (norm 0.1
     * 2 of 3), with lr 0.03 nothing learns, with lr 0.003 no threshold is reliable. 20-27 ms/step.
     */
    static StabilityConfig recallAdam(long steps, int evalEvery) {
        return Configurations.accuracy("recall relu Adam", Row.EXPLODING, Half.VALIDATION,
                "plain RNN 64 relu, recurrent gain 2, Adam lr 0.01, recall the first of 20 symbols",
                Configurations.recall(4, 20, 64, Activation.RELU, 2.0, Adam::new, 0.01), steps, evalEvery, 0.9, 4,
                null, 20);
    }

    /**
     * Added on 2026-12-01 as a held-out row for rules made after the validation half had been seen: the recall task
     * over 40 symbols with a plain relu RNN, recurrent gain 2, Nesterov lr 0.01 momentum 0.9. Momentum lets the first
     * large gradients build up; the guard was not run on it before it was written down here.
     */
    static StabilityConfig recallNesterov(long steps, int evalEvery) {
        return Configurations.accuracy("recall relu Nesterov", Row.EXPLODING, Half.VALIDATION,
                "plain RNN 64 relu, recurrent gain 2, Nesterov lr 0.01 momentum 0.9, recall the first of 40 symbols",
                Configurations.recall(4, 40, 64, Activation.RELU, 2.0, lr -> new Nesterovs(lr, 0.9), 0.01), steps,
                evalEvery, 0.9, 4, null, 30);
    }

    /**
     * Added on 2026-12-02, before the guard was run on it, to hold out against the two changes of that day (found on
     * recall relu Nesterov, which they were then made on): the recall task over 30 symbols with a plain tanh RNN,
     * recurrent gain 2, Nesterov lr 0.01 momentum 0.9.
     */
    static StabilityConfig recallTanhNesterov(long steps, int evalEvery) {
        return Configurations.accuracy("recall tanh Nesterov", Row.EXPLODING, Half.VALIDATION,
                "plain RNN 64 tanh, recurrent gain 2, Nesterov lr 0.01 momentum 0.9, recall the first of 30 symbols",
                Configurations.recall(4, 30, 64, Activation.TANH, 2.0, lr -> new Nesterovs(lr, 0.9), 0.01), steps,
                evalEvery, 0.9, 4, null, 25);
    }

    /**
     * Added on 2026-12-02 with {@link #recallTanhNesterov}, for the same reason: a plain relu RNN 64, recurrent gain
     * 1.5, Nesterov lr 0.01 momentum 0.9, on Fashion-MNIST read row by row.
     */
    static StabilityConfig fashionRnnNesterov(long steps, int evalEvery) {
        return Configurations.accuracy("fashion-rnn relu Nesterov", Row.EXPLODING, Half.VALIDATION,
                "plain RNN 64 relu, recurrent gain 1.5, Nesterov lr 0.01 momentum 0.9, image rows as a sequence",
                Configurations.fashionRnn(64, Activation.RELU, 1.5, lr -> new Nesterovs(lr, 0.9), 0.01), steps,
                evalEvery, 0.5, 10, null, 25);
    }

    /**
     * Added on 2026-12-02 (second session) as held-out rows for the rules of that session, written down before the
     * guard ran on them: a plain tanh RNN 64, recurrent gain 2, Nesterov lr 0.02 momentum 0.9, on Fashion-MNIST rows.
     * None 0.24 (0.20-0.33) after 300 steps, stalled; value 0.05 0.724, norm 1 0.721. 40-50 ms/step.
     */
    static StabilityConfig fashionRnnTanhNesterov(long steps, int evalEvery) {
        return Configurations.accuracy("fashion-rnn tanh Nesterov", Row.EXPLODING, Half.VALIDATION,
                "plain RNN 64 tanh, recurrent gain 2, Nesterov lr 0.02 momentum 0.9, image rows as a sequence",
                Configurations.fashionRnn(64, Activation.TANH, 2.0, lr -> new Nesterovs(lr, 0.9), 0.02), steps,
                evalEvery, 0.5, 10, null, 37);
    }

    /**
     * Added with {@link #fashionRnnTanhNesterov}, for the same reason: four relu layers of 256 with Nesterov momentum
     * at lr 0.3 on flat Fashion-MNIST images. None NaN on 2 of 3 seeds (the third at chance); global-norm 0.5 0.835,
     * norm 0.1 0.835 after 300 steps, every threshold of 5 or more at chance. 35-40 ms/step.
     */
    static StabilityConfig deepReluNesterov(long steps, int evalEvery) {
        return Configurations.accuracy("deep relu MLP Nesterov", Row.EXPLODING, Half.VALIDATION,
                "784-4x256-10 relu, Nesterov lr 0.3 momentum 0.9",
                Configurations.deepMlp(4, 256, Activation.RELU, lr -> new Nesterovs(lr, 0.9), 0.3), steps,
                evalEvery, 0.8, 10, null, 30);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Late trouble: healthy configurations, hit at the onset (an evaluation step, so the pre-trouble level is measured
    // right before it).
    // ---------------------------------------------------------------------------------------------------------------

    /**
     * The healthy deep tanh MLP (Nesterov lr 0.05, 0.84-0.86 at step 200) whose learning rate jumps x20 to 1.0 at step
     * 200: none back at chance on 3 of 3 seeds and never back; norm 0.1 0.77 at the end (never within a point of its
     * pre-jump 0.83 on 2 of 3 seeds), norm 1 at chance. 12-13 ms/step.
     */
    static StabilityConfig learningRateJump(long steps, int evalEvery, long onset) {
        return Configurations.accuracy("lr jump", Row.LATE, Half.TUNING,
                "784-6x128-10 tanh, Nesterov lr 0.05 momentum 0.9",
                Configurations.deepMlp(6, 128, Activation.TANH, lr -> new Nesterovs(lr, 0.9), 0.05), steps,
                evalEvery, 0.8, 10, new Trouble.LearningRateJump(onset, 0.05, 20), 11);
    }

    /**
     * The healthy fashion-mlp ({@link RunSpec#defaults}: relu 64-64, SGD lr 0.1) meets one batch with a NaN: none and
     * every fixed threshold end with NaN weights at the onset on 3 of 3 seeds (clipping alone passes a non-finite
     * gradient on, as Keras or PyTorch would), so the best fixed threshold is NaN here and the row compares the guard
     * with nothing. Runs stop at the NaN, so this row is cheap.
     */
    static StabilityConfig nanBatch(long steps, int evalEvery, long onset) {
        return Configurations.accuracy("nan batch", Row.LATE, Half.TUNING, "784-64-64-10 relu, SGD lr 0.1",
                Configurations.spec(RunSpec.defaults(WorkloadKind.FASHION_MLP), FASHION_BATCH, 100), steps,
                evalEvery, 0.8, 10, new Trouble.NaNBatch(onset), 6);
    }

    /**
     * The healthy fashion-mlp meets one batch of inputs x1e4 at step 150: none drops to chance (0.10) on 3 of 3 seeds
     * and never comes back; norm 1 0.79-0.81 at the end, back within 0-25 steps; norm 0.1 0.72-0.73. The same trouble
     * on a tanh RNN trained with Adam changed nothing (1.00 with and without clipping). 4-8 ms/step.
     */
    static StabilityConfig scaledBatch(long steps, int evalEvery, long onset) {
        return Configurations.accuracy("scaled batch", Row.LATE, Half.VALIDATION, "784-64-64-10 relu, SGD lr 0.1",
                Configurations.spec(RunSpec.defaults(WorkloadKind.FASHION_MLP), FASHION_BATCH, 100), steps,
                evalEvery, 0.8, 10, new Trouble.ScaledBatch(onset, 1e4), 6);
    }

    /**
     * The healthy fashion-mlp meets 50 batches whose labels are shuffled, from step 200: none 0.80-0.81 at the end and
     * 50 steps lost (median; the burst itself), norm 1 0.79-0.80. Clipping is not what this row needs; it asks whether
     * the guard reads the burst as divergence and what that costs. 6-10 ms/step.
     */
    static StabilityConfig labelNoise(long steps, int evalEvery, long onset) {
        return Configurations.accuracy("label noise", Row.LATE, Half.VALIDATION, "784-64-64-10 relu, SGD lr 0.1",
                Configurations.spec(RunSpec.defaults(WorkloadKind.FASHION_MLP), FASHION_BATCH, 100), steps,
                evalEvery, 0.8, 10, new Trouble.LabelNoise(onset, 50), 7);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Healthy controls and the seed article.
    // ---------------------------------------------------------------------------------------------------------------

    /**
     * Every workload's healthy configuration ({@link RunSpec#defaults}; the adding problem over T=20 instead of 100,
     * which costs 250 ms a step here), and healthy versions of the benchmark's own networks. Without a guard (seed 42):
     * fashion-mlp 0.81 after 300 steps, the LSTM on fashion-rnn 0.82, the deep tanh MLP 0.84, the tanh RNN on the
     * recall task 1.00. The two LSTMs (100 and 60 ms/step) train {@code lstmSteps}, the others {@code steps}.
     */
    static List<StabilityConfig> controls(long steps, long lstmSteps, int evalEvery) {
        return List.of(
                Configurations.accuracy("healthy fashion-mlp", Row.HEALTHY, Half.CONTROL,
                        "784-64-64-10 relu, SGD lr 0.1 (RunSpec.defaults)",
                        Configurations.spec(RunSpec.defaults(WorkloadKind.FASHION_MLP), FASHION_BATCH, 100), steps,
                        evalEvery, 0.8, 10, null, 9),
                Configurations.accuracy("healthy fashion-rnn", Row.HEALTHY, Half.CONTROL,
                        "LSTM 64 tanh, Adam lr 0.005 (RunSpec.defaults)",
                        Configurations.spec(RunSpec.defaults(WorkloadKind.FASHION_RNN), FASHION_BATCH, 100),
                        lstmSteps, evalEvery, 0.7, 10, null, 90),
                Configurations.adding("healthy adding", Row.HEALTHY, Half.CONTROL,
                        "LSTM 32 tanh, Adam lr 0.005 (RunSpec.defaults), T=20",
                        Configurations.spec(RunSpec.defaults(WorkloadKind.ADDING), SEQUENCE_BATCH, 20), lstmSteps,
                        evalEvery, 0.05, null, 50),
                Configurations.accuracy("healthy deep tanh MLP", Row.HEALTHY, Half.CONTROL,
                        "784-6x128-10 tanh, Nesterov lr 0.05 momentum 0.9",
                        Configurations.deepMlp(6, 128, Activation.TANH, lr -> new Nesterovs(lr, 0.9), 0.05), steps,
                        evalEvery, 0.8, 10, null, 14),
                Configurations.accuracy("healthy recall tanh Adam", Row.HEALTHY, Half.CONTROL,
                        "plain RNN 64 tanh, recurrent gain 1, Adam lr 0.003, recall the first of 20 symbols",
                        Configurations.recall(4, 20, 64, Activation.TANH, 1.0, Adam::new, 0.003), steps, evalEvery,
                        0.9, 4, null, 20));
    }

    /**
     * The seed article's Keras run, {@code steps_per_epoch=500, epochs=10}: evaluated once per "epoch". One seed in the
     * full plan (30 s of 5,000 steps a run), to keep the plan within the hour.
     */
    static StabilityConfig article(long steps, int stepsPerEpoch) {
        return Configurations.accuracy("seed article: fashion-mlp", Row.ARTICLE, Half.CONTROL,
                "784-64-64-10 relu, SGD lr 10",
                Configurations.spec(RunSpec.exploding(WorkloadKind.FASHION_MLP), FASHION_BATCH, 100), steps,
                stepsPerEpoch, 0.7, 10, null, 7);
    }
}
