#!/usr/bin/env bash
# The main job: installs the system packages, builds fw-cli and fw-conformance, and runs the whole
# conformance catalog against `fw-cli init` in throwaway network namespaces. Reports land in
# target/conformance/ (report.html, report.md, report.json, report.xml). Extra arguments go to
# `fw-conformance run` (e.g. --filter SEQ- or --level should).
# Needs root (network namespaces); never touches the machine's own network namespace.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup-system.sh
cargo build --release --locked -p fw-cli -p conformance
mkdir -p target/conformance
exec target/release/fw-conformance run \
  --impl "target/release/fw-cli init" \
  --json target/conformance/report.json \
  --junit target/conformance/report.xml \
  --markdown target/conformance/report.md \
  --html target/conformance/report.html \
  "$@"
