package dev.gradsentry.training;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.gradsentry.core.InvalidSettingException;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.InputPreProcessor;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.graph.GraphVertex;
import org.deeplearning4j.nn.conf.graph.LayerVertex;
import org.deeplearning4j.nn.conf.layers.BaseLayer;
import org.deeplearning4j.nn.conf.layers.BaseOutputLayer;
import org.deeplearning4j.nn.conf.layers.FeedForwardLayer;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.conf.layers.RnnOutputLayer;
import org.deeplearning4j.nn.conf.preprocessor.FeedForwardToCnnPreProcessor;
import org.deeplearning4j.nn.conf.layers.wrapper.BaseWrapperLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.util.ModelSerializer;
import org.nd4j.linalg.learning.config.IUpdater;
import org.nd4j.linalg.lossfunctions.ILossFunction;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipException;
import java.util.zip.ZipFile;

/**
 * The user's model, read from the file the run names ({@link RunSpec#model()}): a DL4J configuration JSON, as
 * {@code MultiLayerConfiguration.toJson()} or {@code ComputationGraphConfiguration.toJson()} write it (a new network,
 * initialised by its own seed), or a zip written by {@code ModelSerializer} (its weights and, when it holds them, its
 * optimizer's state, so training continues where it stopped). The run's {@code optimizer} replaces the optimizer of
 * every layer, its {@code learningRate} the learning rate; left out, the model's own are kept.
 *
 * @param network the initialised network
 * @param input   the width the network takes: nIn of the layer its input feeds, or -1 when that is no layer with
 *                an nIn (the dry run then checks the data)
 * @param output  the output layer's name, nOut and loss function
 */
record UserModel(Network network, int input, Output output) {

    /**
     * The output layer: its name in messages, its width, its loss function, and whether it takes a label per time
     * step of a sequence (an RnnOutputLayer) or one per example (an OutputLayer, after a LastTimeStep for sequences).
     */
    record Output(String layer, long width, ILossFunction loss, boolean perStep) {
    }

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String FIELD = "model";
    /** The entry of a ModelSerializer zip that holds the configuration. */
    private static final String CONFIGURATION = "configuration.json";

    static UserModel load(Path file, RunSpec spec) {
        String name = file.getFileName().toString();
        boolean zip;
        try (InputStream in = Files.newInputStream(file)) {
            byte[] head = in.readNBytes(2);
            zip = head.length == 2 && head[0] == 'P' && head[1] == 'K';
        } catch (IOException e) {
            throw invalid("model '" + name + "' cannot be read: " + e.getMessage());
        }
        Network network = zip ? fromZip(file, name, spec) : fromJson(file, name, spec);
        if (spec.learningRate() != null) {
            if (network.model() instanceof MultiLayerNetwork net) {
                net.setLearningRate(spec.learningRate());
            } else {
                ((ComputationGraph) network.model()).setLearningRate(spec.learningRate());
            }
        }
        return describe(network, name);
    }

    private static Network fromJson(Path file, String name, RunSpec spec) {
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw invalid("model '" + name + "' cannot be read as UTF-8 text: " + e.getMessage());
        }
        Kind kind;
        try {
            kind = kind(JSON.readTree(text));
        } catch (IOException e) {
            throw invalid("model '" + name + "' is neither JSON nor a zip: " + firstLine(e.getMessage())
                    + "; give the JSON of MultiLayerConfiguration.toJson() or ComputationGraphConfiguration.toJson(), "
                    + "or a zip written by ModelSerializer");
        }
        try {
            if (kind == Kind.LAYERS) {
                MultiLayerConfiguration conf = MultiLayerConfiguration.fromJson(text);
                withOptimizer(layers(conf), spec);
                MultiLayerNetwork net = new MultiLayerNetwork(conf);
                net.init();
                return new Network.Layers(net);
            }
            ComputationGraphConfiguration conf = ComputationGraphConfiguration.fromJson(text);
            withOptimizer(layers(conf), spec);
            ComputationGraph graph = new ComputationGraph(conf);
            graph.init();
            return new Network.Graph(graph);
        } catch (InvalidSettingException e) {
            throw e;
        } catch (RuntimeException e) {
            throw invalid("model '" + name + "' is not a valid DL4J configuration: DL4J says " + causes(e)
                    + "; write it with " + (kind == Kind.LAYERS ? "MultiLayerConfiguration" : "ComputationGraph"
                    + "Configuration") + ".toJson() of DL4J 1.0.0-M2.1");
        }
    }

    private static Network fromZip(Path file, String name, RunSpec spec) {
        Kind kind;
        try (ZipFile zip = new ZipFile(file.toFile())) {
            ZipEntry entry = zip.getEntry(CONFIGURATION);
            if (entry == null) {
                throw invalid("model '" + name + "' is a zip without " + CONFIGURATION + ": not a model written by "
                        + "DL4J's ModelSerializer");
            }
            try (InputStream in = zip.getInputStream(entry)) {
                kind = kind(JSON.readTree(in));
            }
        } catch (ZipException e) {
            throw invalid("model '" + name + "' is a damaged zip: " + e.getMessage());
        } catch (IOException e) {
            throw invalid("model '" + name + "' cannot be read: " + firstLine(e.getMessage()));
        }
        try {
            if (kind == Kind.LAYERS) {
                MultiLayerNetwork saved = ModelSerializer.restoreMultiLayerNetwork(file.toFile(), true);
                if (spec.optimizer() == null) {
                    return new Network.Layers(saved);
                }
                // A new optimizer cannot continue the old one's state: the weights are kept, the state starts afresh.
                MultiLayerConfiguration conf = saved.getLayerWiseConfigurations().clone();
                withOptimizer(layers(conf), spec);
                MultiLayerNetwork net = new MultiLayerNetwork(conf);
                net.init(saved.params().dup(), false);
                return new Network.Layers(net);
            }
            ComputationGraph saved = ModelSerializer.restoreComputationGraph(file.toFile(), true);
            if (spec.optimizer() == null) {
                return new Network.Graph(saved);
            }
            ComputationGraphConfiguration conf = saved.getConfiguration().clone();
            withOptimizer(layers(conf), spec);
            ComputationGraph graph = new ComputationGraph(conf);
            graph.init(saved.params().dup(), false);
            return new Network.Graph(graph);
        } catch (IOException | RuntimeException e) {
            throw invalid("model '" + name + "' cannot be restored by DL4J's ModelSerializer: " + causes(e));
        }
    }

    private enum Kind { LAYERS, GRAPH }

    /** A MultiLayerConfiguration's JSON has {@code confs}, a ComputationGraphConfiguration's {@code vertices}. */
    private static Kind kind(JsonNode json) {
        if (json != null && json.isObject() && json.has("confs")) {
            return Kind.LAYERS;
        }
        if (json != null && json.isObject() && json.has("vertices")) {
            return Kind.GRAPH;
        }
        throw invalid("model is JSON but no DL4J configuration: it has neither \"confs\" "
                + "(MultiLayerConfiguration.toJson()) nor \"vertices\" (ComputationGraphConfiguration.toJson())");
    }

    private static List<Layer> layers(MultiLayerConfiguration conf) {
        return conf.getConfs().stream().map(NeuralNetConfiguration::getLayer).toList();
    }

    private static List<Layer> layers(ComputationGraphConfiguration conf) {
        List<Layer> layers = new ArrayList<>();
        for (GraphVertex v : conf.getVertices().values()) {
            if (v instanceof LayerVertex lv) {
                layers.add(lv.getLayerConf().getLayer());
            }
        }
        return layers;
    }

    private static void withOptimizer(List<Layer> layers, RunSpec spec) {
        if (spec.optimizer() == null) {
            return;
        }
        IUpdater updater = Workloads.updater(spec);
        for (Layer layer : layers) {
            if (unwrap(layer) instanceof BaseLayer trained) {
                trained.setIUpdater(updater.clone());
                trained.setBiasUpdater(null);
            }
        }
    }

    static Layer unwrap(Layer layer) {
        Layer l = layer;
        while (l instanceof BaseWrapperLayer w) {
            l = w.getUnderlying();
        }
        return l;
    }

    private static UserModel describe(Network network, String name) {
        if (network.model() instanceof MultiLayerNetwork net) {
            List<NeuralNetConfiguration> confs = net.getLayerWiseConfigurations().getConfs();
            Layer last = unwrap(confs.get(confs.size() - 1).getLayer());
            return new UserModel(network, width(net.getLayerWiseConfigurations().getInputPreProcess(0),
                    confs.get(0).getLayer()), output(name, "layer " + (confs.size() - 1), last));
        }
        ComputationGraphConfiguration conf = ((ComputationGraph) network.model()).getConfiguration();
        if (conf.getNetworkInputs().size() != 1 || conf.getNetworkOutputs().size() != 1) {
            throw invalid("model '" + name + "' is a graph with " + conf.getNetworkInputs().size() + " inputs and "
                    + conf.getNetworkOutputs().size() + " outputs; a run trains a graph with one input and one "
                    + "output on one CSV data set");
        }
        String in = conf.getNetworkInputs().get(0);
        int width = -1;
        for (Map.Entry<String, List<String>> e : conf.getVertexInputs().entrySet()) {
            if (e.getValue().contains(in) && conf.getVertices().get(e.getKey()) instanceof LayerVertex lv) {
                width = width(lv.getPreProcessor(), lv.getLayerConf().getLayer());
            }
        }
        String out = conf.getNetworkOutputs().get(0);
        Layer last = conf.getVertices().get(out) instanceof LayerVertex lv ? unwrap(lv.getLayerConf().getLayer())
                : null;
        return new UserModel(network, width, output(name, "vertex '" + out + "'", last));
    }

    /**
     * The width of the rows a layer takes: its nIn, or the pixels of the images a FeedForwardToCnnPreProcessor
     * ({@code InputType.convolutionalFlat}) makes of them; -1 when neither says.
     */
    private static int width(InputPreProcessor pre, Layer layer) {
        if (pre instanceof FeedForwardToCnnPreProcessor images) {
            return (int) (images.getInputHeight() * images.getInputWidth() * images.getNumChannels());
        }
        return unwrap(layer) instanceof FeedForwardLayer f ? (int) f.getNIn() : -1;
    }

    private static Output output(String name, String where, Layer last) {
        if (!(last instanceof BaseOutputLayer o) || o.getLossFn() == null) {
            throw invalid("model '" + name + "': its output, " + where + ", is not an output layer with a loss "
                    + "function; end the model with an OutputLayer (or an RnnOutputLayer for sequences)");
        }
        return new Output(where, o.getNOut(), o.getLossFn(), o instanceof RnnOutputLayer);
    }

    private static InvalidSettingException invalid(String message) {
        return new InvalidSettingException(FIELD, message);
    }

    /** DL4J wraps Jackson's message in its own; each cause adds what it knows. */
    static String causes(Throwable e) {
        StringBuilder text = new StringBuilder();
        for (Throwable t = e; t != null && text.length() < 400; t = t.getCause()) {
            String m = t.getMessage() == null ? t.getClass().getSimpleName() : firstLine(t.getMessage());
            if (!text.toString().contains(m)) {
                text.append(text.isEmpty() ? "" : ": ").append(m);
            }
        }
        return text.toString();
    }

    private static String firstLine(String message) {
        if (message == null) {
            return "";
        }
        int nl = message.indexOf('\n');
        return (nl < 0 ? message : message.substring(0, nl)).strip();
    }
}
