#!/usr/bin/env bash
# Prints the path of a go command new enough for the Kubernetes plane's wrapper modules.
#
# The machine's go (GO, else go on PATH) when its version meets the `go` line of
# hack/kube/k8s/go.mod. Otherwise the pinned toolchain below, fetched once the way the go command
# itself switches toolchains: the module golang.org/toolchain@v0.0.1-<version>.<os>-<arch> from
# the Go module proxy (GOPROXY, default https://proxy.golang.org), its zip checked against the
# checksum database (through the proxy's /sumdb endpoint) before anything is unpacked, and
# cached in ${XDG_CACHE_HOME:-~/.cache}/starcast/go. Needs only bash, curl and python3.
#
# Usage: hack/go-toolchain.sh          # prints /path/to/bin/go; what it fetches goes to stderr
# Environment: GO, GOPROXY, STARCAST_GO_CACHE (default ${XDG_CACHE_HOME:-$HOME/.cache}/starcast/go)
set -euo pipefail
shopt -s inherit_errexit

readonly PINNED=go1.26.8 # the toolchain fetched when the machine has none new enough
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly ROOT
CACHE=${STARCAST_GO_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/starcast/go}

log() { printf '[go-toolchain] %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

required=$(awk '$1 == "go" { print $2; exit }' "$ROOT/hack/kube/k8s/go.mod")
[[ -n $required ]] || die "no go line in hack/kube/k8s/go.mod"

# at_least HAVE NEED: whether version HAVE (1.26.8) >= NEED (1.26.0)
at_least() { [[ $(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1) == "$2" ]]; }

local_go=${GO:-$(command -v go || true)}
if [[ -n $local_go && -x $local_go ]]; then
	# GOTOOLCHAIN=local: report this binary's own version, never one it would switch to.
	have=$(GOTOOLCHAIN=local "$local_go" env GOVERSION 2>/dev/null || "$local_go" version 2>/dev/null | awk '{print $3}' || true)
	have=${have#go}
	if [[ -n $have ]] && at_least "$have" "$required"; then
		echo "$local_go"
		exit 0
	fi
	log "$local_go is go${have:-?}; the plane's modules need go >= $required"
else
	log "no go command (GO unset, none on PATH); the plane's modules need go >= $required"
fi

case $(uname -s) in Linux) os=linux ;; Darwin) os=darwin ;; *) die "unsupported OS $(uname -s)" ;; esac
case $(uname -m) in x86_64 | amd64) arch=amd64 ;; aarch64 | arm64) arch=arm64 ;; *) die "unsupported CPU $(uname -m)" ;; esac
module=golang.org/toolchain
version=v0.0.1-$PINNED.$os-$arch
target=$CACHE/$PINNED.$os-$arch
if [[ -x $target/bin/go ]]; then
	echo "$target/bin/go"
	exit 0
fi

proxy=https://proxy.golang.org
IFS=',|' read -r -a proxies <<<"${GOPROXY:-$proxy}"
for candidate in "${proxies[@]}"; do
	if [[ $candidate != direct && $candidate != off && -n $candidate ]]; then
		proxy=${candidate%/}
		break
	fi
done
command -v curl >/dev/null || die "curl is needed to fetch Go (hack/prerequisites.sh install)"
command -v python3 >/dev/null || die "python3 is needed to check and unpack Go"

log "installing Go $PINNED ($module@$version) from $proxy into $target"
mkdir -p "$CACHE"
work=$(mktemp -d "$CACHE/.fetch.XXXXXX")
trap 'rm -rf "$work"' EXIT
curl -fsSL --retry 3 -o "$work/sum" "$proxy/sumdb/sum.golang.org/lookup/$module@$version" ||
	die "the checksum database has no $module@$version (through $proxy)"
curl -fsSL --retry 3 -o "$work/toolchain.zip" "$proxy/$module/@v/$version.zip" ||
	die "could not download $module@$version from $proxy"

# The checksum database's h1: hash of a module zip is golang.org/x/mod/sumdb/dirhash.Hash1:
# sha256 over "<sha256 hex>  <name>\n" for every file, sorted by name. Checked before unpacking.
python3 - "$work/toolchain.zip" "$work/sum" "$module" "$version" "$work/unpacked" <<'PY'
import base64, hashlib, os, stat, sys, zipfile
archive, sums, module, version, out = sys.argv[1:]
expected = next(
    (line.split()[2] for line in open(sums) if line.split()[:2] == [module, version]), None
)
if expected is None:
    sys.exit(f"[go-toolchain] error: no checksum for {module}@{version} in the lookup answer")
with zipfile.ZipFile(archive) as zf:
    names = sorted(info.filename for info in zf.infolist())
    summary = "".join(f"{hashlib.sha256(zf.read(n)).hexdigest()}  {n}\n" for n in names)
    actual = "h1:" + base64.b64encode(hashlib.sha256(summary.encode()).digest()).decode()
    if actual != expected:
        sys.exit(
            f"[go-toolchain] error: checksum mismatch for {module}@{version}: "
            f"downloaded {actual}, the checksum database says {expected}"
        )
    prefix = f"{module}@{version}/"
    for info in zf.infolist():
        if not info.filename.startswith(prefix) or ".." in info.filename.split("/"):
            sys.exit(f"[go-toolchain] error: unexpected path {info.filename!r} in the zip")
        if info.is_dir():
            continue
        path = os.path.join(out, info.filename[len(prefix):])
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with zf.open(info) as src, open(path, "wb") as dst:
            dst.write(src.read())
        # Module zips keep no file modes; the go command makes bin/ and pkg/tool/ executable.
        relative = info.filename[len(prefix):]
        if relative.startswith("bin/") or relative.startswith("pkg/tool/"):
            os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
PY
[[ -x $work/unpacked/bin/go ]] || die "$module@$version holds no bin/go"
# A rename is atomic: a concurrent run sees the whole toolchain or none.
mv -T "$work/unpacked" "$target" 2>/dev/null || [[ -x $target/bin/go ]] || die "could not install into $target"
log "Go $PINNED installed: $target/bin/go"
echo "$target/bin/go"
