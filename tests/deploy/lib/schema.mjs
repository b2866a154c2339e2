// Offline schema validation of rendered objects: Kubernetes' own kinds with
// the `kubernetes-models` package, KEDA's and the Prometheus operator's CRDs
// with their @kubernetes-models packages. Strimzi has no such package on npm,
// so its kinds get a structural check of the fields Docket relies on.

const PACKAGES = {
  "keda.sh": "@kubernetes-models/keda",
  "monitoring.coreos.com": "@kubernetes-models/prometheus-operator",
};

const cache = new Map();

async function modelClass(apiVersion, kind) {
  const key = `${apiVersion}/${kind}`;
  if (cache.has(key)) return cache.get(key);
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  const spec = group === "" ? `kubernetes-models/${version}/${kind}`
    : PACKAGES[group] ? `${PACKAGES[group]}/${group}/${version}/${kind}`
      : `kubernetes-models/${group}/${version}/${kind}`;
  let cls = null;
  try {
    const mod = await import(spec);
    cls = mod[kind] ?? null;
  } catch {
    cls = null;
  }
  cache.set(key, cls);
  return cls;
}

function describe(obj) {
  return `${obj?.kind ?? "?"}/${obj?.metadata?.name ?? "?"}`;
}

// Validates one object; calls fail(msg) for each problem.
export async function validateObject(obj, fail) {
  if (!obj || typeof obj !== "object" || !obj.apiVersion || !obj.kind) {
    fail(`object without apiVersion/kind: ${JSON.stringify(obj).slice(0, 80)}`);
    return;
  }
  if (!obj.metadata?.name) fail(`${describe(obj)}: metadata.name is missing`);
  if (obj.metadata?.name && !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(obj.metadata.name)) {
    fail(`${describe(obj)}: metadata.name is not a DNS subdomain`);
  }
  if (obj.apiVersion.startsWith("kafka.strimzi.io/")) {
    validateStrimzi(obj, fail);
    return;
  }
  const cls = await modelClass(obj.apiVersion, obj.kind);
  if (!cls) {
    fail(`${describe(obj)}: no schema known for ${obj.apiVersion} ${obj.kind}`);
    return;
  }
  if (obj.kind === "Secret" && obj.data) {
    // kustomize wraps long base64 values over lines; the API server's decoder
    // (Go's base64.StdEncoding) skips the newlines, so the schema check does too.
    obj = { ...obj, data: Object.fromEntries(Object.entries(obj.data).map(([k, v]) => [k, String(v).replace(/[\r\n]/g, "")])) };
  }
  try {
    new cls(obj).validate();
  } catch (e) {
    fail(`${describe(obj)} (${obj.apiVersion}): ${e.message}`);
  }
}

const isInt = (v) => Number.isInteger(v);
const isStr = (v) => typeof v === "string" && v.length > 0;

// Strimzi v1beta2: the fields Docket's dev overlay uses, and the ones Strimzi
// requires for them (https://strimzi.io/docs/operators/latest/configuring).
function validateStrimzi(obj, fail) {
  const where = describe(obj);
  const [, version] = obj.apiVersion.split("/");
  if (version !== "v1beta2" && version !== "v1") fail(`${where}: unsupported Strimzi API version ${version}`);
  const spec = obj.spec;
  if (!spec || typeof spec !== "object") {
    fail(`${where}: spec is required`);
    return;
  }
  switch (obj.kind) {
    case "Kafka": {
      const k = spec.kafka;
      if (!k) return fail(`${where}: spec.kafka is required`);
      if (spec.zookeeper) fail(`${where}: spec.zookeeper: Docket runs Kafka in KRaft mode`);
      const ann = obj.metadata?.annotations ?? {};
      if (ann["strimzi.io/kraft"] !== "enabled") fail(`${where}: annotation strimzi.io/kraft must be "enabled"`);
      if (ann["strimzi.io/node-pools"] !== "enabled") fail(`${where}: annotation strimzi.io/node-pools must be "enabled"`);
      if (!Array.isArray(k.listeners) || k.listeners.length === 0) fail(`${where}: spec.kafka.listeners must be a non-empty list`);
      for (const [i, l] of (k.listeners ?? []).entries()) {
        if (!/^[a-z0-9]{1,11}$/.test(l.name ?? "")) fail(`${where}: listeners[${i}].name must match [a-z0-9]{1,11}`);
        if (!isInt(l.port) || l.port < 9092) fail(`${where}: listeners[${i}].port must be an integer >= 9092`);
        if (!["internal", "route", "loadbalancer", "nodeport", "ingress", "cluster-ip"].includes(l.type)) {
          fail(`${where}: listeners[${i}].type "${l.type}" is not a Strimzi listener type`);
        }
        if (typeof l.tls !== "boolean") fail(`${where}: listeners[${i}].tls must be a boolean`);
      }
      if (k.replicas !== undefined || k.storage !== undefined) {
        fail(`${where}: with node pools, replicas and storage belong to the KafkaNodePool`);
      }
      if (k.version !== undefined && !/^\d+\.\d+\.\d+$/.test(k.version)) fail(`${where}: spec.kafka.version must be x.y.z`);
      for (const [key, v] of Object.entries(k.config ?? {})) {
        if (!["string", "number", "boolean"].includes(typeof v)) fail(`${where}: config ${key} must be a scalar`);
      }
      break;
    }
    case "KafkaNodePool": {
      if (!isStr(obj.metadata?.labels?.["strimzi.io/cluster"])) fail(`${where}: label strimzi.io/cluster is required`);
      if (!isInt(spec.replicas) || spec.replicas < 1) fail(`${where}: spec.replicas must be an integer >= 1`);
      if (!Array.isArray(spec.roles) || spec.roles.length === 0 || spec.roles.some((r) => !["controller", "broker"].includes(r))) {
        fail(`${where}: spec.roles must list controller and/or broker`);
      }
      if (!["ephemeral", "persistent-claim", "jbod"].includes(spec.storage?.type)) {
        fail(`${where}: spec.storage.type must be ephemeral, persistent-claim or jbod`);
      }
      break;
    }
    case "KafkaTopic": {
      if (!isStr(obj.metadata?.labels?.["strimzi.io/cluster"])) fail(`${where}: label strimzi.io/cluster is required`);
      if (!isInt(spec.partitions) || spec.partitions < 1) fail(`${where}: spec.partitions must be an integer >= 1`);
      if (!isInt(spec.replicas) || spec.replicas < 1 || spec.replicas > 32767) fail(`${where}: spec.replicas must be 1..32767`);
      if (spec.topicName !== undefined && !/^[a-zA-Z0-9._-]{1,249}$/.test(spec.topicName)) fail(`${where}: spec.topicName is not a Kafka topic name`);
      for (const [key, v] of Object.entries(spec.config ?? {})) {
        if (!["string", "number", "boolean"].includes(typeof v)) fail(`${where}: config ${key} must be a scalar`);
      }
      break;
    }
    default:
      fail(`${where}: no structural check for Strimzi kind ${obj.kind}`);
  }
}
