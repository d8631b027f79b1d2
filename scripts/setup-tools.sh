#!/usr/bin/env bash
# The system tools the tests use: git and file; zip for fixture module proxies; and, to
# check images independently of our code, skopeo, umoci and runc, with CNCF Distribution
# (docker-registry), htpasswd, curl and openssl for a real registry on loopback.
# Idempotent: installs only what is missing (Debian packages).
set -euo pipefail
declare -A pkg_of=(
  [file]=file [git]=git [zip]=zip [curl]=curl [openssl]=openssl
  [skopeo]=skopeo [umoci]=umoci [runc]=runc [docker-registry]=docker-registry
  [htpasswd]=apache2-utils [busybox]=busybox-static
)
need=()
for cmd in "${!pkg_of[@]}"; do command -v "$cmd" >/dev/null || need+=("${pkg_of[$cmd]}"); done
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then echo "please install these Debian packages: ${need[*]}" >&2; exit 1; fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
command -v go >/dev/null || { echo "Go is not on PATH: install Go 1.21+ (https://go.dev/dl)" >&2; exit 1; }
