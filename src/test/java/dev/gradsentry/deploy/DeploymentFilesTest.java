package dev.gradsentry.deploy;

import org.junit.jupiter.api.Test;
import org.yaml.snakeyaml.Yaml;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The container, compose and Kubernetes files, checked without a Docker engine or a cluster: the manifests must fit
 * together (selectors, port names, volumes, the Secret reference), the PrometheusRule must carry exactly the alert
 * rules, and docker-compose, promtool and amtool must accept their files.
 */
class DeploymentFilesTest {

    private static final Path DEPLOY = Path.of("deploy");
    private static final Path K8S = DEPLOY.resolve("k8s");
    private static final Path COMPOSE = DEPLOY.resolve("docker-compose.yml");
    private static final Path DOCKERFILE = DEPLOY.resolve("Dockerfile");
    private static final Path ALERTS = DEPLOY.resolve("prometheus/gradsentry-alerts.yaml");
    private static final String APP_LABEL = "app.kubernetes.io/name";

    // ---- YAML helpers -------------------------------------------------------------------------------------------

    private static List<Map<String, Object>> documents(Path file) throws IOException {
        List<Map<String, Object>> docs = new ArrayList<>();
        for (Object doc : new Yaml().loadAll(Files.readString(file))) {
            if (doc != null) {
                docs.add(map(doc));
            }
        }
        return docs;
    }

    private static Map<String, Object> document(Path file) throws IOException {
        List<Map<String, Object>> docs = documents(file);
        assertEquals(1, docs.size(), file + " should hold one document");
        return docs.get(0);
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> map(Object o) {
        assertTrue(o instanceof Map, "expected a mapping, got " + o);
        return (Map<String, Object>) o;
    }

    @SuppressWarnings("unchecked")
    private static List<Object> list(Object o) {
        assertTrue(o instanceof List, "expected a sequence, got " + o);
        return (List<Object>) o;
    }

    private static List<Map<String, Object>> maps(Object o) {
        return list(o).stream().map(DeploymentFilesTest::map).toList();
    }

    /** Follows a path of mapping keys, failing with the path when a step is missing. */
    private static Object at(Map<String, Object> root, String... keys) {
        Object node = root;
        for (String key : keys) {
            Object next = map(node).get(key);
            assertNotNull(next, "missing " + String.join(".", keys) + " (at " + key + ")");
            node = next;
        }
        return node;
    }

    private static List<Path> manifestFiles() throws IOException {
        try (Stream<Path> files = Files.list(K8S)) {
            return files.filter(f -> f.getFileName().toString().endsWith(".yaml"))
                    .filter(f -> !f.getFileName().toString().equals("kustomization.yaml"))
                    .sorted().toList();
        }
    }

    private static List<Map<String, Object>> manifests() throws IOException {
        List<Map<String, Object>> all = new ArrayList<>();
        for (Path file : manifestFiles()) {
            all.addAll(documents(file));
        }
        return all;
    }

    private static Map<String, Object> only(String kind) throws IOException {
        List<Map<String, Object>> found = manifests().stream().filter(m -> kind.equals(m.get("kind"))).toList();
        assertEquals(1, found.size(), "exactly one " + kind + " in " + K8S);
        return found.get(0);
    }

    private static Map<String, Object> podSpec() throws IOException {
        return map(at(only("Deployment"), "spec", "template", "spec"));
    }

    private static Map<String, Object> container() throws IOException {
        List<Map<String, Object>> containers = maps(podSpec().get("containers"));
        assertEquals(1, containers.size());
        return containers.get(0);
    }

    private static Map<String, String> env(Map<String, Object> container) {
        return maps(container.get("env")).stream().filter(e -> e.get("value") != null)
                .collect(Collectors.toMap(e -> (String) e.get("name"), e -> String.valueOf(e.get("value"))));
    }

    private static void assertSubset(Map<String, Object> selector, Map<String, Object> labels, String what) {
        assertFalse(selector.isEmpty(), what + ": empty selector selects everything");
        for (Map.Entry<String, Object> e : selector.entrySet()) {
            assertEquals(e.getValue(), labels.get(e.getKey()), what + ": label " + e.getKey());
        }
    }

    // ---- Kubernetes ---------------------------------------------------------------------------------------------

    @Test
    void everyExpectedKindIsThere() throws IOException {
        Set<Object> kinds = manifests().stream().map(m -> m.get("kind")).collect(Collectors.toSet());
        assertEquals(Set.of("Deployment", "PersistentVolumeClaim", "Service", "ServiceMonitor", "PrometheusRule",
                "AlertmanagerConfig"), kinds);
        assertEquals("Kustomization", document(K8S.resolve("kustomization.yaml")).get("kind"));
    }

    @Test
    void theDeploymentSelectsItsOwnPods() throws IOException {
        Map<String, Object> deployment = only("Deployment");
        assertEquals(1, at(deployment, "spec", "replicas"));
        Map<String, Object> labels = map(at(deployment, "spec", "template", "metadata", "labels"));
        assertEquals("gradsentry", labels.get(APP_LABEL));
        assertSubset(map(at(deployment, "spec", "selector", "matchLabels")), labels, "Deployment selector");
    }

    @Test
    void theServiceSelectsThePodsAndTargetsANamedContainerPort() throws IOException {
        Map<String, Object> service = only("Service");
        assertSubset(map(at(service, "spec", "selector")),
                map(at(only("Deployment"), "spec", "template", "metadata", "labels")), "Service selector");
        Set<Object> containerPorts = maps(container().get("ports")).stream().map(p -> p.get("name"))
                .collect(Collectors.toSet());
        List<Map<String, Object>> ports = maps(at(service, "spec", "ports"));
        assertFalse(ports.isEmpty());
        for (Map<String, Object> port : ports) {
            assertTrue(port.get("targetPort") instanceof String, "target the container port by name: " + port);
            assertTrue(containerPorts.contains(port.get("targetPort")),
                    "no container port named " + port.get("targetPort") + " (have " + containerPorts + ")");
        }
        assertTrue(ports.stream().anyMatch(p -> "http".equals(p.get("name"))), "a Service port named http");
        assertTrue(maps(container().get("ports")).stream()
                .anyMatch(p -> "http".equals(p.get("name")) && Integer.valueOf(8080).equals(p.get("containerPort"))));
    }

    @Test
    void theServiceMonitorScrapesTheServiceByPortName() throws IOException {
        Map<String, Object> service = only("Service");
        Map<String, Object> monitor = only("ServiceMonitor");
        assertEquals("monitoring.coreos.com/v1", monitor.get("apiVersion"));
        assertSubset(map(at(monitor, "spec", "selector", "matchLabels")), map(at(service, "metadata", "labels")),
                "ServiceMonitor selector");
        Set<Object> servicePorts = maps(at(service, "spec", "ports")).stream().map(p -> p.get("name"))
                .collect(Collectors.toSet());
        List<Map<String, Object>> endpoints = maps(at(monitor, "spec", "endpoints"));
        assertFalse(endpoints.isEmpty());
        for (Map<String, Object> endpoint : endpoints) {
            assertTrue(servicePorts.contains(endpoint.get("port")), "no Service port named " + endpoint.get("port"));
            assertEquals("/q/metrics", endpoint.get("path"));
        }
    }

    @Test
    void thePodHasItsEnvironmentProbesAndDataVolume() throws IOException {
        Map<String, Object> container = container();
        Map<String, String> env = env(container);
        assertEquals("1", env.get("OMP_NUM_THREADS"), "OMP_NUM_THREADS must be set before the JVM starts");
        assertEquals("/q/health/ready", at(container, "readinessProbe", "httpGet", "path"));
        assertEquals("/q/health/live", at(container, "livenessProbe", "httpGet", "path"));
        assertNotNull(at(container, "resources", "requests"));

        Map<String, Object> pvc = only("PersistentVolumeClaim");
        Map<String, Object> dataVolume = maps(podSpec().get("volumes")).stream()
                .filter(v -> v.get("persistentVolumeClaim") != null).findFirst().orElseThrow();
        assertEquals(at(pvc, "metadata", "name"), at(dataVolume, "persistentVolumeClaim", "claimName"));
        assertTrue(maps(container.get("volumeMounts")).stream()
                .anyMatch(m -> dataVolume.get("name").equals(m.get("name")) && "/data".equals(m.get("mountPath"))),
                "the claim is mounted at /data");
    }

    @Test
    void theTokenComesFromAReferencedSecretThatIsNotCommitted() throws IOException {
        for (Path file : manifestFiles()) {
            for (Map<String, Object> doc : documents(file)) {
                assertNotEquals("Secret", doc.get("kind"), file + " defines a Secret; it must only be referenced");
            }
        }
        Map<String, Object> container = container();
        assertFalse(maps(container.get("env")).stream().anyMatch(e -> "GRADSENTRY_API_TOKEN".equals(e.get("name"))),
                "the token must come from the Secret file, not an env value");

        Map<String, Object> volume = maps(podSpec().get("volumes")).stream()
                .filter(v -> v.get("secret") != null).findFirst().orElseThrow();
        assertEquals("gradsentry-api-token", at(volume, "secret", "secretName"));
        Map<String, Object> item = maps(at(volume, "secret", "items")).get(0);
        assertEquals("token", item.get("key"));
        Map<String, Object> mount = maps(container.get("volumeMounts")).stream()
                .filter(m -> volume.get("name").equals(m.get("name"))).findFirst().orElseThrow();
        assertEquals(mount.get("mountPath") + "/" + item.get("path"), env(container).get("GRADSENTRY_API_TOKEN_FILE"),
                "GRADSENTRY_API_TOKEN_FILE names the mounted key");
    }

    @Test
    void theAlertmanagerConfigRoutesOnlyAlertsWithAnActionToTheServiceWithItsToken() throws IOException {
        Map<String, Object> config = only("AlertmanagerConfig");
        Map<String, Object> route = map(at(config, "spec", "route"));
        assertEquals(List.of(Map.of("name", "action", "matchType", "=~", "value", ".+")), route.get("matchers"));
        Map<String, Object> receiver = maps(at(config, "spec", "receivers")).get(0);
        assertEquals(route.get("receiver"), receiver.get("name"));
        Map<String, Object> webhook = maps(receiver.get("webhookConfigs")).get(0);
        assertTrue(String.valueOf(webhook.get("url")).matches("http://" + at(only("Service"), "metadata", "name")
                + "\\.[a-z0-9-]+\\.svc:8080/api/alerts/alertmanager"), String.valueOf(webhook.get("url")));
        Map<String, Object> secret = maps(podSpec().get("volumes")).stream().filter(v -> v.get("secret") != null)
                .findFirst().map(v -> map(v.get("secret"))).orElseThrow();
        assertEquals(Map.of("name", secret.get("secretName"), "key", maps(secret.get("items")).get(0).get("key")),
                at(webhook, "httpConfig", "authorization", "credentials"));
    }

    @Test
    void thePrometheusRuleCarriesExactlyTheAlertRules() throws IOException {
        Map<String, Object> rule = only("PrometheusRule");
        assertEquals("monitoring.coreos.com/v1", rule.get("apiVersion"));
        assertEquals(at(document(ALERTS), "groups"), at(rule, "spec", "groups"),
                "copy the groups of " + ALERTS + " into " + K8S.resolve("prometheusrule.yaml"));
    }

    @Test
    void theKustomizationListsEveryManifest() throws IOException {
        Set<String> listed = list(at(document(K8S.resolve("kustomization.yaml")), "resources")).stream()
                .map(String::valueOf).collect(Collectors.toSet());
        Set<String> files = manifestFiles().stream().map(f -> f.getFileName().toString()).collect(Collectors.toSet());
        assertEquals(files, listed);
    }

    // ---- docker-compose and the configs it mounts ---------------------------------------------------------------

    private static Process run(ProcessBuilder pb) throws IOException, InterruptedException {
        Process p = pb.redirectErrorStream(true).start();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), pb.command() + " did not finish");
        return p;
    }

    private static ProcessBuilder compose(String token) {
        Path binary = Path.of("/usr/bin/docker-compose");
        assertTrue(Files.isExecutable(binary), "docker-compose is missing: apt-get install docker-compose "
                + "(.ci/run installs it)");
        ProcessBuilder pb = new ProcessBuilder(binary.toString(), "-f", COMPOSE.toString(), "config", "-q");
        pb.environment().remove("GRADSENTRY_API_TOKEN");
        if (token != null) {
            pb.environment().put("GRADSENTRY_API_TOKEN", token);
        }
        return pb;
    }

    @Test
    void dockerComposeAcceptsTheFile() throws Exception {
        Process p = run(compose("test-token"));
        String out = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.exitValue(), out);
    }

    @Test
    void dockerComposeRefusesToStartWithoutAToken() throws Exception {
        Process p = run(compose(null));
        String out = new String(p.getInputStream().readAllBytes());
        assertNotEquals(0, p.exitValue(), "the stack must not start without GRADSENTRY_API_TOKEN");
        assertTrue(out.contains("set GRADSENTRY_API_TOKEN"), out);
    }

    @Test
    void everyComposeServiceIsThereAndItsMountedFilesExist() throws IOException {
        Map<String, Object> services = map(at(document(COMPOSE), "services"));
        assertEquals(Set.of("gradsentry", "prometheus", "alertmanager", "grafana"), services.keySet());
        Path context = DEPLOY.resolve(String.valueOf(at(map(services.get("gradsentry")), "build", "context")));
        assertTrue(Files.isRegularFile(context.resolve(
                String.valueOf(at(map(services.get("gradsentry")), "build", "dockerfile")))));
        for (Map.Entry<String, Object> service : services.entrySet()) {
            Object volumes = map(service.getValue()).get("volumes");
            if (volumes == null) {
                continue;
            }
            for (Object volume : list(volumes)) {
                String source = String.valueOf(volume).split(":")[0];
                // dashboards/ is filled by the dashboard work; Grafana simply shows none while it is empty.
                if (source.startsWith(".") && !source.equals("../dashboards")) {
                    assertTrue(Files.exists(DEPLOY.resolve(source)), service.getKey() + " mounts missing " + source);
                }
            }
        }
        // prometheus.yml names its rule files relative to itself, so they must be mounted next to it.
        List<String> prometheusMounts = list(map(services.get("prometheus")).get("volumes")).stream()
                .map(String::valueOf).toList();
        for (Object ruleFile : list(at(document(DEPLOY.resolve("prometheus/prometheus.yml")), "rule_files"))) {
            assertTrue(prometheusMounts.stream().anyMatch(m -> m.contains(":/etc/prometheus/" + ruleFile)),
                    ruleFile + " is not mounted next to prometheus.yml");
        }
    }

    private static String tool(String binary, String pkg, String... args) throws IOException, InterruptedException {
        assertTrue(Files.isExecutable(Path.of(binary)), binary + " is missing: apt-get install " + pkg);
        List<String> command = new ArrayList<>(List.of(binary));
        command.addAll(List.of(args));
        Process p = run(new ProcessBuilder(command));
        String out = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.exitValue(), out);
        return out;
    }

    @Test
    void promtoolAcceptsThePrometheusConfigAndFindsTheRules() throws Exception {
        String out = tool("/usr/bin/promtool", "prometheus", "check", "config",
                DEPLOY.resolve("prometheus/prometheus.yml").toString());
        assertTrue(out.contains("SUCCESS: 1 rule files found"), out);
    }

    @Test
    void amtoolAcceptsTheAlertmanagerConfig() throws Exception {
        tool("/usr/bin/amtool", "prometheus-alertmanager", "check-config",
                DEPLOY.resolve("alertmanager/alertmanager.yml").toString());
        String config = Files.readString(DEPLOY.resolve("alertmanager/alertmanager.yml"));
        assertTrue(config.contains("url: http://gradsentry:8080/api/alerts/alertmanager"));
        assertTrue(config.contains("credentials_file: /etc/alertmanager/token"));
        assertFalse(config.matches("(?s).*\\bcredentials:.*"), "no token in the committed config");
    }

    /** The receiver the shipped Alertmanager configuration routes an alert with these labels to. */
    private static String receiverOf(String... labels) throws Exception {
        List<String> args = new ArrayList<>(List.of("config", "routes", "test",
                "--config.file=" + DEPLOY.resolve("alertmanager/alertmanager.yml")));
        args.addAll(List.of(labels));
        // amtool warns on the line before that it reads a file instead of asking a server.
        List<String> lines = tool("/usr/bin/amtool", "prometheus-alertmanager", args.toArray(String[]::new)).lines()
                .toList();
        return lines.get(lines.size() - 1).strip();
    }

    @Test
    void alertmanagerRoutesOnlyAlertsWithAnActionToTheWebhook() throws Exception {
        for (String action : new String[] {"tighten-clipping", "rollback", "none"}) {
            assertEquals("gradsentry", receiverOf("alertname=GradSentryNonFiniteGradients", "action=" + action));
        }
        assertEquals("other-alerts", receiverOf("alertname=NodeDiskFull", "severity=critical"));
        assertEquals("other-alerts", receiverOf("alertname=GradSentryNonFiniteGradients", "action="));
    }

    @Test
    void theGrafanaDatasourceHasTheUidTheDashboardsUse() throws IOException {
        Map<String, Object> ds = maps(at(document(DEPLOY.resolve("grafana/provisioning/datasources/prometheus.yaml")),
                "datasources")).get(0);
        assertEquals("prometheus", ds.get("uid"));
        assertEquals("http://prometheus:9090", ds.get("url"));
        Map<String, Object> provider = maps(at(document(
                DEPLOY.resolve("grafana/provisioning/dashboards/gradsentry.yaml")), "providers")).get(0);
        assertEquals("/var/lib/grafana/dashboards", at(provider, "options", "path"));
    }

    // ---- Dockerfile ---------------------------------------------------------------------------------------------

    @Test
    void theImageRunsAsNonRootWithHealthcheckDataVolumeAndOneThread() throws IOException {
        // Continuation lines joined, so that each instruction is one line.
        String dockerfile = Files.readString(DOCKERFILE).replaceAll("\\\\\\n", " ");
        Set<String> instructions = new HashSet<>();
        for (String line : dockerfile.split("\n")) {
            if (!line.isBlank() && !line.startsWith("#")) {
                instructions.add(line.strip());
            }
        }
        Matcher user = Pattern.compile("(?m)^USER\\s+(\\S+)\\s*$").matcher(dockerfile);
        assertTrue(user.find(), "the image needs a USER");
        String name = user.group(1).split(":")[0];
        assertFalse(name.equals("root") || name.equals("0"), "USER must not be root: " + user.group(1));

        String healthcheck = instructions.stream().filter(i -> i.startsWith("HEALTHCHECK")).findFirst()
                .orElseThrow(() -> new AssertionError("the image needs a HEALTHCHECK"));
        assertTrue(healthcheck.contains("/q/health/ready"), healthcheck);
        assertTrue(instructions.stream().anyMatch(i -> i.matches("VOLUME\\s+(/data|\\[\\s*\"/data\"\\s*])")),
                "VOLUME /data");
        assertTrue(instructions.stream().anyMatch(i -> i.startsWith("ENV") && i.matches(".*\\bOMP_NUM_THREADS=1\\b.*")),
                "ENV OMP_NUM_THREADS=1");
        assertTrue(instructions.contains("ARG BASE=debian:bookworm-slim"), "bookworm, the Debian the tests run on");
        assertTrue(instructions.stream().anyMatch(i -> i.startsWith("ENV") && i.matches(
                ".*\\bGRADSENTRY_RESUME_INTERRUPTED=true\\b.*")), "a stopped container's run resumes in the next");
        // The runtime stage: the base, the jlink runtime from the first stage, the data set, nothing to build with.
        String runtime = dockerfile.substring(dockerfile.lastIndexOf("\nFROM "));
        assertTrue(runtime.startsWith("\nFROM ${BASE}\n"), runtime);
        assertTrue(runtime.contains("COPY --from=jre /opt/jre /opt/jre"), runtime);
        for (String tool : new String[] {"openjdk", "curl", "wget", "gcc", "maven"}) {
            assertFalse(runtime.contains(tool), "the runtime image installs " + tool);
        }
    }
}
