#!/usr/bin/env bash
# The system tools the tests use: git and file; zip for fixture module proxies; and, to
# check images independently of our code, skopeo, umoci and runc, with CNCF Distribution
# (docker-registry), htpasswd, curl and openssl for a real registry on loopback; nginx as
# an HTTP cache (the tests start their own, with their own config and port).
# Idempotent: installs only what is missing (Debian packages).
set -euo pipefail
declare -A pkg_of=(
  [file]=file [git]=git [zip]=zip [curl]=curl [openssl]=openssl
  [skopeo]=skopeo [umoci]=umoci [runc]=runc [docker-registry]=docker-registry
  [htpasswd]=apache2-utils [busybox]=busybox-static [nginx]=nginx
)
need=()
for cmd in "${!pkg_of[@]}"; do command -v "$cmd" >/dev/null || need+=("${pkg_of[$cmd]}"); done
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then echo "please install these Debian packages: ${need[*]}" >&2; exit 1; fi
  apt-get update -qq
  # Packaged services (nginx) must not start on install: a system nginx on port 80 is not
  # what the tests run. A policy-rc.d that answers 101 makes invoke-rc.d skip the start.
  policy=/usr/sbin/policy-rc.d
  if [ ! -e "$policy" ]; then
    trap 'rm -f "$policy"' EXIT
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  # Where a service manager started it anyway, stop that nginx and keep it from starting at boot.
  if [[ " ${need[*]} " == *" nginx "* ]]; then
    if [ -s /run/nginx.pid ] && kill -0 "$(cat /run/nginx.pid)" 2>/dev/null; then nginx -s quit || true; fi
    if command -v update-rc.d >/dev/null; then update-rc.d nginx disable >/dev/null 2>&1 || true; fi
  fi
fi
command -v go >/dev/null || { echo "Go is not on PATH: install Go 1.21+ (https://go.dev/dl)" >&2; exit 1; }
