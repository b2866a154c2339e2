#!/usr/bin/env node
// ctest deploy_container: the Dockerfile and compose.yaml.
// ctest deploy_image_runtime_libs (--ldd): the runtime package list against
// `ldd` of the binaries in $DOCKET_BUILD_DIR; exits 77 (skipped) when they
// are not built.
import path from "node:path";
import { REPO, Report } from "./lib/common.mjs";
import { checkCompose, checkDockerfile, checkRuntimeLibraries } from "./lib/container.mjs";

if (process.argv.includes("--ldd")) {
  const buildDir = path.resolve(process.env.DOCKET_BUILD_DIR || path.join(REPO, "build"));
  const report = new Report("image runtime libraries");
  const r = checkRuntimeLibraries(report, { buildDir });
  if (r.skip) {
    console.log(`[  SKIPPED ] ${r.skip} (build them, or set DOCKET_BUILD_DIR)`);
    process.exit(77);
  }
  process.exit(report.print());
}
const report = new Report("deploy container");
checkDockerfile(report);
checkCompose(report);
process.exit(report.print());
