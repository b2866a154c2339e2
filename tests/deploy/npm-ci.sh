#!/usr/bin/env bash
# Installs the deploy tests' npm packages (package-lock.json, exact versions)
# into tests/deploy/node_modules. Does nothing when they are installed from
# the current lock file; otherwise `npm ci`, preferring npm's cache so that
# only the first run on a machine downloads. node_modules is never committed.
# On a machine with neither kubectl nor kustomize, it also builds kustomize
# with Go into ~/.cache/docket/bin (where the checks look for it).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

kustomize_version=v5.5.0
bin_dir=${XDG_CACHE_HOME:-$HOME/.cache}/docket/bin
if ! command -v kubectl >/dev/null && ! command -v kustomize >/dev/null && [[ ! -x $bin_dir/kustomize ]]; then
  if command -v go >/dev/null; then
    echo "npm-ci: no kubectl or kustomize; building kustomize $kustomize_version with Go into $bin_dir" >&2
    GOBIN=$bin_dir go install "sigs.k8s.io/kustomize/kustomize/v5@$kustomize_version"
  else
    echo "npm-ci: warning: neither kubectl nor kustomize (nor Go to build it) is installed" >&2
  fi
fi
command -v node >/dev/null || { echo "npm-ci: node is not installed (Debian: nodejs)" >&2; exit 1; }
command -v npm >/dev/null || { echo "npm-ci: npm is not installed (Debian: npm)" >&2; exit 1; }
stamp="$here/node_modules/.docket-lock.sha256"
want=$(sha256sum "$here/package-lock.json" | cut -d' ' -f1)
if [[ -f $stamp && $(cat "$stamp") == "$want" ]]; then
  echo "npm-ci: node_modules is up to date"
  exit 0
fi
# One install at a time, even when several ctest runs start together.
exec 9>"${TMPDIR:-/tmp}/docket-npm-ci-$(printf %s "$here" | sha256sum | cut -c1-12).lock"
flock 9
if [[ -f $stamp && $(cat "$stamp") == "$want" ]]; then exit 0; fi
npm ci --prefix "$here" --no-audit --no-fund --prefer-offline --loglevel=error
echo "$want" > "$stamp"
echo "npm-ci: installed $(ls "$here/node_modules" | wc -l) packages"
