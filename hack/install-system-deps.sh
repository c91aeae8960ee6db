#!/usr/bin/env bash
# Installs the Debian packages that tests and `make demo` run for real.
set -euo pipefail

packages=(rabbitmq-server postgresql prometheus)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$package")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

sudo=()
[[ $(id -u) -eq 0 ]] || sudo=(sudo)
echo "installing Debian packages: ${missing[*]}"
"${sudo[@]}" apt-get update -qq
# The packages' postinsts start system-wide services; tests start their own on private ports.
DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" </dev/null
for service in rabbitmq-server prometheus; do
    if command -v systemctl >/dev/null && { systemctl is-active --quiet "$service" 2>/dev/null ||
        systemctl is-enabled --quiet "$service" 2>/dev/null; }; then
        "${sudo[@]}" systemctl disable --now "$service" || true
    fi
done
