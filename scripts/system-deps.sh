#!/usr/bin/env bash
# Installs the Debian packages the tests drive for real: a CNCF registry, skopeo (pushes
# OCI layouts without Docker), htpasswd (bcrypt for the registry), kubectl.
# Does nothing when they are all present; needs root (or sudo) otherwise.
set -euo pipefail
need=()
command -v docker-registry >/dev/null || need+=(docker-registry)
command -v skopeo >/dev/null || need+=(skopeo)
command -v htpasswd >/dev/null || need+=(apache2-utils)
command -v kubectl >/dev/null || need+=(kubectl)
[ ${#need[@]} -eq 0 ] && exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "installing: ${need[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
