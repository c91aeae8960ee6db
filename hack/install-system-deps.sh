#!/usr/bin/env bash
# Installs the Debian packages that tests and `make demo` run for real.
# openssh-server: the bootstrap tests fetch a kubeconfig from a private sshd on loopback.
# prometheus: the ModelRelease analysis tests run their own on loopback.
# cloud-init: only its offline `cloud-init schema` checker, for the bootstrap's user-data.
# chromium, chromium-driver: the pages are tested in a real headless browser (WebDriver).
# buildah, mmdebstrap, uidmap, unzip: hack/images.sh builds images/*/Dockerfile and their base
# images without a Docker engine (uidmap: newuidmap for builds by a non-root user).
# containerd, runc, containernetworking-plugins, iptables, conntrack, iproute2, gettext-base:
# the plane's real node (hack/kube-node.sh: its runtime, CNI, kube-proxy's rules, envsubst).
set -euo pipefail

packages=(rabbitmq-server postgresql openssh-server cloud-init prometheus chromium chromium-driver
    buildah mmdebstrap uidmap unzip
    containerd runc containernetworking-plugins iptables conntrack iproute2 gettext-base)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$package")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

sudo=()
[[ $(id -u) -eq 0 ]] || sudo=(sudo)
installing() { [[ " ${missing[*]} " == *" $1 "* ]]; }

# cloud-init is installed for its schema checker only: on this machine it must never run at
# boot. cloud-init's systemd generator honours this file (docs: "disabling cloud-init"); it is
# written only when we are the ones installing cloud-init, so a cloud VM's own is left alone.
cloud_init_units=(cloud-init-local.service cloud-init.service cloud-config.service
    cloud-final.service cloud-init-hotplugd.socket)
if installing cloud-init; then
    "${sudo[@]}" mkdir -p /etc/cloud
    "${sudo[@]}" touch /etc/cloud/cloud-init.disabled
fi

echo "installing Debian packages: ${missing[*]}"
"${sudo[@]}" apt-get update -qq
# The packages' postinsts start system-wide services (a broker, sshd); tests start their own on
# private ports. RUNLEVEL=1 keeps invoke-rc.d from starting them; running ones are stopped below.
DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" </dev/null
if command -v systemctl >/dev/null && systemctl is-active --quiet rabbitmq-server 2>/dev/null; then
    "${sudo[@]}" systemctl disable --now rabbitmq-server || true
fi
if command -v systemctl >/dev/null && installing prometheus; then
    # Its postinst enables a system-wide server: the tests start their own, on loopback.
    "${sudo[@]}" systemctl disable --now prometheus >/dev/null 2>&1 || true
fi
if command -v systemctl >/dev/null && installing containerd; then
    # The node runs its own containerd, on a socket and root of its own.
    "${sudo[@]}" systemctl disable --now containerd >/dev/null 2>&1 || true
fi
if command -v systemctl >/dev/null && installing openssh-server; then
    # Only an sshd we just installed: a developer's own sshd is not ours to stop.
    "${sudo[@]}" systemctl disable --now ssh >/dev/null 2>&1 || true
fi
if command -v systemctl >/dev/null && installing cloud-init; then
    # Belt and braces with cloud-init.disabled: masked units never start, whatever enables them.
    "${sudo[@]}" systemctl mask "${cloud_init_units[@]}" >/dev/null 2>&1 || true
fi
