package dev.gradsentry.training;

import dev.gradsentry.core.InvalidSettingException;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * One set of the user's images (the training or the held-out files), read by {@link IdxFile} as Fashion-MNIST is: an
 * IDX file of grey images of unsigned bytes, {@code [n, rows, cols]}, and an IDX file of {@code n} labels. Each image is
 * one row of features, its pixels row by row scaled to [0, 1]; a convolutional model takes them through
 * {@code InputType.convolutionalFlat(rows, cols, 1)}. Each file is checked first: an IDX header, images of three
 * dimensions, labels of one, one label per image, each a class of the model. (Images with channels are refused: IDX
 * does not say whether the channels come first or last, and a wrong guess would train silently on scrambled pixels.)
 *
 * @param data  the images as rows of {@code rows x cols} features, the labels one-hot
 * @param image the shape of one image: {@code [rows, cols]}
 */
record IdxExamples(DataSet data, int[] image) implements ExampleSet {

    IdxExamples {
        image = image.clone();
    }

    @Override
    public int[] image() {
        return image.clone();
    }

    /**
     * @param field       the run field that names the images, {@code data.train} or {@code data.test}
     * @param labelsField the run field that names the labels, {@code data.trainLabels} or {@code data.testLabels}
     * @param classes     the number of classes: the model's output width
     */
    static IdxExamples read(String field, Path images, String labelsField, Path labels, int classes) {
        IdxFile img = idx(field, images);
        int[] shape = img.shape();
        if (shape.length != 3) {
            throw new InvalidSettingException(field, field + " " + images.getFileName() + " has the shape "
                    + Arrays.toString(shape) + ", not grey images; give the IDX file of the images, of shape [n, rows, "
                    + "cols]" + (shape.length == 1 ? " (is it the labels file?)" : ""));
        }
        IdxFile lab = idx(labelsField, labels);
        if (lab.shape().length != 1) {
            throw new InvalidSettingException(labelsField, labelsField + " " + labels.getFileName() + " has the shape "
                    + Arrays.toString(lab.shape()) + "; an IDX file of labels has one dimension, one label per image "
                    + "(is it the images file?)");
        }
        int n = img.count();
        if (lab.count() != n) {
            throw new InvalidSettingException(labelsField, labelsField + " " + labels.getFileName() + " holds "
                    + lab.count() + " labels for the " + n + " images of " + field + " " + images.getFileName()
                    + "; give one label per image, in the images' order");
        }
        int width = img.data().length / n;
        float[] pixels = new float[n * width];
        for (int i = 0; i < pixels.length; i++) {
            pixels[i] = img.unsigned(i) / 255f;
        }
        float[] oneHot = new float[n * classes];
        for (int i = 0; i < n; i++) {
            int label = lab.unsigned(i);
            if (label >= classes) {
                throw new InvalidSettingException(labelsField, labelsField + " " + labels.getFileName() + ": the "
                        + "label of image " + i + " is " + label + ", not a class from 0 to " + (classes - 1) + " (the "
                        + "model has " + classes + " outputs); give the output layer nOut " + (label + 1) + " or more, "
                        + "one unit per class");
            }
            oneHot[i * classes + label] = 1f;
        }
        DataSet data = new DataSet(Nd4j.create(pixels, new long[] {n, width}, 'c'),
                Nd4j.create(oneHot, new long[] {n, classes}, 'c'));
        return new IdxExamples(data, Arrays.copyOfRange(shape, 1, shape.length));
    }

    private static IdxFile idx(String field, Path file) {
        try {
            return IdxFile.read(file);
        } catch (IOException e) {
            String why = e.getMessage() == null ? e.toString() : e.getMessage().replace(file.toString() + ": ", "");
            throw new InvalidSettingException(field, field + " " + file.getFileName() + " is no IDX file of unsigned "
                    + "bytes: " + why + "; give an IDX file as MNIST ships them (images: magic 0x00000803, labels: "
                    + "0x00000801), gzipped or not");
        }
    }

    @Override
    public int features() {
        return data.getFeatures().columns();
    }

    @Override
    public String layout() {
        return "images of " + Arrays.stream(image).mapToObj(Integer::toString).collect(Collectors.joining("x"));
    }

    @Override
    public String featuresText() {
        return features() + " features (" + layout() + " pixels)";
    }

    @Override
    public String otherFix() {
        return ", or for a convolutional model setInputType(InputType.convolutionalFlat(" + image[0] + ", "
                + image[1] + ", 1)) so that DL4J reshapes the rows of pixels into images";
    }
}
