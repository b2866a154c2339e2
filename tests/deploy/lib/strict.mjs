// Unknown fields: the JSON schemas in kubernetes-models do not forbid extra
// properties, so a misspelt field (`topologySpreadConstraint`) would pass them
// and be dropped silently by the API server. The same packages ship TypeScript
// interfaces; type-checking every rendered object as an object literal of its
// interface makes TypeScript's excess-property check report such fields.
import path from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const HERE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const PACKAGES = {
  "keda.sh": "@kubernetes-models/keda",
  "monitoring.coreos.com": "@kubernetes-models/prometheus-operator",
};

function typeModule(apiVersion, kind) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  if (group.endsWith("strimzi.io")) return null; // no typed package on npm
  if (group === "") return `kubernetes-models/${version}/${kind}`;
  return PACKAGES[group] ? `${PACKAGES[group]}/${group}/${version}/${kind}` : `kubernetes-models/${group}/${version}/${kind}`;
}

// sets: [{name, objs}]; returns {name -> [messages]}.
export function unknownFields(sets) {
  const files = new Map(); // virtual path -> {text, spans: [{line, label}], name}
  for (const { name, objs } of sets) {
    let text = "";
    let line = 0;
    const spans = [];
    objs.forEach((o, i) => {
      const mod = typeModule(o.apiVersion, o.kind);
      if (!mod) return;
      const body = `import type { I${o.kind} as T${i} } from "${mod}";\nexport const o${i}: T${i} = ${JSON.stringify(o, null, 1)};\n`;
      spans.push({ line, label: `${o.kind}/${o.metadata?.name}` });
      text += body;
      line += body.split("\n").length - 1;
    });
    files.set(path.join(HERE, `__rendered_${name.replace(/\W/g, "_")}__.ts`), { text, spans, name });
  }
  const options = {
    strict: true, noEmit: true, skipLibCheck: true, types: [],
    module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, target: ts.ScriptTarget.ES2022,
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (f, lang, ...rest) => (files.has(f) ? ts.createSourceFile(f, files.get(f).text, lang) : getSourceFile(f, lang, ...rest));
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (f) => files.has(f) || fileExists(f);
  const readFile = host.readFile.bind(host);
  host.readFile = (f) => (files.has(f) ? files.get(f).text : readFile(f));
  const program = ts.createProgram([...files.keys()], options, host);
  const out = Object.fromEntries(sets.map((s) => [s.name, []]));
  for (const d of ts.getPreEmitDiagnostics(program)) {
    const msg = ts.flattenDiagnosticMessageText(d.messageText, " ");
    const f = d.file && files.get(d.file.fileName);
    if (!f) {
      for (const k of Object.keys(out)) out[k].push(`TypeScript: ${msg}`);
      continue;
    }
    const { line } = d.file.getLineAndCharacterOfPosition(d.start ?? 0);
    const span = [...f.spans].reverse().find((s) => s.line <= line);
    out[f.name].push(`${span?.label ?? "?"}: ${msg}`);
  }
  return out;
}
