package dev.gradsentry.bench;

import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.schedule.MapSchedule;
import org.nd4j.linalg.schedule.ScheduleType;

import java.util.Map;
import java.util.Random;

/**
 * Late trouble: something that hits a run that has been training healthily, at a known step (the onset). Each kind
 * changes either the network before training (a learning-rate schedule) or the batches from the onset on; the training
 * loop counts steps, so a step the guard skips or rolls back still moves the data on.
 */
sealed interface Trouble {

    /** The loop step at which the trouble starts (0-based: the {@code onset + 1}-th batch is the first one hit). */
    long onset();

    /** What happens, for tables. */
    String describe();

    /** Called once on the freshly built network, before any probe or guard is attached. */
    default void prepare(MultiLayerNetwork net) {
    }

    /** The batch that loop step {@code step} trains on; {@code batch} is the clean one and may be changed in place. */
    default DataSet apply(long step, DataSet batch) {
        return batch;
    }

    /**
     * The learning rate jumps from {@code learningRate} to {@code learningRate * factor} at iteration {@code onset} and
     * stays there: a {@link MapSchedule} on every layer's updater, so the jump is part of the network's own schedule
     * (as a user's warm-up or step schedule would be) and survives anything that scales the schedule.
     */
    record LearningRateJump(long onset, double learningRate, double factor) implements Trouble {
        @Override
        public String describe() {
            return "learning rate x" + Contender.number(factor) + " from step " + onset;
        }

        @Override
        public void prepare(MultiLayerNetwork net) {
            net.setLearningRate(new MapSchedule(ScheduleType.ITERATION,
                    Map.of(0, learningRate, (int) onset, learningRate * factor)));
        }
    }

    /** One batch, at the onset, has its inputs multiplied by {@code factor} (a unit or normalisation bug). */
    record ScaledBatch(long onset, double factor) implements Trouble {
        @Override
        public String describe() {
            return "inputs x" + String.format(java.util.Locale.ROOT, "%.0e", factor) + " in batch " + onset;
        }

        @Override
        public DataSet apply(long step, DataSet batch) {
            if (step == onset) {
                batch.getFeatures().muli(factor);
            }
            return batch;
        }
    }

    /** One batch, at the onset, has NaN in the features of its first example (a corrupt record). */
    record NaNBatch(long onset) implements Trouble {
        @Override
        public String describe() {
            return "NaN in one example of batch " + onset;
        }

        @Override
        public DataSet apply(long step, DataSet batch) {
            if (step == onset) {
                INDArray first = batch.getFeatures().slice(0);
                first.assign(Double.NaN);
            }
            return batch;
        }
    }

    /**
     * For {@code steps} batches from the onset, the labels are shuffled across the batch's examples (a broken join):
     * the label distribution is unchanged, the pairing of inputs and labels is random.
     */
    record LabelNoise(long onset, int steps) implements Trouble {
        @Override
        public String describe() {
            return "labels shuffled in batches " + onset + "-" + (onset + steps - 1);
        }

        @Override
        public DataSet apply(long step, DataSet batch) {
            if (step < onset || step >= onset + steps) {
                return batch;
            }
            INDArray labels = batch.getLabels();
            int n = (int) labels.size(0);
            Random random = new Random(step);
            INDArray shuffled = labels.dup();
            for (int i = n - 1; i > 0; i--) {
                int j = random.nextInt(i + 1);
                INDArray a = shuffled.getRow(i).dup();
                shuffled.getRow(i).assign(shuffled.getRow(j));
                shuffled.getRow(j).assign(a);
            }
            batch.setLabels(shuffled);
            return batch;
        }
    }
}
