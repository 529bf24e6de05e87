package dev.gradsentry.deploy;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;
import org.yaml.snakeyaml.Yaml;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * deploy/k8s as a cluster would receive it: rendered by kustomize ({@code kubectl kustomize}), validated against the
 * Kubernetes and prometheus-operator schemas (npm {@code kubernetes-models} and
 * {@code @kubernetes-models/prometheus-operator}, run by {@code src/test/k8s/validate.mjs}), with a broken copy that
 * must fail, and held to Pod Security "restricted".
 */
class KubernetesManifestsTest {

    private static final Path K8S = Path.of("deploy/k8s");
    private static final Path VALIDATOR = Path.of("src/test/k8s");
    private static final Path WORK = Path.of("target/k8s-schemas");
    private static final ObjectMapper JSON = new ObjectMapper();

    private record Result(int exit, String output) {
    }

    private static Result run(Path dir, byte[] input, String... command) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
        if (dir != null) {
            pb.directory(dir.toFile());
        }
        Path out = Files.createTempFile("k8s", ".log");
        Process p = pb.redirectOutput(out.toFile()).start();
        try (var stdin = p.getOutputStream()) {
            stdin.write(input);
        }
        assertTrue(p.waitFor(5, TimeUnit.MINUTES), String.join(" ", command) + " did not finish");
        String output = Files.readString(out);
        Files.delete(out);
        return new Result(p.exitValue(), output);
    }

    /** The manifests as kustomize renders them, one object each. */
    private static ArrayNode rendered() throws Exception {
        assertTrue(Files.isExecutable(Path.of("/usr/bin/kubectl")), "kubectl is missing: apt-get install "
                + "kubernetes-client (.ci/run installs it)");
        Result r = run(null, new byte[0], "/usr/bin/kubectl", "kustomize", K8S.toString());
        assertEquals(0, r.exit(), r.output());
        ArrayNode objects = JSON.createArrayNode();
        for (Object doc : new Yaml().loadAll(r.output())) {
            if (doc != null) {
                objects.add(JSON.valueToTree(doc));
            }
        }
        return objects;
    }

    /** Runs the schema validator on {@code objects}; installs its npm packages first, once per build. */
    private static Result validate(ArrayNode objects) throws Exception {
        Files.createDirectories(WORK);
        for (String file : new String[] {"package.json", "package-lock.json", "validate.mjs"}) {
            Files.copy(VALIDATOR.resolve(file), WORK.resolve(file), StandardCopyOption.REPLACE_EXISTING);
        }
        if (!Files.isDirectory(WORK.resolve("node_modules"))) {
            Result install = run(WORK, new byte[0], "npm", "ci", "--no-audit", "--no-fund", "--loglevel=error");
            assertEquals(0, install.exit(), "npm ci in " + WORK + ": " + install.output());
        }
        return run(WORK, JSON.writeValueAsBytes(objects), "node", "validate.mjs");
    }

    private static ObjectNode find(ArrayNode objects, String kind) {
        for (var o : objects) {
            if (kind.equals(o.path("kind").asText())) {
                return (ObjectNode) o;
            }
        }
        throw new AssertionError("no " + kind + " rendered");
    }

    @Test
    void theRenderedManifestsFitTheKubernetesAndPrometheusOperatorSchemas() throws Exception {
        ArrayNode objects = rendered();
        Result r = validate(objects);
        assertEquals(0, r.exit(), r.output());
        assertEquals(objects.size(), r.output().lines().filter(l -> l.startsWith("valid ")).count(), r.output());
    }

    @Test
    void aBrokenCopyFailsTheSchemaCheck() throws Exception {
        ArrayNode objects = rendered();
        ObjectNode container = (ObjectNode) find(objects, "Deployment").at("/spec/template/spec/containers/0");
        ((ObjectNode) container.get("securityContext")).put("readOnlyRootFilesystem", "yes");
        ((ObjectNode) find(objects, "ServiceMonitor").at("/spec/endpoints/0")).put("interval", 15);
        Result r = validate(objects);
        assertNotEquals(0, r.exit(), r.output());
        assertTrue(r.output().contains("INVALID Deployment/gradsentry") && r.output().contains("readOnlyRootFilesystem"),
                r.output());
        assertTrue(r.output().contains("INVALID ServiceMonitor/gradsentry") && r.output().contains("interval"),
                r.output());
    }

    /** The rules of https://kubernetes.io/docs/concepts/security/pod-security-standards/ "restricted" that apply. */
    @Test
    void theDeploymentPassesPodSecurityRestrictedWithOnlyDataAndTmpWritable() throws Exception {
        ObjectNode deployment = find(rendered(), "Deployment");
        var pod = deployment.at("/spec/template/spec");
        assertTrue(pod.at("/securityContext/runAsNonRoot").asBoolean(), "runAsNonRoot");
        assertNotEquals(0, pod.at("/securityContext/runAsUser").asInt(), "runAsUser");
        assertEquals("RuntimeDefault", pod.at("/securityContext/seccompProfile/type").asText(), "seccompProfile");
        for (String forbidden : new String[] {"hostNetwork", "hostPID", "hostIPC"}) {
            assertTrue(pod.path(forbidden).isMissingNode() || !pod.path(forbidden).asBoolean(), forbidden);
        }
        Set<String> allowedVolumes = Set.of("configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
                "persistentVolumeClaim", "projected", "secret");
        List<String> writable = new ArrayList<>();
        for (var volume : pod.path("volumes")) {
            volume.fieldNames().forEachRemaining(field -> assertTrue(field.equals("name")
                    || allowedVolumes.contains(field), "volume type " + field + " is not allowed"));
        }
        assertEquals(1, pod.path("containers").size());
        assertTrue(pod.path("initContainers").isMissingNode());
        var container = pod.at("/containers/0");
        var security = container.path("securityContext");
        assertEquals(Boolean.FALSE, JSON.treeToValue(security.path("allowPrivilegeEscalation"), Boolean.class));
        assertTrue(security.path("privileged").isMissingNode() || !security.path("privileged").asBoolean());
        assertEquals(List.of("ALL"), JSON.treeToValue(security.at("/capabilities/drop"), List.class));
        assertTrue(security.at("/capabilities/add").isMissingNode(), "no capability added");
        assertTrue(security.path("readOnlyRootFilesystem").asBoolean(), "readOnlyRootFilesystem");
        for (var mount : container.path("volumeMounts")) {
            if (!mount.path("readOnly").asBoolean()) {
                writable.add(mount.path("mountPath").asText());
            }
        }
        // What the service writes: its data directory, and in /tmp ND4J's native libraries and the JVM's files.
        // ContainerIT runs the image with exactly these writable, so another path it needs would fail there.
        assertEquals(List.of("/data", "/tmp"), writable.stream().sorted().toList());
        Map<?, ?> requests = JSON.treeToValue(container.at("/resources/requests"), Map.class);
        assertTrue(requests.containsKey("memory"), "a memory request");
    }
}
