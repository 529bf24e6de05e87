package dev.gradsentry.deploy;

import com.fasterxml.jackson.databind.JsonNode;
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
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * deploy/k8s as a cluster would receive it: rendered by kustomize ({@code kubectl kustomize}), validated against the
 * Kubernetes and prometheus-operator schemas (npm {@code kubernetes-models} and
 * {@code @kubernetes-models/prometheus-operator}, run by {@code src/test/k8s/validate.mjs}), with a broken copy that
 * must fail, and held to Pod Security "restricted". The same for the fleet (deploy/k8s/fleet): one Job per run, its run
 * spec from a ConfigMap, every run pod scraped once through a headless Service.
 */
class KubernetesManifestsTest {

    private static final Path K8S = Path.of("deploy/k8s");
    private static final Path FLEET = K8S.resolve("fleet");
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

    /** The manifests of deploy/k8s as kustomize renders them, one object each. */
    private static ArrayNode rendered() throws Exception {
        return rendered(K8S);
    }

    /** The manifests of a kustomization directory as kustomize renders them, one object each. */
    private static ArrayNode rendered(Path kustomization) throws Exception {
        assertTrue(Files.isExecutable(Path.of("/usr/bin/kubectl")), "kubectl is missing: apt-get install "
                + "kubernetes-client (.ci/run installs it)");
        Result r = run(null, new byte[0], "/usr/bin/kubectl", "kustomize", kustomization.toString());
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
        rendered(FLEET).forEach(objects::add);
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
        passesPodSecurityRestrictedWithOnlyDataAndTmpWritable(find(rendered(), "Deployment").at("/spec/template/spec"));
    }

    @Test
    void theFleetsJobPassesPodSecurityRestrictedWithOnlyDataAndTmpWritable() throws Exception {
        passesPodSecurityRestrictedWithOnlyDataAndTmpWritable(find(rendered(FLEET), "Job").at("/spec/template/spec"));
    }

    /**
     * One run per pod, its spec from the generated ConfigMap, its alerts pulled for its own instance, the pod gone once
     * the run ended; every run pod scraped once: the fleet's ServiceMonitor selects the headless Service that selects
     * the run pods, and deploy/k8s's Service (and so its ServiceMonitor) does not select them.
     */
    @Test
    void eachRunPodIsAJobWithItsSpecFromAConfigMapScrapedOnceAndPullingItsOwnAlerts() throws Exception {
        ArrayNode fleet = rendered(FLEET);
        ObjectNode job = find(fleet, "Job");
        var pod = job.at("/spec/template");
        Map<?, ?> podLabels = JSON.treeToValue(pod.at("/metadata/labels"), Map.class);
        assertEquals("OnFailure", pod.at("/spec/restartPolicy").asText());
        ObjectNode configMap = find(fleet, "ConfigMap");
        assertEquals(configMap.at("/metadata/name").asText(),
                pod.at("/spec/containers/0/envFrom/0/configMapRef/name").asText(), "the Job reads the generated spec");
        configMap.path("data").fieldNames().forEachRemaining(k -> assertTrue(k.startsWith("GRADSENTRY_DEMO_"),
                k + " is not a run spec key (GRADSENTRY_DEMO_<FIELD>)"));
        assertTrue(configMap.at("/data/GRADSENTRY_DEMO_WORKLOAD").isTextual(), "the spec names its workload");
        Map<String, String> env = new HashMap<>();
        for (var e : pod.at("/spec/containers/0/env")) {
            env.put(e.path("name").asText(), e.path("value").asText());
        }
        int port = pod.at("/spec/containers/0/ports/0/containerPort").asInt();
        assertEquals("$(POD_IP):" + port, env.get("GRADSENTRY_ALERTS_INSTANCE"), "the instance Prometheus sees");
        assertTrue(env.get("GRADSENTRY_ALERTS_PULL_URL").matches("https?://\\S+"), "pull mode on");
        assertTrue(env.containsKey("GRADSENTRY_EXIT_AFTER_RUN"), "the pod ends with its run");

        ObjectNode service = find(fleet, "Service");
        assertEquals("None", service.at("/spec/clusterIP").asText(), "headless: every pod its own target");
        assertSubset(JSON.treeToValue(service.at("/spec/selector"), Map.class), podLabels, "the fleet Service");
        ObjectNode monitor = find(fleet, "ServiceMonitor");
        assertSubset(JSON.treeToValue(monitor.at("/spec/selector/matchLabels"), Map.class),
                JSON.treeToValue(service.at("/metadata/labels"), Map.class), "the fleet ServiceMonitor");
        assertEquals(service.at("/spec/ports/0/name").asText(), monitor.at("/spec/endpoints/0/port").asText());
        Map<?, ?> single = JSON.treeToValue(find(rendered(), "Service").at("/spec/selector"), Map.class);
        assertFalse(podLabels.entrySet().containsAll(single.entrySet()),
                "deploy/k8s's Service selects the run pods too: they would be scraped twice");
    }

    private static void assertSubset(Map<?, ?> selector, Map<?, ?> labels, String what) {
        assertTrue(labels.entrySet().containsAll(selector.entrySet()), what + " selects " + selector
                + ", not the labels " + labels);
    }

    private static void passesPodSecurityRestrictedWithOnlyDataAndTmpWritable(JsonNode pod) throws Exception {
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
