#!/usr/bin/env bash
# The system tools the tests use to check results independently of our code.
# Idempotent: installs only what is missing (Debian packages).
set -euo pipefail
need=()
command -v file >/dev/null || need+=(file)
command -v git >/dev/null || need+=(git)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}";
  else echo "please install: ${need[*]}" >&2; exit 1; fi
fi
command -v go >/dev/null || { echo "Go is not on PATH: install Go 1.21+ (https://go.dev/dl)" >&2; exit 1; }
