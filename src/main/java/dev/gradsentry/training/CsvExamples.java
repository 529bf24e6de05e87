package dev.gradsentry.training;

import dev.gradsentry.core.InvalidSettingException;
import org.datavec.api.records.Record;
import org.datavec.api.records.SequenceRecord;
import org.datavec.api.records.metadata.RecordMetaDataLine;
import org.datavec.api.records.reader.RecordReader;
import org.datavec.api.records.reader.SequenceRecordReader;
import org.datavec.api.records.reader.impl.csv.CSVRecordReader;
import org.datavec.api.records.reader.impl.csv.CSVSequenceRecordReader;
import org.datavec.api.split.CollectionInputSplit;
import org.datavec.api.split.FileSplit;
import org.datavec.api.writable.Writable;
import org.deeplearning4j.datasets.datavec.RecordReaderDataSetIterator;
import org.deeplearning4j.datasets.datavec.SequenceRecordReaderDataSetIterator;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * One set of the user's examples (the training or the held-out files), read by DataVec: a CSV file through
 * {@link CSVRecordReader} and {@link RecordReaderDataSetIterator}, a directory of sequence files through
 * {@link CSVSequenceRecordReader} and {@link SequenceRecordReaderDataSetIterator}. Every value is checked first, with
 * the file and line of the first one at fault: a value that is not a number, NaN or infinite, a line with another
 * number of columns, a class label that is no whole number from 0 to classes-1.
 *
 * <p>Sequences with label files are aligned as DataVec's {@link SequenceRecordReaderDataSetIterator.AlignmentMode}
 * says ({@link UserData#alignment()}); {@code equal-length} needs as many label lines as time steps, which is checked
 * per file here rather than left to DataVec's exception. A model whose output takes one label per sequence (a
 * feed-forward output layer after a {@code LastTimeStep} layer or vertex) gets each sequence's label as a row: the
 * label of its last labelled step, which a label file of one line is.
 *
 * @param data     every example in one DataSet (sequences of different lengths padded, with masks)
 * @param columns  columns of each feature file line, labels included when they are in the same file
 * @param features the width of each example's features
 * @param maxLabel the largest class label found (classification), -1 for a regression
 */
record CsvExamples(DataSet data, int columns, int features, int maxLabel) implements ExampleSet {

    /**
     * @param field       the run field that names the files, {@code data.train} or {@code data.test}
     * @param labels      the directory of label files of a sequence set, or null when labels are columns
     * @param classes     the number of classes of a classification, for the check and DataVec's one-hot labels
     * @param sequenceOut for sequences, the model's output when it takes one label per sequence (not an
     *                    RnnOutputLayer), for the messages; null when it takes a label per step
     */
    static CsvExamples read(String field, Path features, String labelsField, Path labels, UserData d, int classes,
                            String sequenceOut) {
        try {
            return d.format() == UserData.Format.CSV ? table(field, features, d, classes)
                    : sequences(field, features, labelsField, labels, d, classes, sequenceOut);
        } catch (IOException | InterruptedException e) {
            if (e instanceof InterruptedException) {
                Thread.currentThread().interrupt();
            }
            throw new InvalidSettingException(field, field + " cannot be read: " + e.getMessage());
        }
    }

    private static CsvExamples table(String field, Path file, UserData d, int classes)
            throws IOException, InterruptedException {
        RecordReader reader = new CSVRecordReader(d.skipLines(), d.delimiter().charAt(0));
        reader.initialize(new FileSplit(file.toFile()));
        Columns columns = new Columns(field, file);
        int n = 0;
        int maxLabel = -1;
        while (reader.hasNext()) {
            Record r = reader.nextRecord();
            int line = ((RecordMetaDataLine) r.getMetaData()).getLineNumber() + 1;
            List<Writable> values = r.getRecord();
            columns.check(values, line);
            int label = labelColumn(d, values.size());
            if (label >= values.size()) {
                throw new InvalidSettingException(UserData.field("labelColumn"), UserData.field("labelColumn") + " "
                        + label + " is past the last column of " + file.getFileName() + " (" + values.size()
                        + " columns, counted from 0)");
            }
            if (d.task() == UserData.Task.CLASSIFICATION) {
                maxLabel = Math.max(maxLabel, classLabel(field, file, line, values.get(label), classes));
            }
            n++;
        }
        if (n == 0) {
            throw new InvalidSettingException(field, field + " " + file.getFileName() + " has no examples"
                    + (d.skipLines() > 0 ? " after its " + d.skipLines() + " skipped lines (data.skipLines)" : ""));
        }
        int width = columns.width;
        int label = labelColumn(d, width);
        int labelCount = d.task() == UserData.Task.REGRESSION ? d.labelColumns() : 1;
        if (label + labelCount > width) {
            throw new InvalidSettingException(UserData.field("labelColumns"), UserData.field("labelColumns") + " "
                    + labelCount + " from column " + label + " run past the last column of " + file.getFileName()
                    + " (" + width + " columns)");
        }
        reader.reset();
        RecordReaderDataSetIterator it = d.task() == UserData.Task.CLASSIFICATION
                ? new RecordReaderDataSetIterator(reader, n, label, classes)
                : new RecordReaderDataSetIterator(reader, n, label, label + labelCount - 1, true);
        return new CsvExamples(it.next(), width, width - labelCount, maxLabel);
    }

    @Override
    public String layout() {
        return columns + " columns";
    }

    @Override
    public String featuresText() {
        int labels = columns - features;
        return features + " feature columns (" + (labels == 0 ? columns + " columns, labels in label files"
                : columns + " columns less " + labels + " label column" + (labels == 1 ? "" : "s")) + ")";
    }

    @Override
    public String otherFix() {
        return columns == features ? "" : ", or name the label column(s) with data.labelColumn";
    }

    private static CsvExamples sequences(String field, Path dir, String labelsField, Path labelDir, UserData d,
                                         int classes, String sequenceOut) throws IOException, InterruptedException {
        List<Path> files = files(field, dir);
        List<Path> labelFiles = labelDir == null ? null : files(labelsField, labelDir);
        if (labelFiles == null && sequenceOut != null) {
            throw new InvalidSettingException(labelsField, labelsField + " is needed: the model's output, "
                    + sequenceOut + ", is a feed-forward output layer, which takes one label per sequence, but the "
                    + "labels are a column of every time step; put each sequence's label in a file of one line, named "
                    + "as its sequence file, in a directory given as " + labelsField + ", with " + UserData.field(
                    "alignment") + " align-end, or end the model with an RnnOutputLayer for a label per step");
        }
        if (labelFiles != null) {
            for (int i = 0; i < Math.max(files.size(), labelFiles.size()); i++) {
                String f = i < files.size() ? files.get(i).getFileName().toString() : null;
                String l = i < labelFiles.size() ? labelFiles.get(i).getFileName().toString() : null;
                if (f == null || !f.equals(l)) {
                    throw new InvalidSettingException(labelsField, labelsField + " must hold one label file per "
                            + "sequence file, named alike: " + (f == null ? l + " has no sequence file in " + field
                            : f + " has no label file in " + labelsField));
                }
            }
        }
        SequenceRecordReader reader = sequenceReader(files, d);
        Columns columns = new Columns(field, null);
        List<Integer> lengths = new ArrayList<>();
        int maxLabel = -1;
        boolean classification = d.task() == UserData.Task.CLASSIFICATION;
        while (reader.hasNext()) {
            SequenceRecord s = reader.nextSequence();
            Path file = Path.of(s.getMetaData().getURI());
            columns.file = file;
            List<List<Writable>> steps = s.getSequenceRecord();
            if (steps.isEmpty()) {
                throw new InvalidSettingException(field, field + " " + file.getFileName() + " holds no time step");
            }
            lengths.add(steps.size());
            for (int t = 0; t < steps.size(); t++) {
                List<Writable> values = steps.get(t);
                columns.check(values, d.skipLines() + t + 1);
                if (labelFiles == null && classification) {
                    int label = labelColumn(d, values.size());
                    maxLabel = Math.max(maxLabel, classLabel(field, file, d.skipLines() + t + 1, values.get(label),
                            classes));
                }
            }
        }
        int labelCount = 0;
        if (labelFiles != null) {
            SequenceRecordReader labels = sequenceReader(labelFiles, d);
            Columns labelColumns = new Columns(labelsField, null);
            for (int sequence = 0; labels.hasNext(); sequence++) {
                SequenceRecord s = labels.nextSequence();
                labelColumns.file = Path.of(s.getMetaData().getURI());
                List<List<Writable>> steps = s.getSequenceRecord();
                checkLength(labelsField, labelColumns.file, steps.size(), lengths.get(sequence), d, sequenceOut);
                for (int t = 0; t < steps.size(); t++) {
                    int line = d.skipLines() + t + 1;
                    labelColumns.check(steps.get(t), line);
                    if (classification) {
                        maxLabel = Math.max(maxLabel, classLabel(labelsField, labelColumns.file, line,
                                steps.get(t).get(0), classes));
                    }
                }
            }
            labelCount = labelColumns.width;
            if (classification && labelCount != 1) {
                throw new InvalidSettingException(labelsField, labelsField + " files have " + labelCount
                        + " columns; a classification's label files have one, the class 0 to classes-1");
            }
            if (!classification && d.labelColumns() != labelCount) {
                throw new InvalidSettingException(UserData.field("labelColumns"), UserData.field("labelColumns")
                        + " is " + d.labelColumns() + " but the label files have " + labelCount + " columns");
            }
            labels.reset();
            reader.reset();
            var it = new SequenceRecordReaderDataSetIterator(reader, labels, files.size(), classification ? classes
                    : -1, !classification, alignment(d.alignment()));
            DataSet data = it.next();
            return new CsvExamples(sequenceOut == null ? data : lastLabels(data), columns.width, columns.width,
                    maxLabel);
        }
        if (!classification && d.labelColumns() != 1) {
            throw new InvalidSettingException(UserData.field("labelColumns"), UserData.field("labelColumns")
                    + " must be 1 when the labels are a column of the sequence files; put several label columns "
                    + "in label files (data.trainLabels)");
        }
        int label = labelColumn(d, columns.width);
        if (label >= columns.width) {
            throw new InvalidSettingException(UserData.field("labelColumn"), UserData.field("labelColumn") + " "
                    + label + " is past the last column of the sequence files (" + columns.width + " columns)");
        }
        reader.reset();
        var it = new SequenceRecordReaderDataSetIterator(reader, files.size(), classification ? classes : -1, label,
                !classification);
        return new CsvExamples(it.next(), columns.width, columns.width - 1, maxLabel);
    }

    /** A label file's lines against its sequence's steps, as the alignment and the model's output need them. */
    private static void checkLength(String labelsField, Path file, int labelSteps, int featureSteps, UserData d,
                                    String sequenceOut) {
        if (sequenceOut != null && labelSteps != 1) {
            throw new InvalidSettingException(labelsField, labelsField + " " + file.getFileName() + " has "
                    + labelSteps + " lines, but the model's output, " + sequenceOut + ", is a feed-forward output "
                    + "layer, which takes one label per sequence; give each label file one line (with "
                    + UserData.field("alignment") + " align-end), or end the model with an RnnOutputLayer for a label "
                    + "per step");
        }
        if (d.alignment() == UserData.Alignment.EQUAL_LENGTH && labelSteps != featureSteps) {
            throw new InvalidSettingException(UserData.field("alignment"), labelsField + " " + file.getFileName()
                    + " has " + labelSteps + " line" + (labelSteps == 1 ? "" : "s") + " for a sequence of "
                    + featureSteps + " steps, but " + UserData.field("alignment") + " is equal-length; set it to "
                    + "align-end to line the labels up with the last steps (one label per sequence: the last step), "
                    + "or align-start for the first steps");
        }
    }

    /**
     * Each sequence's label as a row: the label of its last labelled step, for an output that takes one label per
     * sequence. The features keep their mask, from which a LastTimeStep layer picks each sequence's last step.
     */
    private static DataSet lastLabels(DataSet data) {
        INDArray labels = data.getLabels();
        INDArray mask = data.getLabelsMaskArray();
        long n = labels.size(0);
        INDArray rows = Nd4j.create(labels.dataType(), n, labels.size(1));
        for (long i = 0; i < n; i++) {
            long t = labels.size(2) - 1;
            while (mask != null && t > 0 && mask.getDouble(i, t) == 0) {
                t--;
            }
            rows.putRow(i, labels.get(NDArrayIndex.point(i), NDArrayIndex.all(), NDArrayIndex.point(t)));
        }
        return new DataSet(data.getFeatures(), rows, data.getFeaturesMaskArray(), null);
    }

    private static SequenceRecordReader sequenceReader(List<Path> files, UserData d)
            throws IOException, InterruptedException {
        SequenceRecordReader reader = new CSVSequenceRecordReader(d.skipLines(), d.delimiter());
        List<URI> uris = files.stream().map(Path::toUri).toList();
        reader.initialize(new CollectionInputSplit(uris));
        return reader;
    }

    private static SequenceRecordReaderDataSetIterator.AlignmentMode alignment(UserData.Alignment a) {
        return switch (a) {
            case EQUAL_LENGTH -> SequenceRecordReaderDataSetIterator.AlignmentMode.EQUAL_LENGTH;
            case ALIGN_START -> SequenceRecordReaderDataSetIterator.AlignmentMode.ALIGN_START;
            case ALIGN_END -> SequenceRecordReaderDataSetIterator.AlignmentMode.ALIGN_END;
        };
    }

    /** The regular files of a sequence directory, sorted by name: the order of the sequences. */
    private static List<Path> files(String field, Path dir) throws IOException {
        List<Path> files;
        try (Stream<Path> s = Files.list(dir)) {
            files = s.filter(Files::isRegularFile).filter(p -> !p.getFileName().toString().startsWith("."))
                    .sorted().toList();
        }
        if (files.isEmpty()) {
            throw new InvalidSettingException(field, field + " " + dir.getFileName() + " holds no sequence files; "
                    + "put one CSV file per sequence in it");
        }
        return files;
    }

    /** The first label column: the one given, or the last column(s). */
    private static int labelColumn(UserData d, int width) {
        if (d.labelColumn() != null) {
            return d.labelColumn();
        }
        return width - (d.task() == UserData.Task.REGRESSION ? d.labelColumns() : 1);
    }

    private static int classLabel(String field, Path file, int line, Writable value, int classes) {
        String text = value.toString().strip();
        int label;
        try {
            label = Integer.parseInt(text);
        } catch (NumberFormatException e) {
            label = -1;
        }
        if (label < 0 || label >= classes) {
            throw new InvalidSettingException(field, field + " " + file.getFileName() + " line " + line
                    + ": the class label '" + text + "' is not a whole number from 0 to " + (classes - 1)
                    + " (the model has " + classes + " outputs" + "); number the classes from 0, or set "
                    + UserData.field("classes") + " and the model's output width to the number of classes");
        }
        return label;
    }

    /** Checks that every line of a set has the same number of columns, each a finite number. */
    private static final class Columns {
        private final String field;
        private Path file;
        private int width = -1;

        Columns(String field, Path file) {
            this.field = field;
            this.file = file;
        }

        void check(List<Writable> values, int line) {
            if (width < 0) {
                width = values.size();
            } else if (values.size() != width) {
                throw new InvalidSettingException(field, field + " " + file.getFileName() + " line " + line + " has "
                        + values.size() + " columns, the lines before it " + width + "; give every line the same "
                        + "columns");
            }
            for (int c = 0; c < values.size(); c++) {
                String text = values.get(c).toString().strip();
                double v;
                try {
                    v = Double.parseDouble(text);
                } catch (NumberFormatException e) {
                    throw new InvalidSettingException(field, field + " " + file.getFileName() + " line " + line
                            + " column " + c + ": '" + shorten(text) + "' is not a number"
                            + (line == 1 ? "; if the first line is a header, set " + UserData.field("skipLines")
                            + " to 1" : "; every value must be a number (encode categories as numbers)"));
                }
                if (!Double.isFinite(v)) {
                    throw new InvalidSettingException(field, field + " " + file.getFileName() + " line " + line
                            + " column " + c + ": " + text + " is not a finite number; remove or fill in the "
                            + "missing values before training");
                }
            }
        }

        private static String shorten(String text) {
            return text.length() <= 40 ? text : text.substring(0, 40) + "...";
        }
    }
}
