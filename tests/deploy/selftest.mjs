#!/usr/bin/env node
// ctest deploy_checks_catch_breakage: proves the deploy checks fail when a
// convention breaks. Each case breaks one thing in a scratch copy of k8s/,
// of the Dockerfile or of a rules file, runs the check, and expects a failure
// that names the problem; the unbroken copy must pass.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { REPO, Report, run, which } from "./lib/common.mjs";
import { checkDockerfile, checkRuntimeLibraries } from "./lib/container.mjs";
import { checkManifests } from "./lib/manifests.mjs";
import { checkRules } from "./lib/rules.mjs";

// Replaces `from` by `to` in k8s/<file> of the scratch copy; the text must be there.
function edit(file, from, to) {
  const fn = (dir) => {
    const p = path.join(dir, file);
    const text = fs.readFileSync(p, "utf8");
    if (!text.includes(from)) throw new Error(`selftest: "${from}" is not in ${file} any more; update the case`);
    fs.writeFileSync(p, text.replace(from, to));
  };
  // The variant that shows the breakage: base for base/, else the overlay.
  fn.variant = file.startsWith("base/") ? "base" : file.split("/")[1];
  return fn;
}

const MANIFEST_CASES = [
  ["a missing readiness probe", edit("base/intake/deployment.yaml", "          readinessProbe:\n", "          readinessProbeX:\n"), /readinessProbe is missing/],
  ["privilege escalation allowed", edit("base/processing/deployment.yaml", "allowPrivilegeEscalation: false", "allowPrivilegeEscalation: true"), /allowPrivilegeEscalation must be false/],
  ["capabilities not dropped", edit("base/compliance/deployment.yaml", 'drop: ["ALL"]', 'drop: ["NET_RAW"]'), /capabilities.drop must include ALL/],
  ["a writable root filesystem", edit("base/metrics/deployment.yaml", "readOnlyRootFilesystem: true", "readOnlyRootFilesystem: false"), /readOnlyRootFilesystem must be true/],
  ["no memory limit", edit("base/intake/deployment.yaml", "              memory: 512Mi\n", ""), /resources.limits.memory is missing/],
  ["an HTTP instead of a gRPC liveness probe", edit("base/processing/deployment.yaml", "          livenessProbe:\n            grpc:\n              port: 7002\n              service: \"\"",
    "          livenessProbe:\n            httpGet:\n              port: 9102\n              path: /metrics"), /livenessProbe must be a gRPC probe/],
  ["readiness on another service's health name", edit("base/metrics/deployment.yaml", "service: docket.v1.Kpi", "service: docket.v1.Work"), /not the service's health name/],
  ["a container port that disagrees with the code", edit("base/compliance/deployment.yaml", "containerPort: 7003", "containerPort: 7013"), /container port "grpc" is 7013/],
  ["a misspelt variable", edit("base/intake/deployment.yaml", "name: DOCKET_CONSUMER_GROUP", "name: DOCKET_CONSUMER_GRUOP"), /unknown variable DOCKET_CONSUMER_GRUOP/],
  ["a Service port named by another convention", edit("base/processing/service.yaml", "- name: http-metrics", "- name: prom"), /port names are grpc,prom/],
  ["a selector that misses its pods", edit("base/compliance/pdb.yaml", "    matchLabels:\n      app.kubernetes.io/name: docket-compliance", "    matchLabels:\n      app.kubernetes.io/name: docket-complianc"), /selector matches 0 Deployments/],
  ["a value of the wrong type (schema)", edit("base/metrics/pdb.yaml", "maxUnavailable: 1", "maxUnavailable: [1]"), /PodDisruptionBudget\/docket-metrics.*must be/],
  ["KEDA allowed beyond the partitions", edit("overlays/prod/scaling.yaml", "  minReplicaCount: 3\n  maxReplicaCount: 12", "  minReplicaCount: 3\n  maxReplicaCount: 16"), /maxReplicaCount 16 > 12 partitions/],
  ["KEDA allowed beyond the partitions by consumer threads", edit("overlays/prod/scaling.yaml", "  minReplicaCount: 2\n  maxReplicaCount: 6", "  minReplicaCount: 2\n  maxReplicaCount: 8"), /maxReplicaCount 8 x DOCKET_CONSUMER_THREADS 2 = 16 members > 12 partitions/],
  ["a trigger on another consumer group", edit("base/metrics/scaledobject.yaml", "consumerGroup: docket-metrics", "consumerGroup: docket-kpi"), /consumerGroup docket-kpi != the service's group docket-metrics/],
  ["no egress to DNS", edit("base/common/networkpolicies.yaml", "        - port: 53\n          protocol: UDP\n", ""), /no egress to DNS/],
  ["ingress open to every source", edit("base/intake/networkpolicy.yaml", "    - from:\n        - namespaceSelector:\n            matchLabels:\n              docket.dev/client: \"true\"\n        - podSelector:\n            matchLabels:\n              docket.dev/client: \"true\"\n      ports:",
    "    - ports:"), /without "from" admits every source/],
  ["the Redis URL inlined", edit("base/processing/deployment.yaml", "            - name: DOCKET_REDIS_URL\n              valueFrom:\n                secretKeyRef:\n                  name: docket-redis\n                  key: url",
    "            - name: DOCKET_REDIS_URL\n              value: redis://:secret@redis:6379/0"), /DOCKET_REDIS_URL must come from a Secret/],
  ["a dev Secret that is not generated", edit("overlays/dev/kustomization.yaml", "  - name: docket-redis\n    literals:", "  - name: docket-redis-x\n    literals:"), /Secret docket-redis is not rendered in dev/],
  ["a Strimzi topic that is missing", edit("overlays/dev/kafka.yaml", "  topicName: docket.audit.v1", "  topicName: docket.audits.v1"), /no KafkaTopic for docket.audit.v1/],
  ["a misspelt field (unknown to the schema)", edit("overlays/prod/spread.yaml", "      topologySpreadConstraints:", "      topologySpreadConstraint:"), /'"topologySpreadConstraint"' does not exist in type/, { strict: true }],
  ["a kustomization that does not build", edit("overlays/prod/kustomization.yaml", "  - path: spread.yaml", "  - path: spread-missing.yaml"), /kustomize renders overlays\/prod/],
];

async function main() {
  const report = new Report("deploy checks catch breakage");
  // The unbroken manifests pass: that is ctest deploy_manifests. Here each
  // case breaks one thing and must fail with a message that names it; the
  // cases run two at a time (their renders are separate processes).
  const results = new Array(MANIFEST_CASES.length);
  let next = 0;
  const worker = async () => {
    while (next < MANIFEST_CASES.length) {
      const i = next++;
      const [, mutate, , opts] = MANIFEST_CASES[i];
      results[i] = await checkManifests({ mutate, only: [mutate.variant], strict: false, ...opts });
    }
  };
  await Promise.all([worker(), worker()]);
  for (const [i, [what, , expect]] of MANIFEST_CASES.entries()) {
    report.check(`manifests: ${what} fails the check`, (fail) => {
      const messages = results[i].failures.flatMap((f) => [f.name, ...f.errors]);
      if (!messages.some((m) => expect.test(m))) {
        fail(`expected a failure matching ${expect}; got: ${messages.slice(0, 4).join(" | ") || "all checks passed"}`);
      }
    });
  }

  // Prometheus rules: a broken expression in the rendered PrometheusRule and in a plain file.
  const r1 = checkRules({ mutate: edit("base/monitoring/rules/docket-service-rules.yaml", "up{job=~", "up{{job=~"), only: ["base"] });
  report.check("rules: a PromQL syntax error in a PrometheusRule fails promtool", (fail) => {
    if (!r1.failures.some((f) => /PrometheusRule passes promtool/.test(f.name))) fail("promtool accepted the broken rule");
  });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "docket-selftest-"));
  try {
    const bad = path.join(tmp, "bad-rules.yaml");
    fs.writeFileSync(bad, [
      "groups:",
      "  - name: bad",
      "    rules:",
      "      - alert: DocketNoRunbook",
      "        expr: docket_kafka_consumer_lagg > 1",
      "        labels: {severity: page}",
      "",
    ].join("\n"));
    const r2 = checkRules({ extraRuleFiles: [bad], only: ["base"] });
    const msgs = r2.failures.flatMap((f) => f.errors).join("\n");
    report.check("rules: an alert without runbook, summary or valid severity fails", (fail) => {
      for (const re of [/runbook_url is missing/, /summary is missing/, /severity must be/]) if (!re.test(msgs)) fail(`no failure matching ${re}`);
    });
    report.check("rules: an expression on a metric no service exports fails", (fail) => {
      if (!/docket_kafka_consumer_lagg, which no service exports/.test(msgs)) fail("the misspelt metric passed");
    });

    // Dockerfile: no USER, a missing runtime package.
    const df = fs.readFileSync(path.join(REPO, "deploy", "docker", "Dockerfile"), "utf8");
    const noUser = path.join(tmp, "Dockerfile");
    fs.writeFileSync(noUser, df.replace(/^USER .*$/m, ""));
    fs.copyFileSync(path.join(REPO, "deploy", "docker", "Dockerfile.dockerignore"), `${noUser}.dockerignore`);
    const r3 = new Report("x");
    checkDockerfile(r3, { dockerfile: noUser });
    report.check("Dockerfile: a runtime stage without USER fails", (fail) => {
      if (!r3.failures.some((f) => f.errors.some((e) => /no USER: the image would run as root/.test(e)))) fail("no failure about USER");
    });
    const devPkg = path.join(tmp, "Dockerfile.dev");
    fs.writeFileSync(devPkg, df.replace("      librdkafka1 \\\n", "      librdkafka-dev \\\n"));
    const r4 = new Report("x");
    checkDockerfile(r4, { dockerfile: devPkg });
    report.check("Dockerfile: a -dev package in the runtime stage fails", (fail) => {
      if (!r4.failures.some((f) => f.errors.some((e) => /librdkafka-dev is a build tool or header package/.test(e)))) fail("no failure about librdkafka-dev");
    });
    const buildDir = path.resolve(process.env.DOCKET_BUILD_DIR || path.join(REPO, "build"));
    const r5 = new Report("x");
    const ldd = checkRuntimeLibraries(r5, { buildDir, dockerfile: devPkg });
    if (!ldd.skip) {
      report.check("Dockerfile: a runtime library missing from the package list fails the ldd check", (fail) => {
        if (!r5.failures.some((f) => f.errors.some((e) => /librdkafka1 \(needed by/.test(e)))) fail("the ldd check did not miss librdkafka1");
      });
    } else {
      console.log(`note: ldd case not run (${ldd.skip})`);
    }

    // yamllint: the configuration still reports errors.
    if (which("yamllint")) {
      const y = path.join(tmp, "dup.yaml");
      fs.writeFileSync(y, "a: 1\na: 2\n");
      const r6 = run("yamllint", ["-s", "-c", path.join(REPO, "tests", "deploy", "yamllint.yaml"), y]);
      report.check("yamllint: a duplicated key fails", (fail) => {
        if (r6.status === 0) fail("yamllint accepted a duplicated key");
      });
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  process.exit(report.print());
}

await main();
