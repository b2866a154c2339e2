// Renders every kustomize variant of k8s/ and checks it: schemas, and the
// conventions a platform team reviews (probes, resources, hardening,
// selectors, ports, network policies, secrets, autoscaling caps, monitoring).
import fs from "node:fs";
import path from "node:path";
import {
  CONSUMES, REPO, Report, SERVICES, configKeys, matchesSelector, portOf, quantity, render, renderAsync,
  serviceFacts, stageK8s, topicSuffixes,
} from "./common.mjs";
import { validateObject } from "./schema.mjs";
import { unknownFields } from "./strict.mjs";

export const VARIANTS = [
  { name: "base", dir: "base", autoscaled: true, secretsRendered: false, namespaced: false },
  { name: "dev", dir: "overlays/dev", autoscaled: false, secretsRendered: true, namespaced: true },
  { name: "prod", dir: "overlays/prod", autoscaled: true, secretsRendered: false, namespaced: true, restricted: true },
  { name: "prod+tls", dir: "overlays/prod-tls", autoscaled: true, secretsRendered: false, namespaced: true, restricted: true, tls: true },
  { name: "prod+kafka-principals", dir: "overlays/prod-kafka-principals", autoscaled: true, secretsRendered: false, namespaced: true, restricted: true, principalPerService: true },
  { name: "prod+redis-tls", dir: "overlays/prod-redis-tls", autoscaled: true, secretsRendered: false, namespaced: true, restricted: true, redisTls: true },
];

// Secrets an overlay may expect to exist in the cluster (created by the operator).
const EXTERNAL_SECRETS = new Set([
  "docket-redis", "docket-api-keys", "docket-kafka-client", "docket-kafka-client-intake", "docket-kafka-client-processing",
  "docket-kafka-client-compliance", "docket-kafka-client-metrics", "docket-tls", "docket-audit-hmac", "docket-redis-tls",
]);
const IMAGE = "ghcr.io/docket/docket";
const CLUSTER_SCOPED = new Set(["Namespace"]);

const key = (o) => `${o.kind}/${o.metadata?.name}`;

// The files the services read from DOCKET_CONFIG_DIR: deploy/config but the
// API keys (a Secret) and the docs, relative paths.
function configFiles(repo) {
  const dir = path.join(repo, "deploy", "config");
  return fs.readdirSync(dir, { recursive: true })
    .map(String)
    .filter((f) => fs.statSync(path.join(dir, f)).isFile() && f !== "api-keys.yaml" && !f.endsWith(".md") && !path.basename(f).startsWith("."));
}

function podSpecs(objs) {
  return objs.filter((o) => o.kind === "Deployment").map((d) => ({ deploy: d, pod: d.spec?.template?.spec ?? {} }));
}

// The Docket service a Deployment runs (by its container's command), or null.
function serviceOf(deploy) {
  const c = deploy.spec?.template?.spec?.containers?.[0];
  const bin = path.basename(c?.command?.[0] ?? "");
  const m = bin.match(/^docket-(intake|processing|compliance|metrics)$/);
  return m ? m[1] : null;
}

// Effective environment of a container: env (values, or a marker for refs) + envFrom ConfigMaps.
function effectiveEnv(c, byKey, fail, where) {
  const env = {};
  for (const ef of c.envFrom ?? []) {
    if (ef.configMapRef) {
      const cm = byKey.get(`ConfigMap/${ef.configMapRef.name}`);
      if (!cm) fail(`${where}: envFrom ConfigMap ${ef.configMapRef.name} is not in the rendered output`);
      Object.assign(env, cm?.data ?? {});
    } else if (ef.secretRef) {
      fail(`${where}: envFrom a Secret hides which variables it sets; use env with secretKeyRef`);
    }
  }
  for (const e of c.env ?? []) {
    env[e.name] = e.valueFrom ? { ref: e.valueFrom } : e.value;
  }
  return env;
}

function durationSeconds(s) {
  const m = String(s ?? "").match(/^(\d+)(ms|s|m)$/);
  if (!m) return NaN;
  return Number(m[1]) * { ms: 0.001, s: 1, m: 60 }[m[2]];
}

export async function checkVariant(report, variant, objs, facts) {
  const { svc, keys, topics } = facts;
  const label = `[${variant.name}]`;
  const byKey = new Map(objs.map((o) => [key(o), o]));
  const deployments = objs.filter((o) => o.kind === "Deployment");
  const docketDeploys = deployments.filter(serviceOf);
  const envOf = new Map(); // deployment name -> effective env

  const schemaErrors = [];
  for (const o of objs) await validateObject(o, (m) => schemaErrors.push(m));
  report.check(`${label} every object validates against its Kubernetes / CRD schema`, (fail) => schemaErrors.forEach(fail));

  report.check(`${label} object names are unique per kind`, (fail) => {
    const seen = new Set();
    for (const o of objs) {
      const k = `${o.metadata?.namespace ?? ""}/${key(o)}`;
      if (seen.has(k)) fail(`${k} appears twice`);
      seen.add(k);
    }
  });

  report.check(`${label} the four services each have a Deployment`, (fail) => {
    for (const s of SERVICES) {
      const n = docketDeploys.filter((d) => serviceOf(d) === s).length;
      if (n !== 1) fail(`expected one Deployment running docket-${s}, found ${n}`);
    }
  });

  report.check(`${label} selectors match their pods`, (fail) => {
    for (const d of deployments) {
      const tpl = d.spec?.template?.metadata?.labels ?? {};
      if (!d.spec?.selector?.matchLabels || Object.keys(d.spec.selector.matchLabels).length === 0) {
        fail(`${key(d)}: spec.selector.matchLabels is empty`);
      } else if (!matchesSelector(d.spec.selector, tpl)) {
        fail(`${key(d)}: spec.selector does not match the pod template's labels`);
      }
    }
    const podsOf = (sel) => deployments.filter((d) => matchesSelector(sel, d.spec?.template?.metadata?.labels));
    for (const s of objs.filter((o) => o.kind === "Service")) {
      const sel = { matchLabels: s.spec?.selector ?? {} };
      const pods = Object.keys(sel.matchLabels).length ? podsOf(sel) : [];
      if (pods.length !== 1) fail(`${key(s)}: selector matches ${pods.length} Deployments' pods, expected 1`);
    }
    for (const p of objs.filter((o) => o.kind === "PodDisruptionBudget")) {
      const pods = podsOf(p.spec?.selector);
      if (pods.length !== 1) fail(`${key(p)}: selector matches ${pods.length} Deployments' pods, expected 1`);
    }
    for (const d of docketDeploys) {
      const labels = d.spec.template.metadata.labels;
      if (!objs.some((p) => p.kind === "PodDisruptionBudget" && matchesSelector(p.spec?.selector, labels))) {
        fail(`${key(d)}: no PodDisruptionBudget selects its pods`);
      }
      const pdb = objs.find((p) => p.kind === "PodDisruptionBudget" && matchesSelector(p.spec?.selector, labels));
      if (pdb && pdb.spec?.minAvailable !== undefined && !variant.autoscaled) {
        fail(`${key(pdb)}: minAvailable with a fixed single replica blocks node drains; use maxUnavailable`);
      }
    }
  });

  report.check(`${label} every container has probes, resources and the hardened securityContext`, (fail) => {
    for (const { deploy, pod } of podSpecs(objs)) {
      const psc = pod.securityContext ?? {};
      const containers = [...(pod.initContainers ?? []), ...(pod.containers ?? [])];
      if (pod.hostNetwork || pod.hostPID || pod.hostIPC) fail(`${key(deploy)}: uses the host's namespaces`);
      if (pod.automountServiceAccountToken !== false) fail(`${key(deploy)}: automountServiceAccountToken must be false`);
      const sa = pod.serviceAccountName;
      if (!sa || !byKey.has(`ServiceAccount/${sa}`)) fail(`${key(deploy)}: serviceAccountName ${sa} is not a rendered ServiceAccount`);
      for (const c of containers) {
        const w = `${key(deploy)} container ${c.name}`;
        const sc = c.securityContext ?? {};
        const nonRoot = sc.runAsNonRoot ?? psc.runAsNonRoot;
        if (nonRoot !== true) fail(`${w}: runAsNonRoot must be true`);
        const uid = sc.runAsUser ?? psc.runAsUser;
        if (uid === 0) fail(`${w}: runAsUser 0`);
        if (sc.readOnlyRootFilesystem !== true) fail(`${w}: readOnlyRootFilesystem must be true`);
        if (sc.allowPrivilegeEscalation !== false) fail(`${w}: allowPrivilegeEscalation must be false`);
        if (sc.privileged === true) fail(`${w}: privileged`);
        if (!(sc.capabilities?.drop ?? []).includes("ALL")) fail(`${w}: capabilities.drop must include ALL`);
        if ((sc.capabilities?.add ?? []).length) fail(`${w}: adds capabilities ${sc.capabilities.add}`);
        const seccomp = sc.seccompProfile?.type ?? psc.seccompProfile?.type;
        if (seccomp !== "RuntimeDefault") fail(`${w}: seccompProfile.type must be RuntimeDefault (is ${seccomp})`);
        const r = c.resources ?? {};
        for (const kind of ["requests", "limits"]) {
          for (const res of ["cpu", "memory"]) {
            if (r[kind]?.[res] === undefined) fail(`${w}: resources.${kind}.${res} is missing`);
          }
        }
        for (const res of ["cpu", "memory"]) {
          const req = quantity(r.requests?.[res]);
          const lim = quantity(r.limits?.[res]);
          if (req > lim) fail(`${w}: resources.requests.${res} ${r.requests[res]} > limits ${r.limits[res]}`);
        }
        if (!pod.initContainers?.includes(c)) {
          for (const p of ["startupProbe", "readinessProbe", "livenessProbe"]) {
            if (!c[p]) fail(`${w}: ${p} is missing`);
          }
        }
        const image = c.image ?? "";
        if (!/:[A-Za-z0-9._-]+$|@sha256:[0-9a-f]{64}$/.test(image) || image.endsWith(":latest")) {
          fail(`${w}: image "${image}" must carry a tag (not latest) or a digest`);
        }
      }
    }
  });

  report.check(`${label} Docket containers: command, ports, env and gRPC probes agree with the services' code`, (fail) => {
    for (const d of docketDeploys) {
      const s = serviceOf(d);
      const f = svc[s];
      const c = d.spec.template.spec.containers[0];
      const w = `${key(d)} (${s})`;
      if (d.spec.template.spec.containers.length !== 1) fail(`${w}: expected one container`);
      if (!String(c.image).startsWith(`${IMAGE}:`) && !String(c.image).startsWith(`${IMAGE}@`)) {
        fail(`${w}: image ${c.image} is not ${IMAGE}`);
      }
      if (c.command[0] !== `/usr/local/bin/docket-${s}`) fail(`${w}: command ${c.command[0]} is not /usr/local/bin/docket-${s} (the image's path)`);
      const ports = Object.fromEntries((c.ports ?? []).map((p) => [p.name, p.containerPort]));
      if (ports.grpc !== f.grpcPort) fail(`${w}: container port "grpc" is ${ports.grpc}, the service's default is ${f.grpcPort}`);
      if (ports["http-metrics"] !== f.metricsPort) {
        fail(`${w}: container port "http-metrics" is ${ports["http-metrics"]}, the service's default is ${f.metricsPort}`);
      }
      const env = effectiveEnv(c, byKey, fail, w);
      envOf.set(d.metadata.name, env);
      for (const k of Object.keys(env)) {
        if (k.startsWith("DOCKET_") && !keys.has(k)) fail(`${w}: unknown variable ${k} (not in ServiceConfigKeys())`);
      }
      if (portOf(env.DOCKET_GRPC_LISTEN ?? `:${f.grpcPort}`) !== ports.grpc) fail(`${w}: DOCKET_GRPC_LISTEN ${env.DOCKET_GRPC_LISTEN} != port grpc ${ports.grpc}`);
      if (portOf(env.DOCKET_METRICS_LISTEN ?? `:${f.metricsPort}`) !== ports["http-metrics"]) {
        fail(`${w}: DOCKET_METRICS_LISTEN ${env.DOCKET_METRICS_LISTEN} != port http-metrics ${ports["http-metrics"]}`);
      }
      for (const req of ["DOCKET_KAFKA_BROKERS", "DOCKET_REDIS_URL", "DOCKET_CONFIG_DIR"]) {
        if (env[req] === undefined) fail(`${w}: ${req} is not set`);
      }
      if (typeof env.DOCKET_REDIS_URL !== "object" || !env.DOCKET_REDIS_URL.ref?.secretKeyRef) {
        fail(`${w}: DOCKET_REDIS_URL must come from a Secret (secretKeyRef), it may hold a password`);
      }
      // Config directory: mounted, with api-keys.yaml from a Secret.
      const mount = (c.volumeMounts ?? []).find((m) => m.mountPath === env.DOCKET_CONFIG_DIR);
      if (!mount) fail(`${w}: nothing is mounted at DOCKET_CONFIG_DIR ${env.DOCKET_CONFIG_DIR}`);
      const vol = mount && d.spec.template.spec.volumes.find((v) => v.name === mount.name);
      const sources = vol?.projected?.sources ?? (vol?.configMap ? [{ configMap: vol.configMap }] : []);
      const keySecret = sources.find((src) => src.secret && (src.secret.items ?? []).some((i) => i.path === "api-keys.yaml"));
      if (!keySecret) fail(`${w}: api-keys.yaml must be projected from a Secret into ${env.DOCKET_CONFIG_DIR}`);
      const cmSrc = sources.find((src) => src.configMap);
      const cm = cmSrc && byKey.get(`ConfigMap/${cmSrc.configMap.name}`);
      if (!cm) fail(`${w}: the config directory has no rendered ConfigMap`);
      else if (!cm.data?.["catalog.yaml"]) fail(`${w}: ConfigMap ${cm.metadata.name} has no catalog.yaml`);
      if (cm) {
        // Every file of deploy/config reaches DOCKET_CONFIG_DIR at its own path.
        const items = cmSrc.configMap.items;
        const paths = new Set(items ? items.map((i) => i.path) : Object.keys(cm.data ?? {}));
        for (const i of items ?? []) if (!(i.key in (cm.data ?? {}))) fail(`${w}: config item ${i.key} is not a key of ${cm.metadata.name}`);
        if (items) for (const k of Object.keys(cm.data ?? {})) if (!items.some((i) => i.key === k)) fail(`${w}: key ${k} of ${cm.metadata.name} is not projected`);
        for (const f of facts.configFiles) if (!paths.has(f)) fail(`${w}: deploy/config/${f} does not reach ${env.DOCKET_CONFIG_DIR}/${f}`);
        const size = Object.values(cm.data ?? {}).reduce((n, v) => n + Buffer.byteLength(String(v)), 0);
        if (size > 200 * 1024) fail(`${w}: ConfigMap ${cm.metadata.name} is ${size} bytes; over ~256 KiB client-side apply fails`);
      }
      // Probes: gRPC on the grpc port; readiness on the service's health name.
      // With TLS on, kubelet's plaintext gRPC probe cannot connect: TCP on the grpc port instead.
      const tls = env.DOCKET_TLS_CERT_FILE !== undefined;
      if (tls !== Boolean(variant.tls)) fail(`${w}: TLS is ${tls ? "on" : "off"} in variant ${variant.name}`);
      for (const p of ["startupProbe", "readinessProbe", "livenessProbe"]) {
        const probe = c[p];
        if (!probe) continue;
        if (tls) {
          if (probe.tcpSocket?.port !== "grpc" && probe.tcpSocket?.port !== ports.grpc) fail(`${w}: ${p} must be tcpSocket on the grpc port when TLS is on`);
          continue;
        }
        if (!probe.grpc) {
          fail(`${w}: ${p} must be a gRPC probe (grpc.health.v1)`);
          continue;
        }
        if (probe.grpc.port !== f.grpcPort) fail(`${w}: ${p}.grpc.port ${probe.grpc.port} != ${f.grpcPort}`);
        const name = probe.grpc.service ?? "";
        if (p === "readinessProbe" && !f.healthNames.includes(name)) {
          fail(`${w}: readinessProbe.grpc.service "${name}" is not the service's health name (${f.healthNames.join(", ")})`);
        }
        if (p !== "readinessProbe" && name !== "" && !f.healthNames.includes(name)) {
          fail(`${w}: ${p}.grpc.service "${name}" is not served`);
        }
      }
      // Drain: the pod must get DOCKET_DRAIN_TIMEOUT plus the preStop pause before SIGKILL.
      const drain = durationSeconds(env.DOCKET_DRAIN_TIMEOUT ?? "10s");
      const pause = Number(c.lifecycle?.preStop?.exec?.command?.at(-1) ?? 0) || 0;
      const grace = d.spec.template.spec.terminationGracePeriodSeconds ?? 30;
      if (!(grace > drain + pause)) fail(`${w}: terminationGracePeriodSeconds ${grace} <= drain ${drain}s + preStop ${pause}s`);
    }
  });

  report.check(`${label} Services name their ports grpc and http-metrics, matching the pods`, (fail) => {
    for (const d of docketDeploys) {
      const s = serviceOf(d);
      const labels = d.spec.template.metadata.labels;
      const services = objs.filter((o) => o.kind === "Service" && Object.keys(o.spec?.selector ?? {}).length
        && matchesSelector({ matchLabels: o.spec.selector }, labels));
      if (services.length !== 1) {
        fail(`${key(d)}: ${services.length} Services select its pods, expected 1`);
        continue;
      }
      const sv = services[0];
      if (sv.metadata.name !== `docket-${s}`) fail(`${key(sv)}: expected the name docket-${s} (the metrics job and DNS name)`);
      const cports = Object.fromEntries(d.spec.template.spec.containers[0].ports.map((p) => [p.name, p.containerPort]));
      const names = (sv.spec.ports ?? []).map((p) => p.name).sort();
      if (names.join(",") !== "grpc,http-metrics") fail(`${key(sv)}: port names are ${names}, expected grpc and http-metrics`);
      for (const p of sv.spec.ports ?? []) {
        const target = typeof p.targetPort === "string" ? cports[p.targetPort] : (p.targetPort ?? p.port);
        if (target === undefined) fail(`${key(sv)}: targetPort ${p.targetPort} is not a container port of ${key(d)}`);
        if (cports[p.name] !== target) fail(`${key(sv)}: port ${p.name} targets ${target}, the container's ${p.name} is ${cports[p.name]}`);
        if (p.port !== cports[p.name]) fail(`${key(sv)}: port ${p.name} is ${p.port}, the service listens on ${cports[p.name]}`);
      }
    }
  });

  report.check(`${label} NetworkPolicies: default deny; ingress to gRPC and metrics; egress only to DNS, Kafka, Redis`, (fail) => {
    const policies = objs.filter((o) => o.kind === "NetworkPolicy");
    for (const d of docketDeploys) {
      const labels = d.spec.template.metadata.labels;
      const cports = Object.fromEntries(d.spec.template.spec.containers[0].ports.map((p) => [p.name, p.containerPort]));
      const mine = policies.filter((p) => matchesSelector(p.spec?.podSelector ?? {}, labels) || Object.keys(p.spec?.podSelector ?? {}).length === 0);
      const w = `${key(d)}`;
      const types = (p) => p.spec.policyTypes ?? ["Ingress"];
      if (!mine.some((p) => types(p).includes("Ingress") && types(p).includes("Egress") && !p.spec.ingress?.length && !p.spec.egress?.length)) {
        fail(`${w}: no default-deny policy (Ingress and Egress, no rules) selects its pods`);
      }
      const resolve = (port) => (typeof port === "string" ? cports[port] : port);
      const ingressPorts = new Set();
      for (const p of mine) {
        for (const rule of p.spec.ingress ?? []) {
          if (!rule.from?.length) fail(`${key(p)}: an ingress rule without "from" admits every source`);
          if (!rule.ports?.length) fail(`${key(p)}: an ingress rule without ports opens every port`);
          for (const port of rule.ports ?? []) {
            const n = resolve(port.port);
            if (n === undefined) fail(`${key(p)}: ingress port ${port.port} is not a container port of ${w}`);
            ingressPorts.add(n);
          }
        }
      }
      for (const name of ["grpc", "http-metrics"]) {
        if (!ingressPorts.has(cports[name])) fail(`${w}: no NetworkPolicy admits ingress to its ${name} port`);
      }
      for (const n of ingressPorts) {
        if (n !== cports.grpc && n !== cports["http-metrics"]) fail(`${w}: ingress allowed to port ${n}, which it does not serve`);
      }
      const egress = mine.flatMap((p) => p.spec.egress ?? []);
      for (const rule of egress) {
        if (!rule.to?.length) fail(`${w}: an egress rule without "to" allows every destination`);
        if (!rule.ports?.length) fail(`${w}: an egress rule without ports allows every port`);
      }
      const egressPorts = new Set(egress.flatMap((r) => (r.ports ?? []).map((p) => `${p.port}/${p.protocol ?? "TCP"}`)));
      if (!egressPorts.has("53/UDP")) fail(`${w}: no egress to DNS (53/UDP)`);
      const env = envOf.get(d.metadata.name) ?? {};
      for (const b of String(env.DOCKET_KAFKA_BROKERS ?? "").split(",").filter(Boolean)) {
        if (!egressPorts.has(`${portOf(b)}/TCP`)) fail(`${w}: no egress to Kafka broker port ${portOf(b)} (${b})`);
      }
      let redisPort = 6379;
      const ref = env.DOCKET_REDIS_URL?.ref?.secretKeyRef;
      const secret = ref && byKey.get(`Secret/${ref.name}`);
      if (secret) {
        const url = secret.stringData?.[ref.key] ?? Buffer.from(secret.data?.[ref.key] ?? "", "base64").toString();
        redisPort = Number(url.match(/@?[^/@:]+:(\d+)/)?.[1] ?? 6379);
      }
      if (!egressPorts.has(`${redisPort}/TCP`)) fail(`${w}: no egress to Redis port ${redisPort}`);
      const allowed = new Set(["53/UDP", "53/TCP", `${redisPort}/TCP`,
        ...String(env.DOCKET_KAFKA_BROKERS ?? "").split(",").filter(Boolean).map((b) => `${portOf(b)}/TCP`), "9092/TCP", "9093/TCP"]);
      for (const p of egressPorts) if (!allowed.has(p)) fail(`${w}: egress to ${p}, which is none of DNS, Kafka, Redis`);
      if (!policies.some((p) => p.spec?.podSelector?.matchLabels?.["app.kubernetes.io/name"] === labels["app.kubernetes.io/name"]
        && (p.spec.ingress ?? []).length)) {
        fail(`${w}: no ingress policy of its own (podSelector app.kubernetes.io/name=${labels["app.kubernetes.io/name"]})`);
      }
    }
  });

  report.check(`${label} Kafka client Secret: each service's own with components/kafka-principal-per-service, else the shared one`, (fail) => {
    for (const { deploy, pod } of podSpecs(objs)) {
      const secret = (pod.volumes ?? []).find((v) => v.name === "kafka-client")?.secret?.secretName;
      if (secret === undefined) continue;  // an overlay without the Kafka client mount
      const want = variant.principalPerService ? `docket-kafka-client-${serviceOf(deploy)}` : "docket-kafka-client";
      if (secret !== want) fail(`${key(deploy)}: Kafka client Secret ${secret}, expected ${want} in ${variant.name}`);
    }
  });

  report.check(`${label} Redis CA: every service trusts docket-redis-tls's ca.crt with components/redis-tls, else none is set`, (fail) => {
    for (const { deploy, pod } of podSpecs(objs)) {
      for (const c of pod.containers ?? []) {
        const ca = (c.env ?? []).find((e) => e.name === "DOCKET_REDIS_CA_FILE")?.value;
        if (!variant.redisTls) {
          if (ca !== undefined) fail(`${key(deploy)}: DOCKET_REDIS_CA_FILE set in ${variant.name}`);
          continue;
        }
        if (!(c.env ?? []).some((e) => e.name === "DOCKET_REDIS_URL")) continue;  // not a service container
        const mount = (c.volumeMounts ?? []).find((m) => ca !== undefined && ca.startsWith(`${m.mountPath}/`));
        const volume = mount && (pod.volumes ?? []).find((v) => v.name === mount.name);
        if (volume?.secret?.secretName !== "docket-redis-tls" || !ca.endsWith("/ca.crt")) {
          fail(`${key(deploy)}: DOCKET_REDIS_CA_FILE ${ca} is not ca.crt of a mounted Secret docket-redis-tls`);
        }
      }
    }
  });

  report.check(`${label} Secrets: referenced by name, never inlined in ConfigMaps`, (fail) => {
    const refs = new Set();
    for (const { deploy, pod } of podSpecs(objs)) {
      for (const c of pod.containers ?? []) {
        for (const e of c.env ?? []) if (e.valueFrom?.secretKeyRef) refs.add(`${e.valueFrom.secretKeyRef.name}|${key(deploy)}`);
      }
      for (const v of pod.volumes ?? []) {
        if (v.secret && !v.secret.optional) refs.add(`${v.secret.secretName}|${key(deploy)}`);
        if (v.secret?.optional && !EXTERNAL_SECRETS.has(v.secret.secretName)) fail(`${key(deploy)}: optional Secret ${v.secret.secretName} is not documented`);
        for (const src of v.projected?.sources ?? []) if (src.secret) refs.add(`${src.secret.name}|${key(deploy)}`);
      }
    }
    for (const r of refs) {
      const [name, by] = r.split("|");
      const rendered = byKey.has(`Secret/${name}`);
      if (variant.secretsRendered && !rendered) fail(`${by}: Secret ${name} is not rendered in ${variant.name}`);
      if (!rendered && !EXTERNAL_SECRETS.has(name)) fail(`${by}: Secret ${name} is neither rendered nor a documented external Secret`);
    }
    for (const cm of objs.filter((o) => o.kind === "ConfigMap")) {
      for (const [k, v] of Object.entries(cm.data ?? {})) {
        if (k === "api-keys.yaml") fail(`${key(cm)}: api-keys.yaml belongs in a Secret`);
        if (/redis:\/\/[^@/\s]*:[^@/\s]+@/.test(String(v))) fail(`${key(cm)}: ${k} holds a Redis password`);
      }
    }
  });

  report.check(`${label} autoscaling: HPA for intake, KEDA on consumer lag for the consumers, capped at the partition count`, (fail) => {
    const hpas = objs.filter((o) => o.kind === "HorizontalPodAutoscaler");
    const sos = objs.filter((o) => o.kind === "ScaledObject");
    const topicsByName = new Map(objs.filter((o) => o.kind === "KafkaTopic").map((t) => [t.spec.topicName ?? t.metadata.name, t]));
    if (!variant.autoscaled) {
      if (hpas.length || sos.length) fail(`${variant.name} should run fixed replicas, found ${hpas.length} HPA and ${sos.length} ScaledObjects`);
      for (const d of docketDeploys) if (d.spec.replicas !== 1) fail(`${key(d)}: replicas ${d.spec.replicas}, expected 1`);
      return;
    }
    for (const d of docketDeploys) {
      const s = serviceOf(d);
      const h = hpas.filter((x) => x.spec.scaleTargetRef?.name === d.metadata.name);
      const so = sos.filter((x) => x.spec.scaleTargetRef?.name === d.metadata.name);
      if (d.spec.replicas !== undefined) fail(`${key(d)}: spec.replicas is set although an autoscaler owns it (every apply would reset it)`);
      if (s === "intake") {
        if (h.length !== 1 || so.length) fail(`${key(d)}: expected one HPA and no ScaledObject`);
        for (const x of h) {
          if (x.spec.scaleTargetRef.kind !== "Deployment") fail(`${key(x)}: scaleTargetRef.kind must be Deployment`);
          if (!(x.spec.minReplicas >= 2)) fail(`${key(x)}: minReplicas ${x.spec.minReplicas} < 2 (one pod would be a single point of failure)`);
          if (!(x.spec.maxReplicas >= x.spec.minReplicas)) fail(`${key(x)}: maxReplicas < minReplicas`);
        }
        continue;
      }
      if (so.length !== 1 || h.length) {
        fail(`${key(d)}: expected one ScaledObject and no HPA`);
        continue;
      }
      const x = so[0];
      const env = envOf.get(d.metadata.name) ?? {};
      const group = env.DOCKET_CONSUMER_GROUP ?? `docket-${s}`;
      const prefix = env.DOCKET_TOPIC_PREFIX ?? "docket.";
      const want = CONSUMES[s].map((t) => prefix + topics[t]).sort();
      const kafka = (x.spec.triggers ?? []).filter((t) => t.type === "kafka");
      const got = kafka.map((t) => t.metadata?.topic).sort();
      if (got.join(",") !== want.join(",")) fail(`${key(x)}: Kafka triggers on [${got}], the service consumes [${want}]`);
      for (const t of kafka) {
        const m = t.metadata ?? {};
        if (m.consumerGroup !== group) fail(`${key(x)}: trigger consumerGroup ${m.consumerGroup} != the service's group ${group}`);
        if (m.bootstrapServers !== env.DOCKET_KAFKA_BROKERS) fail(`${key(x)}: trigger bootstrapServers ${m.bootstrapServers} != DOCKET_KAFKA_BROKERS ${env.DOCKET_KAFKA_BROKERS}`);
        if (!(Number(m.lagThreshold) > 0)) fail(`${key(x)}: lagThreshold must be a positive number`);
        if (m.allowIdleConsumers === "true") fail(`${key(x)}: allowIdleConsumers=true lets KEDA scale beyond the partitions`);
        if (t.authenticationRef && !byKey.has(`TriggerAuthentication/${t.authenticationRef.name}`)) {
          fail(`${key(x)}: authenticationRef ${t.authenticationRef.name} is not rendered`);
        }
      }
      const min = x.spec.minReplicaCount ?? 0;
      const max = x.spec.maxReplicaCount ?? 100;
      if (x.spec.maxReplicaCount === undefined) fail(`${key(x)}: maxReplicaCount must be set (KEDA's default is 100)`);
      if (min < 1) fail(`${key(x)}: minReplicaCount ${min}: the service also serves gRPC, it must not scale to zero`);
      if (max < min) fail(`${key(x)}: maxReplicaCount ${max} < minReplicaCount ${min}`);
      const declared = Number(x.metadata.annotations?.["docket.dev/topic-partitions"]);
      if (!Number.isInteger(declared) || declared < 1) fail(`${key(x)}: annotation docket.dev/topic-partitions (the partition count the cap assumes) is missing`);
      // Each pod runs DOCKET_CONSUMER_THREADS members of the group.
      const threads = Number(env.DOCKET_CONSUMER_THREADS ?? 1);
      const members = max * threads;
      const cap = threads === 1 ? `maxReplicaCount ${max}` : `maxReplicaCount ${max} x DOCKET_CONSUMER_THREADS ${threads} = ${members} members`;
      if (Number.isInteger(declared) && declared >= 1 && members > declared) fail(`${key(x)}: ${cap} > ${declared} partitions: extra consumers would idle`);
      for (const t of want) {
        const kt = topicsByName.get(t);
        if (kt && members > kt.spec.partitions) fail(`${key(x)}: ${cap} > ${kt.spec.partitions} partitions of KafkaTopic ${t}`);
        if (kt && declared > kt.spec.partitions) fail(`${key(x)}: docket.dev/topic-partitions ${declared} > the ${kt.spec.partitions} partitions of KafkaTopic ${t}`);
      }
    }
  });

  report.check(`${label} monitoring: ServiceMonitor scrapes every service; PrometheusRule and dashboards present`, (fail) => {
    const sms = objs.filter((o) => o.kind === "ServiceMonitor");
    for (const d of docketDeploys) {
      const sv = objs.find((o) => o.kind === "Service" && o.metadata.name === d.metadata.name);
      if (!sv) continue;
      const sm = sms.find((m) => matchesSelector(m.spec?.selector, sv.metadata.labels));
      if (!sm) {
        fail(`${key(sv)}: no ServiceMonitor selects it`);
        continue;
      }
      for (const ep of sm.spec.endpoints ?? []) {
        if (!(sv.spec.ports ?? []).some((p) => p.name === ep.port)) fail(`${key(sm)}: endpoint port ${ep.port} is not a port name of ${key(sv)}`);
        if (ep.honorLabels !== true) fail(`${key(sm)}: honorLabels must be true (Docket's metrics have their own service label)`);
      }
    }
    if (!objs.some((o) => o.kind === "PrometheusRule")) fail("no PrometheusRule");
    const boards = fs.existsSync(path.join(REPO, "deploy", "grafana"))
      ? fs.readdirSync(path.join(REPO, "deploy", "grafana"), { recursive: true }).filter((f) => String(f).endsWith(".json")) : [];
    const cms = objs.filter((o) => o.kind === "ConfigMap" && o.metadata.labels?.grafana_dashboard === "1");
    if (cms.length < boards.length) fail(`${boards.length} boards in deploy/grafana but ${cms.length} dashboard ConfigMaps`);
    for (const cm of cms) {
      const size = Object.values(cm.data ?? {}).reduce((n, v) => n + Buffer.byteLength(String(v)), 0);
      if (size > 200 * 1024) fail(`${key(cm)}: ${size} bytes; over ~256 KiB client-side apply fails`);
      for (const [k, v] of Object.entries(cm.data ?? {})) {
        try {
          JSON.parse(v);
        } catch (e) {
          fail(`${key(cm)}: ${k} is not valid JSON: ${e.message}`);
        }
      }
    }
  });

  if (variant.namespaced) {
    report.check(`${label} one Namespace, set on every namespaced object`, (fail) => {
      const nss = objs.filter((o) => o.kind === "Namespace");
      if (nss.length !== 1) return fail(`expected one Namespace, found ${nss.length}`);
      const ns = nss[0].metadata.name;
      for (const o of objs) {
        if (!CLUSTER_SCOPED.has(o.kind) && o.metadata?.namespace !== ns) fail(`${key(o)}: namespace ${o.metadata?.namespace}, expected ${ns}`);
      }
      if (variant.restricted && nss[0].metadata.labels?.["pod-security.kubernetes.io/enforce"] !== "restricted") {
        fail(`Namespace ${ns}: enforce the restricted Pod Security Standard`);
      }
    });
  }

  const kafkas = objs.filter((o) => o.kind === "Kafka");
  if (kafkas.length) {
    report.check(`${label} Strimzi Kafka: KRaft node pool, Docket's topics, and the brokers the services use`, (fail) => {
      const k = kafkas[0];
      const cluster = k.metadata.name;
      const pools = objs.filter((o) => o.kind === "KafkaNodePool" && o.metadata.labels?.["strimzi.io/cluster"] === cluster);
      const roles = new Set(pools.flatMap((p) => p.spec.roles ?? []));
      if (!roles.has("controller") || !roles.has("broker")) fail(`Kafka ${cluster}: its node pools need the controller and broker roles`);
      const plain = (k.spec.kafka.listeners ?? []).filter((l) => l.type === "internal" && l.tls === false);
      const expected = plain.map((l) => `${cluster}-kafka-bootstrap:${l.port}`);
      for (const d of docketDeploys) {
        const b = envOf.get(d.metadata.name)?.DOCKET_KAFKA_BROKERS;
        if (!expected.includes(b)) fail(`${key(d)}: DOCKET_KAFKA_BROKERS ${b} is not a plaintext bootstrap of Kafka ${cluster} (${expected})`);
      }
      const prefix = envOf.get(docketDeploys[0]?.metadata.name)?.DOCKET_TOPIC_PREFIX ?? "docket.";
      const kts = objs.filter((o) => o.kind === "KafkaTopic");
      for (const t of Object.values(topics)) {
        const kt = kts.find((x) => (x.spec.topicName ?? x.metadata.name) === prefix + t);
        if (!kt) fail(`no KafkaTopic for ${prefix + t}`);
        else if (kt.metadata.labels?.["strimzi.io/cluster"] !== cluster) fail(`KafkaTopic ${prefix + t}: strimzi.io/cluster is not ${cluster}`);
      }
      const brokers = pools.filter((p) => (p.spec.roles ?? []).includes("broker")).reduce((n, p) => n + p.spec.replicas, 0);
      for (const kt of kts) if (kt.spec.replicas > brokers) fail(`KafkaTopic ${kt.metadata.name}: ${kt.spec.replicas} replicas > ${brokers} brokers`);
    });
  }
}

// Renders and checks every variant of the k8s/ tree at k8sDir; returns the Report.
// `only` limits the run to the named variants (the self-test renders only the
// variant its breakage is in, to stay fast).
// `strict: false` skips the (slower) unknown-field check.
export async function checkManifests({ k8sDir = path.join(REPO, "k8s"), repo = REPO, mutate, only, strict = true } = {}) {
  const report = new Report("deploy manifests");
  const facts = { svc: serviceFacts(repo), keys: configKeys(repo), topics: topicSuffixes(repo), configFiles: configFiles(repo) };
  const staged = stageK8s(k8sDir, mutate);
  const rendered = [];
  try {
    const variants = VARIANTS.filter((x) => !only || only.includes(x.name));
    // Render all variants at once, then check them in order.
    const outcomes = await Promise.allSettled(variants.map((v) => renderAsync(path.join(staged.dir, v.dir))));
    for (const [i, v] of variants.entries()) {
      const o = outcomes[i];
      const ok = report.check(`[${v.name}] kustomize renders ${v.dir}`, (fail) => {
        if (o.status === "rejected") fail(o.reason.message);
      });
      if (!ok) continue;
      rendered.push({ name: v.name, objs: o.value });
      await checkVariant(report, v, o.value, facts);
    }
  } finally {
    staged.cleanup();
  }
  if (strict && rendered.length) {
    const found = unknownFields(rendered);
    for (const { name } of rendered) {
      report.check(`[${name}] no unknown or mistyped fields (TypeScript interfaces of the same models)`, (fail) => found[name].forEach(fail));
    }
  }
  return report;
}

// Every rendered object of every variant (used by the rules check).
export function renderAll({ k8sDir = path.join(REPO, "k8s"), mutate, only } = {}) {
  const staged = stageK8s(k8sDir, mutate);
  try {
    return VARIANTS.filter((x) => !only || only.includes(x.name)).map((v) => ({ variant: v, objs: render(path.join(staged.dir, v.dir)) }));
  } finally {
    staged.cleanup();
  }
}
