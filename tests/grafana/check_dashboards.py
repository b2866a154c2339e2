#!/usr/bin/env python3
"""Checks Docket's Grafana boards (deploy/grafana) without a Grafana:

- every board is valid JSON with a unique uid, a schemaVersion and unique
  panel ids (rows' nested panels included);
- every panel and query uses the provisioned Prometheus datasource
  (uid docket-prometheus, directly or through the `datasource` variable whose
  default it is), and the provisioning file declares that uid;
- every PromQL expression (panels and variable queries, with the template
  variables substituted) parses: each is wrapped as a recording rule in a
  temporary file that `promtool check rules` must accept;
- every metric an expression names is one Docket exports
  (tests/grafana/metrics_contract.txt) or a recording rule in
  deploy/prometheus/rules/, and every label it matches on, groups by or shows
  in a legend exists on those metrics. So a typo fails here instead of
  drawing an empty panel.

  check_dashboards.py [--repo DIR] [--promtool PATH]   check the boards
  check_dashboards.py --selftest                       prove each check catches its fault
Python 3 standard library only.
"""
import argparse
import copy
import glob
import json
import os
import re
import subprocess
import sys
import tempfile

DATASOURCE_UID = "docket-prometheus"
DATASOURCE_VARIABLE = "${datasource}"
# Labels every scraped series has (scrape target labels).
TARGET_LABELS = {"job", "instance"}
# Grafana's built-in variables, as a valid PromQL stand-in.
BUILTINS = {"__rate_interval": "5m", "__interval": "1m", "__range": "1h", "__range_s": "3600",
            "__range_ms": "3600000", "__interval_ms": "60000"}
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
            "bool", "offset", "atan2", "inf", "nan", "Inf", "NaN"}
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


def load_contract(path):
    """name -> (type, set of labels) from metrics_contract.txt."""
    metrics = {}
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.split("#", 1)[0].split()
            if not line:
                continue
            if len(line) < 2:
                raise SystemExit(f"{path}:{n}: expected: name type [labels...]")
            metrics[line[0]] = (line[1], set(line[2:]))
    return metrics


def load_recording_rules(rules_dir):
    """record name -> labels its rules set (the generated rules aggregate
    everything else away)."""
    records = {}
    for path in sorted(glob.glob(os.path.join(rules_dir, "*.y*ml"))):
        current, in_labels, labels_indent = None, False, 0
        with open(path, encoding="utf-8") as f:
            for line in f:
                m = re.match(r"^(\s*)- (record|alert):\s*(\S+)", line)
                if m:
                    current = m.group(3) if m.group(2) == "record" else None
                    if current:
                        records.setdefault(current, set())
                    in_labels = False
                    continue
                m = re.match(r"^(\s*)labels:\s*$", line)
                if m and current:
                    in_labels, labels_indent = True, len(m.group(1))
                    continue
                m = re.match(r"^(\s*)([A-Za-z_][A-Za-z0-9_]*):", line)
                if in_labels and m and len(m.group(1)) > labels_indent:
                    records[current].add(m.group(2))
                elif in_labels and line.strip():
                    in_labels = False
    return records


def substitute(expr, variables):
    """Template variables -> values PromQL accepts where Docket's boards use them
    (interval built-ins in ranges, the others inside regex matchers)."""
    def value(name):
        return BUILTINS.get(name, ".*")
    expr = re.sub(r"\$\{(\w+)(?::\w+)?\}", lambda m: value(m.group(1)), expr)
    expr = re.sub(r"\[\[(\w+)\]\]", lambda m: value(m.group(1)), expr)
    return re.sub(r"\$(\w+)", lambda m: value(m.group(1)), expr)


def names_in(expr):
    """(metric selectors [(name, {matcher labels})], grouping labels) of a PromQL
    expression. Good enough for the boards' own expressions; promtool is the
    judge of syntax."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"'(?:[^'\\]|\\.)*'", "''", text)
    grouping = set()
    for m in re.finditer(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)", text):
        grouping |= {g.strip() for g in m.group(2).split(",") if g.strip()}
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)  # ranges and subqueries
    selectors = []
    token = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*|\{[^}]*\}|\d+(?:\.\d+)?(?:e[+-]?\d+)?|.", re.S)
    tokens = [t.group(0) for t in token.finditer(text)]
    i = 0
    while i < len(tokens):
        t = tokens[i]
        if re.match(r"[A-Za-z_:]", t):
            j = i + 1
            while j < len(tokens) and tokens[j].isspace():
                j += 1
            nxt = tokens[j] if j < len(tokens) else ""
            if nxt == "(" or t in KEYWORDS:
                i += 1
                continue
            labels = set()
            if nxt.startswith("{"):
                labels = matcher_labels(nxt)
                i = j
            selectors.append((t, labels))
        elif t.startswith("{"):
            pass  # a selector without a metric name: nothing to look up
        i += 1
    return selectors, grouping


def matcher_labels(braces):
    return set(re.findall(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)", braces[1:-1]))


def lookup(name, contract, records):
    """The labels of metric `name`, or None if Docket has no such metric."""
    if name in records:
        return set(records[name])
    if name in contract:
        kind, labels = contract[name]
        return set(labels) | TARGET_LABELS if kind != "histogram" else None
    for suffix in HISTOGRAM_SUFFIXES:
        base = name[: -len(suffix)] if name.endswith(suffix) else None
        if base and base in contract and contract[base][0] == "histogram":
            extra = {"le"} if suffix == "_bucket" else set()
            return set(contract[base][1]) | TARGET_LABELS | extra
    return None


def walk_panels(panels):
    for p in panels or []:
        yield p
        yield from walk_panels(p.get("panels"))


class Checker:
    def __init__(self, repo, promtool="promtool"):
        self.repo = repo
        self.promtool = promtool
        self.contract = load_contract(os.path.join(repo, "tests", "grafana", "metrics_contract.txt"))
        self.records = load_recording_rules(os.path.join(repo, "deploy", "prometheus", "rules"))

    def boards(self):
        out = {}
        for path in sorted(glob.glob(os.path.join(self.repo, "deploy", "grafana", "**", "*.json"),
                                     recursive=True)):
            rel = os.path.relpath(path, self.repo)
            with open(path, encoding="utf-8") as f:
                text = f.read()
            try:
                out[rel] = json.loads(text)
            except json.JSONDecodeError as e:
                out[rel] = e
        return out

    def check_provisioning(self):
        problems = []
        path = os.path.join(self.repo, "deploy", "grafana", "provisioning", "datasources", "docket.yaml")
        try:
            text = open(path, encoding="utf-8").read()
        except OSError as e:
            return [f"{path}: {e}"]
        if not re.search(r"^\s*uid:\s*['\"]?" + re.escape(DATASOURCE_UID) + r"['\"]?\s*$", text, re.M):
            problems.append(f"{os.path.relpath(path, self.repo)}: no datasource with uid {DATASOURCE_UID}")
        if not re.search(r"^\s*type:\s*prometheus\s*$", text, re.M):
            problems.append(f"{os.path.relpath(path, self.repo)}: the datasource is not of type prometheus")
        dash = os.path.join(self.repo, "deploy", "grafana", "provisioning", "dashboards", "docket.yaml")
        if not os.path.exists(dash):
            problems.append(f"{os.path.relpath(dash, self.repo)} is missing")
        return problems

    def check(self, boards):
        """Every problem of `boards` (file -> parsed JSON), as lines; [] if none."""
        problems, exprs, uids = [], [], {}
        for rel, board in boards.items():
            if isinstance(board, Exception):
                problems.append(f"{rel}: not valid JSON: {board}")
                continue
            problems += self.check_board(rel, board, exprs, uids)
        problems += self.check_promql(exprs)
        return problems

    def check_board(self, rel, board, exprs, uids):
        problems = []
        where = rel
        if not isinstance(board, dict) or "panels" not in board:
            return [f"{rel}: not a dashboard (no panels)"]
        uid = board.get("uid")
        if not uid:
            problems.append(f"{where}: no uid (provisioned boards need a stable one)")
        elif uid in uids:
            problems.append(f"{where}: uid {uid} is also the uid of {uids[uid]}")
        else:
            uids[uid] = rel
        if not isinstance(board.get("schemaVersion"), int) or board["schemaVersion"] < 36:
            problems.append(f"{where}: schemaVersion must be 36 or later, got {board.get('schemaVersion')}")
        if not board.get("title"):
            problems.append(f"{where}: no title")

        variables = {v.get("name"): v for v in board.get("templating", {}).get("list", [])}
        ds = variables.get("datasource")
        if ds is not None:
            if ds.get("type") != "datasource" or ds.get("query") != "prometheus":
                problems.append(f"{where}: variable datasource must be a prometheus datasource variable")
            elif (ds.get("current") or {}).get("value") != DATASOURCE_UID:
                problems.append(f"{where}: variable datasource must default to {DATASOURCE_UID}")

        def datasource_ok(d, what):
            allowed = {DATASOURCE_UID} | ({DATASOURCE_VARIABLE} if ds is not None else set())
            if not isinstance(d, dict) or d.get("type") != "prometheus" or d.get("uid") not in allowed:
                problems.append(f"{what}: datasource must be {{type: prometheus, uid: "
                                f"{' or '.join(sorted(allowed))}}}, got {json.dumps(d)}")

        for name, v in variables.items():
            if v.get("type") != "query":
                continue
            what = f"{where}: variable {name}"
            datasource_ok(v.get("datasource"), what)
            q = v.get("query")
            q = q.get("query", "") if isinstance(q, dict) else (q or "")
            m = re.match(r"^\s*label_values\((.*),\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)\s*$", q, re.S)
            if m:
                exprs.append((what, substitute(m.group(1), variables), {m.group(2)}))
            elif q.strip():
                exprs.append((what, substitute(q, variables), set()))

        ids = {}
        for p in walk_panels(board["panels"]):
            pid = p.get("id")
            what = f"{where}: panel {pid} \"{p.get('title', '')}\""
            if not isinstance(pid, int):
                problems.append(f"{what}: id must be an integer")
            elif pid in ids:
                problems.append(f"{what}: id {pid} is also the id of panel \"{ids[pid]}\"")
            else:
                ids[pid] = p.get("title", "")
            if "gridPos" not in p:
                problems.append(f"{what}: no gridPos")
            if p.get("type") == "row":
                continue
            datasource_ok(p.get("datasource"), what)
            if not p.get("targets"):
                problems.append(f"{what}: no queries")
            for t in p.get("targets", []):
                twhat = f"{what} query {t.get('refId')}"
                datasource_ok(t.get("datasource", p.get("datasource")), twhat)
                expr = t.get("expr", "")
                if not expr.strip():
                    problems.append(f"{twhat}: empty expr")
                    continue
                legend = set(re.findall(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}", t.get("legendFormat", "")))
                exprs.append((twhat, substitute(expr, variables), legend))
        return problems

    def check_names(self, what, expr, shown):
        problems = []
        selectors, grouping = names_in(expr)
        available = set()
        for name, matchers in selectors:
            labels = self.lookup(name)
            if labels is None:
                problems.append(f"{what}: {name} is neither a metric Docket exports "
                                f"(tests/grafana/metrics_contract.txt) nor a recording rule "
                                f"(deploy/prometheus/rules/)")
                continue
            available |= labels
            for label in matchers - labels - {"__name__"}:
                problems.append(f"{what}: {name} has no label {label} (it has: {', '.join(sorted(labels))})")
        if selectors and not problems:
            for label in (grouping | shown) - available:
                problems.append(f"{what}: label {label} is on none of its metrics "
                                f"({', '.join(sorted(n for n, _ in selectors))})")
        return problems

    def lookup(self, name):
        return lookup(name, self.contract, self.records)

    def check_promql(self, exprs):
        problems = []
        for what, expr, shown in exprs:
            problems += self.check_names(what, expr, shown)
        if not exprs:
            return problems
        # One group per expression, so promtool's message names it.
        groups = [{"name": what, "rules": [{"record": "docket_grafana_check", "expr": expr}]}
                  for what, expr, _ in exprs]
        seen = {}
        for g in groups:  # group names must be unique
            seen[g["name"]] = seen.get(g["name"], 0) + 1
            if seen[g["name"]] > 1:
                g["name"] += f" #{seen[g['name']]}"
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            json.dump({"groups": groups}, f, indent=1)  # JSON is YAML
            path = f.name
        try:
            r = subprocess.run([self.promtool, "check", "rules", path], capture_output=True, text=True)
        except FileNotFoundError:
            return problems + [f"{self.promtool} not found: run tools/install-deps.sh --test "
                               "(Debian package prometheus)"]
        finally:
            os.unlink(path)
        if r.returncode != 0:
            problems.append("promtool check rules rejects a board's PromQL:\n" +
                            (r.stdout + r.stderr).strip().replace(path, "<board queries>"))
        return problems


def run(args):
    checker = Checker(args.repo, args.promtool)
    boards = checker.boards()
    if len(boards) < 3:
        print(f"expected the operations, compliance and service health boards under deploy/grafana, "
              f"found {len(boards)}")
        return 1
    problems = checker.check_provisioning() + checker.check(boards)
    for p in problems:
        print(f"FAIL {p}")
    queries = sum(len(p.get("targets", [])) for b in boards.values() if isinstance(b, dict)
                  for p in walk_panels(b.get("panels")))
    print(f"{len(boards)} boards, {queries} queries: "
          f"{'ok' if not problems else str(len(problems)) + ' problem(s)'}")
    return 1 if problems else 0


def selftest(args):
    """Each check fails on the fault it exists for."""
    checker = Checker(args.repo, args.promtool)
    boards = checker.boards()
    clean = checker.check(boards)
    failures = []
    if clean:
        failures.append("the shipped boards are not clean: " + "; ".join(clean))

    def first_target(b):
        for p in walk_panels(b["panels"]):
            if p.get("targets"):
                return p, p["targets"][0]
        raise AssertionError("no panel with a query")

    def mutate(name, change, expect):
        mutated = copy.deepcopy(boards)
        rel = sorted(mutated)[0]
        change(mutated[rel])
        got = checker.check(mutated)
        if not any(re.search(expect, p) for p in got):
            failures.append(f"{name}: expected a problem matching /{expect}/, got {got}")

    def typo(b):
        _, t = first_target(b)
        t["expr"] = re.sub(r"\b(docket_\w+?)(_total|_seconds|_bucket)?\b", r"\1x\2", t["expr"], count=1)
    mutate("a misspelt metric", typo, r"x(_total|_seconds|_bucket)? is neither a metric")

    def bad_label(b):
        for p in walk_panels(b["panels"]):
            for t in p.get("targets", []):
                if "{" in t["expr"]:
                    t["expr"] = t["expr"].replace("{", '{grpc_code="OK",', 1)
                    return
    mutate("a label the metric does not have", bad_label, r"has no label grpc_code")

    def bad_legend(b):
        _, t = first_target(b)
        t["legendFormat"] = "{{tennant}}"
    mutate("a legend label no metric has", bad_legend, r"label tennant is on none")

    def duplicate_id(b):
        panels = list(walk_panels(b["panels"]))
        panels[-1]["id"] = panels[1]["id"]
    mutate("a duplicate panel id", duplicate_id, r"is also the id of panel")

    def broken_promql(b):
        _, t = first_target(b)
        t["expr"] = "sum(rate(" + t["expr"]
    mutate("unbalanced PromQL", broken_promql, r"promtool check rules rejects")

    def other_datasource(b):
        p, _ = first_target(b)
        p["datasource"] = {"type": "prometheus", "uid": "someone-elses"}
    mutate("a panel on another datasource", other_datasource, r"datasource must be")

    def no_default(b):
        for v in b["templating"]["list"]:
            if v["name"] == "datasource":
                v["current"] = {"value": "prometheus"}
    mutate("a datasource variable not defaulting to the provisioned uid", no_default,
           r"must default to docket-prometheus")

    def bad_json(b):
        b.clear()
    mutate("a file that is not a dashboard", bad_json, r"not a dashboard")

    for f in failures:
        print(f"FAIL {f}")
    print(f"selftest: {8 - len([f for f in failures if 'shipped' not in f])} of 8 faults caught"
          + ("" if not failures else f"; {len(failures)} failure(s)"))
    return 1 if failures else 0


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", default=os.path.normpath(os.path.join(here, "..", "..")))
    parser.add_argument("--promtool", default="promtool")
    parser.add_argument("--selftest", action="store_true")
    args = parser.parse_args()
    return selftest(args) if args.selftest else run(args)


if __name__ == "__main__":
    sys.exit(main())
