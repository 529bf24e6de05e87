package dev.gradsentry.examples;

import io.micrometer.core.instrument.MeterRegistry;
import org.junit.jupiter.api.Test;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

import javax.xml.parsers.DocumentBuilderFactory;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The library's POM ({@code src/library/pom.xml}) and the example that depends on it cannot inherit from the main
 * POM (they would inherit Quarkus), so the facts they share with it are compared here: the version, DL4J's version,
 * Micrometer's version (the one the Quarkus BOM gives the service), and the packages the library compiles.
 */
class LibraryPomTest {

    private static final Document MAIN = read("pom.xml");
    private static final Document LIBRARY = read("src/library/pom.xml");
    private static final Document EXAMPLE = read("examples/library-metrics/pom.xml");

    private static Document read(String path) {
        try {
            return DocumentBuilderFactory.newInstance().newDocumentBuilder().parse(Path.of(path).toFile());
        } catch (Exception e) {
            throw new IllegalStateException(path + ": " + e.getMessage(), e);
        }
    }

    /** The text of the first {@code name} element directly under {@code parent}. */
    private static String child(Element parent, String name) {
        NodeList nodes = parent.getChildNodes();
        for (int i = 0; i < nodes.getLength(); i++) {
            if (nodes.item(i) instanceof Element e && e.getTagName().equals(name)) {
                return e.getTextContent().trim();
            }
        }
        return null;
    }

    private static String property(Document pom, String name) {
        return child((Element) pom.getElementsByTagName("properties").item(0), name);
    }

    /** The version a POM gives the dependency {@code groupId:artifactId}, with {@code ${...}} taken from its properties. */
    private static String dependencyVersion(Document pom, String groupId, String artifactId) {
        NodeList deps = pom.getElementsByTagName("dependency");
        for (int i = 0; i < deps.getLength(); i++) {
            Element d = (Element) deps.item(i);
            if (groupId.equals(child(d, "groupId")) && artifactId.equals(child(d, "artifactId"))) {
                String v = child(d, "version");
                return v != null && v.startsWith("${") ? property(pom, v.substring(2, v.length() - 1)) : v;
            }
        }
        throw new AssertionError("no dependency " + groupId + ":" + artifactId);
    }

    @Test
    void theLibraryHasTheServicesVersionAndItsDl4jAndMicrometer() {
        String version = child(MAIN.getDocumentElement(), "version");
        assertEquals(version, child(LIBRARY.getDocumentElement(), "version"));
        assertEquals(version, dependencyVersion(EXAMPLE, "dev.gradsentry", "gradsentry-core"));
        assertEquals(property(MAIN, "dl4j.version"), property(LIBRARY, "dl4j.version"));
        assertEquals(property(MAIN, "dl4j.version"), property(EXAMPLE, "dl4j.version"));
        String micrometer = MeterRegistry.class.getPackage().getImplementationVersion();
        assertTrue(micrometer != null && !micrometer.isBlank(), "micrometer-core's manifest names its version");
        assertEquals(micrometer, property(LIBRARY, "micrometer.version"), "the Quarkus BOM's Micrometer");
        assertEquals(micrometer, dependencyVersion(EXAMPLE, "io.micrometer", "micrometer-registry-prometheus"));
    }

    @Test
    void theLibraryCompilesExactlyTheCoreAndMetricsPackages() {
        NodeList includes = LIBRARY.getElementsByTagName("include");
        List<String> packages = new ArrayList<>();
        for (int i = 0; i < includes.getLength(); i++) {
            packages.add(includes.item(i).getTextContent().trim());
        }
        // LayeringTest keeps exactly these free of Quarkus, CDI and configuration.
        assertEquals(List.of("dev/gradsentry/core/**", "dev/gradsentry/metrics/**"), packages);
        assertEquals(List.of(), dependencies(LIBRARY).stream()
                .filter(d -> !d.equals("org.deeplearning4j:deeplearning4j-nn") && !d.equals("io.micrometer:micrometer-core"))
                .toList(), "the library's dependencies: DL4J and micrometer-core only");
    }

    private static List<String> dependencies(Document pom) {
        NodeList deps = pom.getElementsByTagName("dependency");
        List<String> out = new ArrayList<>();
        for (int i = 0; i < deps.getLength(); i++) {
            Element d = (Element) deps.item(i);
            out.add(child(d, "groupId") + ":" + child(d, "artifactId"));
        }
        return out;
    }
}
