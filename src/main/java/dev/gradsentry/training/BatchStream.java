package dev.gradsentry.training;

import org.nd4j.linalg.dataset.DataSet;

/** An endless, deterministic sequence of training minibatches. */
public interface BatchStream {
    /** The next minibatch; its order depends only on the run's seed. */
    DataSet next();

    /**
     * Moves on as if {@link #next()} had been called {@code batches} times, without building the batches: a resumed
     * run continues with the batch it would have seen next.
     */
    void skip(long batches);

    /** Steps in one pass over the training data. */
    int batchesPerEpoch();
}
