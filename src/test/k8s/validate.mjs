// Validates Kubernetes objects against the JSON schemas of npm kubernetes-models (the Kubernetes API) and
// @kubernetes-models/prometheus-operator (ServiceMonitor, PrometheusRule, AlertmanagerConfig). Reads a JSON array of
// objects on standard input (KubernetesManifestsTest renders deploy/k8s with kustomize and converts it), prints one
// line per object and exits 1 when any is invalid or of a kind without a schema.
import { readFileSync } from "node:fs";

const objects = JSON.parse(readFileSync(0, "utf8"));
let invalid = 0;
for (const object of objects) {
  const name = `${object.kind}/${object.metadata?.name}`;
  const [group, version] = object.apiVersion.includes("/") ? object.apiVersion.split("/") : [null, object.apiVersion];
  const module = group === "monitoring.coreos.com" ? `@kubernetes-models/prometheus-operator/${group}/${version}`
      : group ? `kubernetes-models/${group}/${version}` : `kubernetes-models/${version}`;
  let model;
  try {
    model = (await import(module))[object.kind];
  } catch (e) {
    model = undefined;
  }
  if (!model) {
    invalid++;
    console.log(`INVALID ${name}: no schema for ${object.apiVersion} ${object.kind}`);
    continue;
  }
  try {
    new model(object).validate();
    console.log(`valid ${name}`);
  } catch (e) {
    invalid++;
    console.log(`INVALID ${name}: ${e.message}`);
  }
}
process.exit(invalid === 0 ? 0 : 1);
