// Shared by the deploy checks: a failure collector, rendering with kustomize,
// YAML loading, and the facts the manifests must agree with, read from the
// C++ sources (so a renamed port, health name or variable fails a check).
import { execFile, execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import YAML from "yaml";

export const REPO = path.resolve(
  process.env.DOCKET_SOURCE_DIR || path.join(path.dirname(fileURLToPath(import.meta.url)), "../../.."),
);

export const SERVICES = ["intake", "processing", "compliance", "metrics"];

// The topics each service consumes (DESIGN.md, "Services and what each owns").
export const CONSUMES = {
  intake: ["intake"],
  processing: ["work", "compliance"],
  compliance: ["work"],
  metrics: ["work", "compliance"],
};

// Collects the outcome of named checks; a check fails with one or more messages.
export class Report {
  constructor(title) {
    this.title = title;
    this.results = []; // {name, errors: []}
  }
  check(name, fn) {
    const errors = [];
    try {
      fn((msg) => errors.push(msg));
    } catch (e) {
      errors.push(`threw: ${e && e.stack ? e.stack.split("\n").slice(0, 3).join(" | ") : e}`);
    }
    this.results.push({ name, errors });
    return errors.length === 0;
  }
  get failures() {
    return this.results.filter((r) => r.errors.length > 0);
  }
  // Prints every check and a closing "N passed, N failed" line; returns the exit code.
  print() {
    for (const r of this.results) {
      if (r.errors.length === 0) {
        console.log(`ok   ${r.name}`);
      } else {
        console.log(`FAIL ${r.name}`);
        for (const e of r.errors) console.log(`       ${e}`);
      }
    }
    const failed = this.failures.length;
    console.log(`${this.title}: ${this.results.length - failed} passed, ${failed} failed`);
    return failed === 0 ? 0 : 1;
  }
}

export function readText(p) {
  return fs.readFileSync(p, "utf8");
}

export function loadYamlDocs(text, where) {
  const docs = YAML.parseAllDocuments(text, { uniqueKeys: true, merge: true });
  const out = [];
  for (const d of docs) {
    if (d.errors.length) throw new Error(`${where}: ${d.errors[0].message}`);
    const v = d.toJS({ maxAliasCount: 100 });
    if (v != null) out.push(v);
  }
  return out;
}

export function loadYamlFile(p) {
  return loadYamlDocs(readText(p), p);
}

// The kustomize to use: `kubectl kustomize` (preferred) or a standalone kustomize.
function kustomizeCommand() {
  const cached = path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache"), "docket", "bin", "kustomize");
  for (const [bin, args] of [["kubectl", ["kustomize"]], ["kustomize", ["build"]], [cached, ["build"]]]) {
    const r = spawnSync(bin, [...args, "--help"], { encoding: "utf8" });
    if (r.status === 0) return [bin, args];
  }
  throw new Error(
    "neither `kubectl kustomize` nor `kustomize` is installed (tests/deploy/npm-ci.sh builds kustomize " +
      "when Go is installed; or install kubectl)",
  );
}

let kustomize;
export function render(dir) {
  kustomize ??= kustomizeCommand();
  const [bin, args] = kustomize;
  const r = spawnSync(bin, [...args, dir], { encoding: "utf8", maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${bin} ${args.join(" ")} ${dir} failed: ${r.stderr.trim()}`);
  return loadYamlDocs(r.stdout, `render of ${dir}`);
}

// As render(), without blocking: several renders can run at once.
export function renderAsync(dir) {
  kustomize ??= kustomizeCommand();
  const [bin, args] = kustomize;
  return new Promise((resolve, reject) => {
    execFile(bin, [...args, dir], { encoding: "utf8", maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${bin} ${args.join(" ")} ${dir} failed: ${String(stderr).trim() || err.message}`));
      else {
        try {
          resolve(loadYamlDocs(stdout, `render of ${dir}`));
        } catch (e) {
          reject(e);
        }
      }
    });
  });
}

// A scratch copy of k8s/ with an extra variant (prod + the TLS component), so
// the checks see every shipped combination; `mutate(dir)` may break the copy.
export function stageK8s(k8sDir, mutate) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "docket-k8s-"));
  const dir = path.join(tmp, "k8s");
  fs.cpSync(k8sDir, dir, { recursive: true });
  for (const [overlay, component] of [["prod-tls", "tls"], ["prod-kafka-principals", "kafka-principal-per-service"], ["prod-redis-tls", "redis-tls"]]) {
    fs.mkdirSync(path.join(dir, "overlays", overlay));
    fs.writeFileSync(
      path.join(dir, "overlays", overlay, "kustomization.yaml"),
      `resources:\n  - ../prod\ncomponents:\n  - ../../components/${component}\n`,
    );
  }
  if (mutate) mutate(dir);
  return { dir, cleanup: () => fs.rmSync(tmp, { recursive: true, force: true }) };
}

// --- Facts from the sources -------------------------------------------------

// {intake: {grpcPort, metricsPort, healthNames: [...]}, ...}
export function serviceFacts(repo = REPO) {
  const out = {};
  for (const s of SERVICES) {
    const hdr = path.join(repo, "services", s, "src", "app.h");
    const m = readText(hdr).match(/kDefaults\s*\{\s*"([a-z]+)"\s*,\s*(\d+)\s*,\s*(\d+)\s*(?:,\s*\d+\s*)?\}/);
    if (!m || m[1] !== s) throw new Error(`${hdr}: cannot find kDefaults{"${s}", <grpc port>, <metrics port>[, <consumer threads>]}`);
    const srcDir = path.join(repo, "services", s, "src");
    const healthNames = new Set();
    for (const f of fs.readdirSync(srcDir).filter((f) => f.endsWith(".cc"))) {
      for (const h of readText(path.join(srcDir, f)).matchAll(/AddGrpcService\([^;]*?"(docket\.v1\.[A-Za-z]+)"\s*\)/g)) {
        healthNames.add(h[1]);
      }
    }
    if (healthNames.size === 0) throw new Error(`${srcDir}: no AddGrpcService(..., "docket.v1.X") found`);
    out[s] = { grpcPort: Number(m[2]), metricsPort: Number(m[3]), healthNames: [...healthNames] };
  }
  return out;
}

// Every DOCKET_* variable the services read (common/config/service_config.cc),
// plus DOCKET_REVISION (read by the runtime for docket_build_info).
export function configKeys(repo = REPO) {
  const f = path.join(repo, "common", "config", "service_config.cc");
  const keys = new Set([...readText(f).matchAll(/\{"(DOCKET_[A-Z_]+)",/g)].map((m) => m[1]));
  if (keys.size < 5) throw new Error(`${f}: cannot read ServiceConfigKeys()`);
  keys.add("DOCKET_REVISION");
  return keys;
}

// Topic suffixes, e.g. {intake: "intake.v1", ...} from common/kafka/kafka_config.h.
export function topicSuffixes(repo = REPO) {
  const f = path.join(repo, "common", "kafka", "kafka_config.h");
  const out = {};
  for (const m of readText(f).matchAll(/std::string (\w+)\(\) const \{ return prefix_ \+ "([^"]+)"; \}/g)) {
    out[m[1]] = m[2];
  }
  for (const t of ["intake", "work", "compliance", "audit", "dlq"]) {
    if (!out[t]) throw new Error(`${f}: no Topics::${t}()`);
  }
  return out;
}

// The binaries CMake builds: docket_binary / docket_service / add_executable(name ...).
export function cmakeBinaries(repo = REPO) {
  const out = new Set();
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      if (e.name.startsWith(".") || e.name === "node_modules" || /^build/.test(e.name)) continue;
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name === "CMakeLists.txt") {
        for (const m of readText(p).matchAll(/(?:docket_binary|docket_service|add_executable)\(\s*([A-Za-z0-9_-]+)/g)) out.add(m[1]);
      }
    }
  };
  for (const d of ["services", "tools"]) walk(path.join(repo, d));
  return out;
}

// docketctl's endpoint variable per service (tools/docketctl/src/settings.cc).
export function docketctlTargets(repo = REPO) {
  const f = path.join(repo, "tools", "docketctl", "src", "settings.cc");
  const out = {};
  for (const m of readText(f).matchAll(/\{Service::k[A-Za-z]+,\s*"([a-z]+)",\s*"[a-z-]+",\s*"(DOCKET_[A-Z_]+_ADDR)",\s*"([^"]+)"\}/g)) out[m[1]] = m[2];
  return out;
}

export function portOf(hostPort) {
  const m = String(hostPort).match(/:(\d+)$/);
  return m ? Number(m[1]) : undefined;
}

// Kubernetes quantities to numbers (cores / bytes), enough for requests <= limits.
export function quantity(q) {
  const m = String(q).match(/^([0-9.]+)([a-zA-Z]*)$/);
  if (!m) return NaN;
  const units = { "": 1, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4 };
  return m[2] in units ? Number(m[1]) * units[m[2]] : NaN;
}

export function matchesSelector(selector, labels) {
  if (!selector) return false;
  labels ??= {};
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, e.key);
    if (e.operator === "In" && !(has && e.values.includes(labels[e.key]))) return false;
    if (e.operator === "NotIn" && has && e.values.includes(labels[e.key])) return false;
    if (e.operator === "Exists" && !has) return false;
    if (e.operator === "DoesNotExist" && has) return false;
  }
  return true;
}

export function run(bin, args, opts = {}) {
  return spawnSync(bin, args, { encoding: "utf8", maxBuffer: 64 << 20, ...opts });
}

export function which(bin) {
  try {
    return execFileSync("sh", ["-c", `command -v ${bin}`], { encoding: "utf8" }).trim() || null;
  } catch {
    return null;
  }
}
