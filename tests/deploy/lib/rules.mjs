// Prometheus rules: every rules file under deploy/prometheus and every
// PrometheusRule the overlays render pass `promtool check rules`; alerts carry
// a severity, a summary and a runbook that exists; expressions use metrics
// that the code exports; and the alerts' promtool unit tests pass.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import YAML from "yaml";
import { REPO, Report, loadYamlFile, readText, run, which } from "./common.mjs";
import { renderAll } from "./manifests.mjs";

export function ruleFiles(repo = REPO) {
  const out = [];
  for (const d of [path.join(repo, "deploy", "prometheus"), path.join(repo, "deploy", "prometheus", "rules")]) {
    if (!fs.existsSync(d)) continue;
    for (const f of fs.readdirSync(d).sort()) {
      if (!/\.ya?ml$/.test(f)) continue;
      const p = path.join(d, f);
      if (/^groups:/m.test(readText(p))) out.push(p);
    }
  }
  return out;
}

// GitHub's heading anchors: lowercase, spaces to '-', punctuation dropped.
function anchors(markdown) {
  const out = new Set();
  for (const m of markdown.matchAll(/^#{1,6}\s+(.+?)\s*$/gm)) {
    out.add(m[1].trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, "").replace(/\s/g, "-"));
  }
  return out;
}

// Metric names the C++ code registers or mentions ("docket_..." string literals).
function exportedMetrics(repo) {
  const names = new Set();
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(cc|h)$/.test(e.name)) for (const m of readText(p).matchAll(/"(docket_[a-z0-9_]+)"/g)) names.add(m[1]);
    }
  };
  for (const d of ["common", "services", "tools"]) if (fs.existsSync(path.join(repo, d))) walk(path.join(repo, d));
  return names;
}

function promtool(args) {
  const r = run("promtool", args);
  return { ok: r.status === 0, out: `${r.stdout}${r.stderr}`.trim() };
}

export function checkRules({ repo = REPO, k8sDir = path.join(REPO, "k8s"), mutate, only, extraRuleFiles = [] } = {}) {
  const report = new Report("prometheus rules");
  if (!which("promtool")) {
    report.check("promtool is installed", (fail) => fail("promtool not found: run tools/install-deps.sh --test (Debian package prometheus)"));
    return report;
  }
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "docket-rules-"));
  try {
    // 1. Plain rules files, as compose's Prometheus loads them.
    const sets = []; // {where, groups}
    for (const f of [...ruleFiles(repo), ...extraRuleFiles]) {
      const rel = path.relative(repo, f);
      report.check(`promtool check rules ${rel}`, (fail) => {
        const r = promtool(["check", "rules", f]);
        if (!r.ok) fail(r.out);
      });
      try {
        sets.push({ where: rel, groups: loadYamlFile(f)[0]?.groups ?? [] });
      } catch (e) {
        report.check(`${rel} parses`, (fail) => fail(e.message));
      }
    }
    // 2. PrometheusRule objects of every variant, as the operator loads them.
    let rendered = [];
    report.check("kustomize renders every variant", () => {
      rendered = renderAll({ k8sDir, mutate, only });
    });
    for (const { variant, objs } of rendered) {
      const prs = objs.filter((o) => o.kind === "PrometheusRule");
      report.check(`[${variant.name}] every PrometheusRule passes promtool check rules`, (fail) => {
        if (!prs.length) fail("no PrometheusRule rendered");
        for (const pr of prs) {
          const f = path.join(tmp, `${variant.name.replace(/\W/g, "_")}-${pr.metadata.name}.yaml`);
          fs.writeFileSync(f, YAML.stringify({ groups: pr.spec?.groups ?? [] }));
          const r = promtool(["check", "rules", f]);
          if (!r.ok) fail(`PrometheusRule/${pr.metadata.name}: ${r.out}`);
          else if (!(pr.spec?.groups ?? []).length) fail(`PrometheusRule/${pr.metadata.name}: no groups`);
        }
      });
    }
    // 3. Alert conventions and metric names.
    const docs = new Map();
    const metrics = exportedMetrics(repo);
    const recorded = new Set(sets.flatMap((s) => s.groups.flatMap((g) => (g.rules ?? []).map((r) => r.record).filter(Boolean))));
    report.check("every alert has a severity, a summary and a runbook that exists", (fail) => {
      for (const { where, groups } of sets) {
        for (const g of groups) {
          for (const r of g.rules ?? []) {
            if (!r.alert) continue;
            const w = `${where}: ${r.alert}`;
            if (!["critical", "warning", "info"].includes(r.labels?.severity)) fail(`${w}: labels.severity must be critical, warning or info`);
            if (!r.annotations?.summary) fail(`${w}: annotations.summary is missing`);
            const url = r.annotations?.runbook_url;
            if (!url) {
              fail(`${w}: annotations.runbook_url is missing`);
              continue;
            }
            const m = url.match(/\/((?:docs|deploy)\/[^#]+\.md)#(.+)$/);
            if (!m) continue; // a runbook outside the repository
            const doc = path.join(repo, m[1]);
            if (!fs.existsSync(doc)) {
              fail(`${w}: runbook ${m[1]} does not exist`);
              continue;
            }
            if (!docs.has(doc)) docs.set(doc, anchors(readText(doc)));
            if (!docs.get(doc).has(m[2])) fail(`${w}: ${m[1]} has no section #${m[2]}`);
          }
        }
      }
    });
    report.check("rule expressions use metrics the services export", (fail) => {
      for (const { where, groups } of sets) {
        for (const g of groups) {
          for (const r of g.rules ?? []) {
            for (const m of String(r.expr).matchAll(/\b(docket_[a-z0-9_]+)/g)) {
              const base = m[1].replace(/_(bucket|count|sum)$/, "");
              if (!metrics.has(m[1]) && !metrics.has(base) && !recorded.has(m[1])) {
                fail(`${where}: ${r.alert ?? r.record} uses ${m[1]}, which no service exports`);
              }
            }
          }
        }
      }
    });
    // 4. Unit tests of the alerts.
    const unit = path.join(repo, "tests", "deploy", "rules_test.yaml");
    report.check("promtool test rules tests/deploy/rules_test.yaml", (fail) => {
      const r = promtool(["test", "rules", unit]);
      if (!r.ok) fail(r.out);
    });
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return report;
}
