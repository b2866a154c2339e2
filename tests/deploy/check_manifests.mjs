#!/usr/bin/env node
// ctest deploy_manifests: renders k8s/ (base, dev, prod, prod+tls) and checks
// schemas and conventions. Usage: node check_manifests.mjs [--k8s=DIR]
import { checkManifests } from "./lib/manifests.mjs";

const arg = process.argv.find((a) => a.startsWith("--k8s="));
const report = await checkManifests(arg ? { k8sDir: arg.slice(6) } : {});
process.exit(report.print());
