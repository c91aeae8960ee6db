#!/usr/bin/env bash
# What a machine needs before `make demo` and `make test`, and what `make` installs for it.
#
# A fresh Debian 12 with only `make` and `python3` works: what is missing below is installed.
#   python3 >= 3.11 with venv   `make venv` (Debian: the python3-venv package)
#   curl, openssl               the hack/ scripts (the Go download, the plane's certificates)
#   go >= the plane's go.mod    `make kube-plane` / `make test`: hack/go-toolchain.sh fetches the
#                               pinned toolchain through the Go module proxy when it is missing
#                               or too old (Debian's golang-go is)
# The Debian packages the tests run for real (rabbitmq-server, postgresql) come after the venv,
# from hack/install-system-deps.sh (`make system-deps`).
#
# Usage: hack/prerequisites.sh check     list each prerequisite, and what `install` would do;
#                                        exit 1 when something is missing
#        hack/prerequisites.sh install   install the missing Debian packages (root or sudo)
#                                        and say which; Go is left to hack/go-toolchain.sh
set -euo pipefail
shopt -s inherit_errexit

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly ROOT
readonly MIN_PYTHON=3.11
mode=${1:-check}
[[ $mode == check || $mode == install ]] || {
	echo "usage: $0 check|install" >&2
	exit 2
}

say() { printf '[prerequisites] %s\n' "$*" >&2; }
missing_packages=()
problems=0

python=${PYTHON:-python3}
if ! command -v "$python" >/dev/null; then
	say "python3: missing; install Python >= $MIN_PYTHON (Debian 12: apt-get install python3)"
	problems=1
elif ! "$python" -c "import sys; sys.exit(sys.version_info < (${MIN_PYTHON/./, }))"; then
	say "python3: $("$python" --version 2>&1) is older than $MIN_PYTHON; install a newer Python"
	problems=1
elif ! "$python" -c "import ensurepip, venv" 2>/dev/null; then
	say "python3 venv: missing; installs Debian package python3-venv"
	missing_packages+=(python3-venv)
else
	say "python3: ok ($("$python" --version 2>&1), with venv)"
fi

for tool in curl openssl; do
	if command -v "$tool" >/dev/null; then
		say "$tool: ok"
	else
		say "$tool: missing; installs Debian package $tool"
		missing_packages+=("$tool")
	fi
done

go=${GO:-$(command -v go || true)}
required=$(awk '$1 == "go" { print $2; exit }' "$ROOT/hack/kube/k8s/go.mod")
have=""
if [[ -n $go && -x $go ]]; then
	have=$(GOTOOLCHAIN=local "$go" env GOVERSION 2>/dev/null || true)
fi
if [[ -n $have && $(printf '%s\n%s\n' "$required" "${have#go}" | sort -V | head -n1) == "$required" ]]; then
	say "go: ok ($have at $go)"
else
	pinned=$(awk -F= '/^readonly PINNED=/ { sub(/ .*/, "", $2); print $2 }' "$ROOT/hack/go-toolchain.sh")
	say "go: ${have:-missing}, the plane needs >= $required; \`make kube-plane\` fetches $pinned" \
		"through the Go module proxy (hack/go-toolchain.sh)"
fi

if [[ ${#missing_packages[@]} -eq 0 ]]; then
	exit "$problems"
fi
if [[ $mode == check ]]; then
	say "\`hack/prerequisites.sh install\` (run by make) installs: ${missing_packages[*]}"
	exit 1
fi
if ! command -v apt-get >/dev/null; then
	say "error: no apt-get: install ${missing_packages[*]} with this system's package manager"
	exit 1
fi
sudo=()
[[ $(id -u) -eq 0 ]] || sudo=(sudo)
say "installing Debian packages: ${missing_packages[*]}"
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
	"${missing_packages[@]}" </dev/null
exit "$problems"
