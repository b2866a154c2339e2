// The container image as far as this machine can check it without a Docker
// engine: the Dockerfile's stages, user and package list; the runtime
// packages against `ldd` of the built binaries; and compose.yaml against the
// services' code.
import fs from "node:fs";
import path from "node:path";
import {
  REPO, SERVICES, cmakeBinaries, configKeys, docketctlTargets, loadYamlDocs, loadYamlFile, portOf, readText, run,
  serviceFacts, topicSuffixes,
} from "./common.mjs";

// The binaries the image ships, where CMake puts them in a build tree.
export const BINARIES = {
  "docket-intake": "services/intake/docket-intake",
  "docket-processing": "services/processing/docket-processing",
  "docket-compliance": "services/compliance/docket-compliance",
  "docket-metrics": "services/metrics/docket-metrics",
  docketctl: "tools/docketctl/docketctl",
  "docket-keygen": "tools/keygen/docket-keygen",
};

// Packages the runtime stage may list although no binary links them.
const DATA_PACKAGES = new Set(["ca-certificates", "tzdata"]);
// Part of every Debian image (Essential: yes), need not be listed.
const ESSENTIAL = new Set(["libc6"]);

// Parses a Dockerfile into stages: {base, name, lines: [{instr, args}]}.
export function parseDockerfile(text) {
  const joined = text.replace(/\\\r?\n/g, " ");
  const stages = [];
  for (const raw of joined.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const m = line.match(/^([A-Za-z]+)\s+(.*)$/);
    if (!m) continue;
    const instr = m[1].toUpperCase();
    if (instr === "FROM") {
      const f = m[2].match(/^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i);
      stages.push({ base: f?.[1], name: f?.[2], lines: [] });
    } else if (stages.length) {
      stages.at(-1).lines.push({ instr, args: m[2] });
    }
  }
  return stages;
}

// The packages an `apt-get install` in the stage installs.
export function aptPackages(stage) {
  const pkgs = [];
  for (const l of stage.lines.filter((x) => x.instr === "RUN")) {
    for (const cmd of l.args.split(/&&|;/)) {
      const m = cmd.match(/apt-get\s+install\s+(.*)$/);
      if (m) pkgs.push(...m[1].split(/\s+/).filter((w) => w && !w.startsWith("-")));
    }
  }
  return pkgs;
}

export function checkDockerfile(report, { dockerfile = path.join(REPO, "deploy", "docker", "Dockerfile"), repo = REPO, k8sUid = 10001 } = {}) {
  const stages = parseDockerfile(readText(dockerfile));
  const final = stages.at(-1);
  report.check("Dockerfile: multi-stage on debian:bookworm-slim, build then runtime", (fail) => {
    if (stages.length < 2) fail(`${stages.length} stage(s); expected a build stage and a runtime stage`);
    for (const s of stages) if (s.base !== "debian:bookworm-slim" && !stages.some((o) => o.name === s.base)) fail(`stage ${s.name}: FROM ${s.base}, expected debian:bookworm-slim`);
    if (!stages.some((s) => s.name === "build")) fail("no stage named build");
    if (final?.name !== "runtime") fail(`the last stage is ${final?.name}, expected runtime`);
  });
  report.check("Dockerfile: the runtime stage runs as a numeric non-root user", (fail) => {
    const users = final?.lines.filter((l) => l.instr === "USER") ?? [];
    if (!users.length) return fail("the runtime stage has no USER: the image would run as root");
    const u = users.at(-1).args.trim();
    const m = u.match(/^(\d+)(?::(\d+))?$/);
    if (!m) return fail(`USER ${u}: use a numeric uid[:gid] so Kubernetes' runAsNonRoot can verify it`);
    if (Number(m[1]) === 0 || Number(m[2] ?? 1) === 0) fail(`USER ${u} is root`);
    if (Number(m[1]) !== k8sUid) fail(`USER ${u} != runAsUser ${k8sUid} of the Kubernetes manifests`);
  });
  report.check("Dockerfile: the build stage builds and the runtime stage copies every binary the manifests run", (fail) => {
    const build = stages.find((s) => s.name === "build");
    const text = (build?.lines ?? []).map((l) => l.args).join("\n");
    const targets = cmakeBinaries(repo);
    for (const b of Object.keys(BINARIES)) {
      if (!targets.has(b)) fail(`${b} is not a CMake target any more`);
      if (!new RegExp(`--target[^\\n]*\\b${b}\\b`).test(text)) fail(`the build stage does not build --target ${b}`);
      if (!text.includes(BINARIES[b])) fail(`the build stage does not collect ${BINARIES[b]}`);
    }
    if (!/DOCKET_BUILD_TESTS=OFF/.test(text)) fail("the build stage should configure with -DDOCKET_BUILD_TESTS=OFF");
    const copies = final?.lines.filter((l) => l.instr === "COPY" && /--from=build/.test(l.args)) ?? [];
    if (!copies.some((c) => /\s\/usr\/local\/bin\/?$/.test(c.args))) fail("the runtime stage does not COPY --from=build into /usr/local/bin/");
  });
  report.check("Dockerfile: the runtime stage installs runtime libraries only, without recommends, and cleans apt lists", (fail) => {
    const pkgs = aptPackages(final ?? { lines: [] });
    if (!pkgs.length) fail("the runtime stage installs no packages");
    for (const p of pkgs) {
      if (/-dev$|^(g\+\+|gcc|cmake|ninja-build|make|git|protobuf-compiler.*|curl|wget)$/.test(p)) fail(`${p} is a build tool or header package`);
    }
    const runs = final?.lines.filter((l) => l.instr === "RUN").map((l) => l.args).join("\n") ?? "";
    if (!/--no-install-recommends/.test(runs)) fail("apt-get install without --no-install-recommends");
    if (!/rm -rf \/var\/lib\/apt\/lists/.test(runs)) fail("the apt lists stay in the image (rm -rf /var/lib/apt/lists/*)");
    if (final?.lines.some((l) => l.instr === "ADD" && /https?:\/\//.test(l.args))) fail("ADD from a URL");
    if (!pkgs.includes("tzdata")) fail("tzdata is missing: the business calendars load IANA time zones");
    if (!pkgs.includes("ca-certificates")) fail("ca-certificates is missing: Kafka over TLS needs the CA bundle");
  });
  report.check("Dockerfile: the build context excludes local build trees", (fail) => {
    const ignore = `${dockerfile}.dockerignore`;
    if (!fs.existsSync(ignore)) return fail(`${path.relative(repo, ignore)} is missing: COPY . . would send build/ to the daemon`);
    const lines = readText(ignore).split("\n").map((l) => l.trim());
    for (const p of ["build", ".git", ".docket"]) if (!lines.includes(p)) fail(`${path.relative(repo, ignore)} does not exclude ${p}`);
  });
  return stages;
}

// ldd of every built binary, mapped to Debian packages, against the runtime list.
// Returns "skip" (with a reason) when the binaries are not built.
export function checkRuntimeLibraries(report, { buildDir, dockerfile = path.join(REPO, "deploy", "docker", "Dockerfile") }) {
  const missing = Object.values(BINARIES).filter((b) => !fs.existsSync(path.join(buildDir, b)));
  if (missing.length) return { skip: `binaries not built in ${buildDir}: ${missing.join(", ")}` };
  const listed = new Set(aptPackages(parseDockerfile(readText(dockerfile)).at(-1)));
  const needed = new Map(); // package -> binaries
  report.check("ldd: every shared library of every binary resolves", (fail) => {
    const libsOf = new Map(); // binary -> [library paths]
    for (const [name, rel] of Object.entries(BINARIES)) {
      const r = run("ldd", [path.join(buildDir, rel)]);
      if (r.status !== 0) {
        fail(`ldd ${rel}: ${r.stderr.trim()}`);
        continue;
      }
      const libs = [];
      for (const line of r.stdout.split("\n")) {
        if (/not found/.test(line)) fail(`${name}: ${line.trim()}`);
        const m = line.match(/=>\s+(\/\S+)/) ?? line.match(/^\s*(\/\S+)\s+\(/);
        if (m) libs.push(m[1]);
      }
      libsOf.set(name, libs);
    }
    // One dpkg -S for every candidate path: the path, its target, and the
    // other side of the /usr merge (/lib/x -> /usr/lib/x), as dpkg knows one.
    const candidates = new Map(); // library -> [paths]
    for (const lib of new Set([...libsOf.values()].flat())) {
      const paths = new Set([lib, fs.realpathSync(lib)]);
      for (const p of [...paths]) paths.add(p.startsWith("/usr/") ? p.slice(4) : `/usr${p}`);
      candidates.set(lib, [...paths]);
    }
    const owner = new Map(); // path -> package
    const d = run("dpkg", ["-S", ...new Set([...candidates.values()].flat())]);
    for (const line of d.stdout.split("\n")) {
      const m = line.match(/^([^:]+?)(?::[a-z0-9]+)?(?:, [^:]+)*: (\/.*)$/);
      if (m) owner.set(m[2], m[1]);
    }
    for (const [name, libs] of libsOf) {
      for (const lib of libs) {
        const pkg = candidates.get(lib).map((p) => owner.get(p)).find(Boolean);
        if (!pkg) {
          fail(`${name}: ${lib} belongs to no Debian package (built by hand?)`);
          continue;
        }
        if (!needed.has(pkg)) needed.set(pkg, new Set());
        needed.get(pkg).add(name);
      }
    }
  });
  report.check("Dockerfile: the runtime package list covers what ldd needs", (fail) => {
    for (const [pkg, bins] of needed) {
      if (!listed.has(pkg) && !ESSENTIAL.has(pkg)) fail(`${pkg} (needed by ${[...bins].join(", ")}) is not installed in the runtime stage`);
    }
  });
  report.check("Dockerfile: the runtime package list has nothing the binaries do not load", (fail) => {
    for (const pkg of listed) {
      if (!needed.has(pkg) && !DATA_PACKAGES.has(pkg)) fail(`${pkg} is installed but no binary loads it`);
    }
  });
  return { needed };
}

export function checkCompose(report, { compose = path.join(REPO, "deploy", "docker", "compose.yaml"), repo = REPO } = {}) {
  let doc;
  if (!report.check("compose.yaml parses", () => { doc = loadYamlFile(compose)[0]; })) return;
  const svc = serviceFacts(repo);
  const keys = configKeys(repo);
  const topics = topicSuffixes(repo);
  const ctl = docketctlTargets(repo);
  const dir = path.dirname(compose);
  report.check("compose: Kafka (KRaft), Redis, the four services, Prometheus and Grafana", (fail) => {
    for (const s of ["kafka", "redis", ...SERVICES, "prometheus", "grafana"]) if (!doc.services?.[s]) fail(`no service ${s}`);
    const k = doc.services?.kafka?.environment ?? {};
    if (!String(k.KAFKA_PROCESS_ROLES ?? "").includes("controller")) fail("kafka: KAFKA_PROCESS_ROLES must include controller (KRaft)");
    const init = JSON.stringify(doc.services?.["kafka-init"] ?? {});
    for (const t of Object.values(topics)) {
      const [name] = t.split(".");
      if (!init.includes(name)) fail(`kafka-init does not create docket.${t}`);
    }
  });
  report.check("compose: each service runs its binary with ports, variables and health checks that agree with the code", (fail) => {
    for (const s of SERVICES) {
      const c = doc.services?.[s];
      if (!c) continue;
      const f = svc[s];
      if (c.command?.[0] !== `docket-${s}`) fail(`${s}: command ${c.command} is not docket-${s}`);
      if (!String(c.image).startsWith("ghcr.io/docket/docket:")) fail(`${s}: image ${c.image}`);
      if (c.build?.dockerfile !== "deploy/docker/Dockerfile" || path.resolve(dir, c.build?.context ?? "") !== repo) {
        fail(`${s}: build must be deploy/docker/Dockerfile with the repository root as context`);
      }
      const env = c.environment ?? {};
      for (const k of Object.keys(env)) if (k.startsWith("DOCKET_") && !keys.has(k)) fail(`${s}: unknown variable ${k}`);
      if (portOf(env.DOCKET_GRPC_LISTEN) !== f.grpcPort) fail(`${s}: DOCKET_GRPC_LISTEN ${env.DOCKET_GRPC_LISTEN}, the service's port is ${f.grpcPort}`);
      if (portOf(env.DOCKET_METRICS_LISTEN) !== f.metricsPort) fail(`${s}: DOCKET_METRICS_LISTEN ${env.DOCKET_METRICS_LISTEN}, the service's port is ${f.metricsPort}`);
      for (const k of ["DOCKET_KAFKA_BROKERS", "DOCKET_REDIS_URL", "DOCKET_CONFIG_DIR"]) if (!env[k]) fail(`${s}: ${k} is not set`);
      const hc = (c.healthcheck?.test ?? []).join(" ");
      if (!hc.includes(`--${ctl[s]}=127.0.0.1:${f.grpcPort}`)) fail(`${s}: healthcheck should run docketctl health --${ctl[s]}=127.0.0.1:${f.grpcPort}`);
      if (c.user !== "10001:10001") fail(`${s}: user ${c.user}, expected 10001:10001 (the image's)`);
      if (c.read_only !== true) fail(`${s}: read_only must be true`);
      if (!(c.cap_drop ?? []).includes("ALL")) fail(`${s}: cap_drop must include ALL`);
    }
  });
  report.check("compose: every bind-mounted path exists; Grafana's datasource uid is the boards' default", (fail) => {
    for (const [name, c] of Object.entries(doc.services ?? {})) {
      for (const v of c.volumes ?? []) {
        const src = String(v).split(":")[0];
        if (src.startsWith(".") && !fs.existsSync(path.resolve(dir, src))) fail(`${name}: volume source ${src} does not exist`);
      }
    }
    const dsDir = path.join(repo, "deploy", "grafana", "provisioning", "datasources");
    if (!fs.existsSync(dsDir)) return;
    const uids = fs.readdirSync(dsDir).filter((f) => /\.ya?ml$/.test(f))
      .flatMap((f) => (loadYamlFile(path.join(dsDir, f))[0]?.datasources ?? []).map((d) => d.uid));
    const mine = (loadYamlDocs(doc.configs?.["grafana-datasource"]?.content ?? "", "configs.grafana-datasource")[0]?.datasources ?? [])
      .map((d) => d.uid);
    for (const uid of uids) if (!mine.includes(uid)) fail(`the compose datasource has no uid ${uid} (deploy/grafana's)`);
  });
  report.check("compose: Prometheus scrapes every service under its Kubernetes job name and loads Docket's rules", (fail) => {
    const content = doc.configs?.prometheus?.content;
    if (!content) return fail("configs.prometheus.content is missing");
    let prom;
    try {
      prom = loadYamlDocs(content, "configs.prometheus")[0];
    } catch (e) {
      return fail(e.message);
    }
    if (!prom) return;
    for (const s of SERVICES) {
      const job = (prom.scrape_configs ?? []).find((j) => j.job_name === `docket-${s}`);
      const targets = (job?.static_configs ?? []).flatMap((x) => x.targets ?? []);
      if (!targets.includes(`${s}:${svc[s].metricsPort}`)) fail(`no scrape job docket-${s} with target ${s}:${svc[s].metricsPort}`);
    }
    const mounts = (doc.services?.prometheus?.volumes ?? []).map(String);
    const rulesMount = mounts.find((m) => m.startsWith("../prometheus:"));
    if (!rulesMount) return fail("deploy/prometheus is not mounted into Prometheus");
    const target = rulesMount.split(":")[1];
    for (const rf of prom.rule_files ?? []) if (!rf.startsWith(target)) fail(`rule_files ${rf} is outside the mounted ${target}`);
    if (!(prom.rule_files ?? []).length) fail("no rule_files");
  });
}
