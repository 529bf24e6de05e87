package dev.gradsentry.training;

import org.nd4j.linalg.dataset.DataSet;

/** One set of the user's examples as read from its files: the training set or the held-out one. */
sealed interface ExampleSet permits CsvExamples, IdxExamples {

    /** Every example in one DataSet (sequences of different lengths padded, with masks). */
    DataSet data();

    /** The width of each example's features: what the model's first layer must take. */
    int features();

    /** How the files are laid out, compared between the training and the held-out set: {@code 5 columns}. */
    String layout();

    /**
     * The features and where their width comes from, for the message when the model takes another width:
     * {@code 4 feature columns (5 columns less 1 label column)}.
     */
    String featuresText();

    /** Besides giving the first layer that nIn, how to fit the model to the data, starting with {@code ", or"}. */
    String otherFix();
}
