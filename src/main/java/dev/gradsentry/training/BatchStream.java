package dev.gradsentry.training;

import org.nd4j.linalg.dataset.DataSet;

/** An endless, deterministic sequence of training minibatches. */
public interface BatchStream {
    /** The next minibatch; its order depends only on the run's seed. */
    DataSet next();

    /** Steps in one pass over the training data. */
    int batchesPerEpoch();
}
