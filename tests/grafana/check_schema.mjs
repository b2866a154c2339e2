#!/usr/bin/env node
// ctest grafana_dashboards_match_grafana_schema: every board under
// deploy/grafana type-checks as @grafana/schema's Dashboard (the types
// Grafana 11.3 generates from its dashboard schema), with TypeScript's
// excess-property checks: an unknown or misspelt field, or a value of the
// wrong type, fails. String enums are compared by value (`${Enum}`), since
// JSON cannot name a TypeScript enum.
//   node check_schema.mjs [--selftest]   (npm ci --prefix tests/grafana first)
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, "..", "..");
const modules = path.join(here, "node_modules");

function boards() {
  const out = [];
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(".json")) out.push(p);
    }
  };
  walk(path.join(repo, "deploy", "grafana"));
  return out.sort();
}

// Type-checks {name: jsonText}; returns tsc's messages ("" when clean).
function typecheck(sources) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "docket-grafana-schema-"));
  try {
    const files = [];
    for (const [name, json] of Object.entries(sources)) {
      const file = path.join(dir, `${name.replace(/\W/g, "_")}.ts`);
      fs.writeFileSync(file, [
        `// ${name}`,
        'import type { Dashboard } from "@grafana/schema";',
        "type ByValue<T> = T extends string ? `${T}` : T extends Array<infer U> ? Array<ByValue<U>>" +
          " : T extends object ? { [K in keyof T]: ByValue<T[K]> } : T;",
        `export const board: ByValue<Dashboard> = ${json};`,
        "",
      ].join("\n"));
      files.push(file);
    }
    fs.writeFileSync(path.join(dir, "tsconfig.json"), JSON.stringify({
      compilerOptions: {
        strict: true, noEmit: true, target: "es2020", module: "es2020", moduleResolution: "node",
        baseUrl: dir, paths: { "@grafana/schema": [path.join(modules, "@grafana", "schema")] }, types: [],
      },
      files,
    }));
    const tsc = path.join(modules, "typescript", "bin", "tsc");
    const r = spawnSync(process.execPath, [tsc, "-p", path.join(dir, "tsconfig.json")], { encoding: "utf8" });
    if (r.status === 0) return "";
    let out = `${r.stdout}${r.stderr}`;
    for (const [name] of Object.entries(sources)) {
      out = out.split(path.join(dir, `${name.replace(/\W/g, "_")}.ts`)).join(name);
    }
    return out.split(dir + path.sep).join("").trim() || `tsc exited ${r.status}`;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (!fs.existsSync(path.join(modules, "@grafana", "schema"))) {
  console.error("check_schema: @grafana/schema is not installed: npm ci --prefix tests/grafana");
  process.exit(1);
}
const sources = Object.fromEntries(boards().map((f) => [path.relative(repo, f), fs.readFileSync(f, "utf8")]));
if (process.argv.includes("--selftest")) {
  // The check must fail on a misspelt field and on a value of the wrong type.
  const [name, text] = Object.entries(sources)[0];
  const faults = {
    "a misspelt field": text.replace('"gridPos"', '"gridPoz"'),
    "a number written as a string": text.replace(/"schemaVersion": (\d+)/, '"schemaVersion": "$1"'),
    "an unknown threshold mode": text.replace('"mode": "absolute"', '"mode": "absolut"'),
  };
  let failed = 0;
  for (const [fault, mutated] of Object.entries(faults)) {
    if (mutated === text) { console.log(`FAIL ${fault}: could not apply it to ${name}`); failed++; continue; }
    const out = typecheck({ [`${name} with ${fault}`]: mutated });
    if (out) console.log(`ok   ${fault} is caught`);
    else { console.log(`FAIL ${fault} passed the schema check`); failed++; }
  }
  console.log(`selftest: ${Object.keys(faults).length - failed} of ${Object.keys(faults).length} faults caught`);
  process.exit(failed ? 1 : 0);
}
const out = typecheck(sources);
if (out) {
  console.log(out);
  console.log(`${Object.keys(sources).length} boards: do not match @grafana/schema's Dashboard`);
  process.exit(1);
}
console.log(`${Object.keys(sources).length} boards match @grafana/schema's Dashboard (Grafana 11.3)`);
