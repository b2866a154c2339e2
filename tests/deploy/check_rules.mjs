#!/usr/bin/env node
// ctest deploy_prometheus_rules: promtool over every rules file and rendered
// PrometheusRule, alert conventions, and the alerts' unit tests.
import { checkRules } from "./lib/rules.mjs";

process.exit(checkRules().print());
