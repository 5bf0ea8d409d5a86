#!/usr/bin/env bash
# Installs the Debian packages the tests drive for real, and only those missing:
# a CNCF registry (docker-registry), skopeo (pushes OCI layouts without Docker),
# htpasswd (bcrypt for the registry), kubectl, Chromium (the browser demo test) and
# venv support for python3. Needs root (or sudo) when something is missing.
set -euo pipefail
need=()
command -v docker-registry >/dev/null || need+=(docker-registry)
command -v skopeo >/dev/null || need+=(skopeo)
command -v htpasswd >/dev/null || need+=(apache2-utils)
# Debian has no `kubectl` package: its kubectl comes in `kubernetes-client`. Machines
# with Kubernetes' own apt repository (or a preinstalled kubectl) keep theirs.
command -v kubectl >/dev/null || need+=(kubernetes-client)
[ -x /usr/bin/chromium ] || need+=(chromium)
python3 -c 'import ensurepip' 2>/dev/null || need+=(python3-venv)
command -v make >/dev/null || need+=(make)
[ ${#need[@]} -eq 0 ] && exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "installing: ${need[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
