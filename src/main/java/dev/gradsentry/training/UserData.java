package dev.gradsentry.training;

import dev.gradsentry.core.ExternalName;
import dev.gradsentry.core.InvalidSettingException;

/**
 * The user's data files and how DataVec reads them: the {@code data} field of a run of workload {@code user}. Paths
 * are under the user directory ({@code gradsentry.user-dir}). Fields left out take the defaults below, filled in here
 * so that a run's status shows what was used.
 *
 * @param format       {@code csv} (one example per line; default), {@code csv-sequence} (a directory with one file
 *                     per sequence, one time step per line) or {@code idx} (an IDX file of images, unsigned bytes, as
 *                     MNIST ships them, with an IDX file of their labels; each image flattened row by row, its pixels
 *                     scaled to [0, 1])
 * @param task         {@code classification} (accuracy) or {@code regression} (MSE); required
 * @param train        the training file ({@code csv}, {@code idx}) or directory ({@code csv-sequence}); required
 * @param trainLabels  {@code csv-sequence}: a directory of label files named as the feature files; left out, the
 *                     labels are columns of the feature files. {@code idx}: the IDX file of the labels; required
 * @param test         held-out file or directory; left out, {@code split} of the training examples are held out
 * @param testLabels   label directory of {@code test}, given exactly when {@code trainLabels} is
 * @param split        fraction of the training examples held out (by the run's seed) when {@code test} is left out;
 *                     default 0.2
 * @param labelColumn  first label column, counted from 0; default: the last column(s). Not used with label files
 *                     (nor are labelColumns, skipLines and delimiter with {@code idx})
 * @param labelColumns regression only: how many label columns, from {@code labelColumn} on; default 1
 * @param classes      classification only: the number of classes, labels 0 to classes-1; default: the width of the
 *                     model's output
 * @param skipLines    header lines at the top of each file; default 0
 * @param delimiter    the column separator, one character; default {@code ,}
 * @param normalize    fitted on the training examples, saved with every checkpoint: {@code standardize} (default),
 *                     {@code min-max} or {@code none}
 * @param alignment    {@code csv-sequence} with label files: how DataVec aligns features and labels of different
 *                     lengths ({@code equal-length}, default; {@code align-end} for one label per sequence)
 */
public record UserData(Format format, Task task, String train, String trainLabels, String test, String testLabels,
                       Double split, Integer labelColumn, Integer labelColumns, Integer classes, Integer skipLines,
                       String delimiter, Normalize normalize, Alignment alignment) {

    public enum Format { CSV, CSV_SEQUENCE, IDX }

    public enum Task { CLASSIFICATION, REGRESSION }

    public enum Normalize { STANDARDIZE, MIN_MAX, NONE }

    public enum Alignment { EQUAL_LENGTH, ALIGN_START, ALIGN_END }

    public static final double DEFAULT_SPLIT = 0.2;

    public UserData {
        format = format == null ? Format.CSV : format;
        require(task != null, "task", "is required: " + ExternalName.valid(Task.class));
        require(train != null && !train.isBlank(), "train", "is required: the training " + switch (format) {
            case CSV -> "CSV file";
            case CSV_SEQUENCE -> "directory of sequence files";
            case IDX -> "IDX file of images";
        } + ", under the user directory");
        require(trainLabels == null || format != Format.CSV, "trainLabels",
                "is only for format csv-sequence or idx; in a csv file name the label column with labelColumn");
        boolean idx = format == Format.IDX;
        require(!idx || trainLabels != null && !trainLabels.isBlank(), "trainLabels", "is required for format idx: "
                + "the IDX file of the training images' labels, such as train-labels-idx1-ubyte");
        require(!idx || task == Task.CLASSIFICATION, "task", "must be classification for format idx: its labels "
                + "are classes, 0 to classes-1");
        require(!idx || skipLines == null, "skipLines", "is for CSV files; an IDX file has no lines to skip");
        require(!idx || delimiter == null, "delimiter", "is for CSV files; an IDX file has no columns to separate");
        require(testLabels == null || test != null, "testLabels", "needs test, the held-out feature files");
        require(test == null || (trainLabels == null) == (testLabels == null), "testLabels",
                "is needed exactly when trainLabels is given: the held-out files are laid out as the training files");
        require(test == null || split == null, "split", "holds out part of train when test is left out; give test "
                + "or split, not both");
        split = test == null && split == null ? Double.valueOf(DEFAULT_SPLIT) : split;
        require(split == null || split > 0 && split < 1, "split", "must be a fraction between 0 and 1 (exclusive), "
                + "such as 0.2");
        require(labelColumn == null || labelColumn >= 0, "labelColumn", "must be >= 0 (columns count from 0)");
        require(labelColumn == null || trainLabels == null, "labelColumn",
                "is not used with label files (trainLabels); leave it out");
        require(labelColumns == null || task == Task.REGRESSION, "labelColumns",
                "is for regression; a classification has one label column holding the class, 0 to classes-1");
        labelColumns = labelColumns == null && task == Task.REGRESSION ? Integer.valueOf(1) : labelColumns;
        require(labelColumns == null || labelColumns >= 1, "labelColumns", "must be >= 1");
        require(classes == null || task == Task.CLASSIFICATION, "classes",
                "is for classification; a regression has labelColumns");
        require(classes == null || classes >= 2, "classes", "must be >= 2");
        skipLines = skipLines == null ? Integer.valueOf(0) : skipLines;
        require(skipLines >= 0 && skipLines <= 1000, "skipLines", "must be between 0 and 1000");
        delimiter = delimiter == null ? "," : delimiter;
        require(delimiter.length() == 1 && delimiter.charAt(0) != '"' && delimiter.charAt(0) != '\n',
                "delimiter", "must be one character such as , or ; (a tab is \"\\t\")");
        normalize = normalize == null ? Normalize.STANDARDIZE : normalize;
        alignment = alignment == null ? Alignment.EQUAL_LENGTH : alignment;
        require(alignment == Alignment.EQUAL_LENGTH || format == Format.CSV_SEQUENCE && trainLabels != null,
                "alignment", "is for sequences with label files (format csv-sequence, trainLabels); features and "
                        + "labels in one file are aligned already");
    }

    /** The field's name as the run's JSON spells it: {@code data.train}. */
    public static String field(String name) {
        return "data." + name;
    }

    private static void require(boolean ok, String name, String message) {
        if (!ok) {
            throw new InvalidSettingException(field(name), field(name) + " " + message);
        }
    }
}
