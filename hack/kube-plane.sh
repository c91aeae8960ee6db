#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# A real Kubernetes control plane for tests, run as plain processes (no container engine).
#
# Like controller-runtime's envtest, with kwok for nodes: etcd, kube-apiserver,
# kube-controller-manager and kube-scheduler built from their Go modules, and kwok
# simulating nodes so Deployments get Running pods. kubectl and helm are built too.
# Versions are pinned in hack/kube/versions.env and the wrapper modules in hack/kube/*/.
#
# Usage: hack/kube-plane.sh build|up|down|status|env|pin
#   build   build (once per machine) and cache the binaries; prints the bin dir
#   up      build if needed, start everything, wait for Ready nodes; prints export lines
#           (eval "$(hack/kube-plane.sh up)")
#   down    stop what `up` started, by pid, and remove the state dir
#   status  show the processes of the plane and whether the API server is ready
#   env     print the export lines of a running plane
#   pin     regenerate hack/kube/*/go.mod and go.sum from hack/kube/versions.env
#
# Environment:
#   STARCAST_KUBE_DIR        state dir (default: ${TMPDIR:-/tmp}/starcast-kube-$UID)
#   STARCAST_KUBE_CACHE      binary cache (default: ${XDG_CACHE_HOME:-$HOME/.cache}/starcast/kube)
#   STARCAST_KUBE_NODES      number of kwok nodes (default 3)
#   STARCAST_KUBE_TIMEOUT    seconds to wait for each component (default 120)
#   STARCAST_KUBE_AUDIT_POLICY  `up` only: an audit policy file; the API server then writes
#                            its audit log, JSON lines stamped to the microsecond, to
#                            $STATE/logs/audit.log (the benchmarks time requests by it)
#   STARCAST_KUBE_WATCH_PID  `up` only: stop the plane when this process exits
#   STARCAST_KUBE_REAL_NODE  `up` only: 1 adds a real node beside the kwok ones
#                            (hack/kube-node.sh: containerd, kubelet, kube-proxy, CoreDNS,
#                            Traefik); the API server then also answers on the machine's own
#                            address, the one pods reach it at
#   GO                       the go command (default: hack/go-toolchain.sh's: go on PATH if
#                            new enough, else the pinned toolchain from the Go module proxy)
set -euo pipefail
shopt -s inherit_errexit # a failure inside $(...) fails the caller too

readonly BUILD_REV=1 # bump when the build flags below change, to re-key the cache
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly ROOT
readonly MODS="$ROOT/hack/kube"
readonly SELF="$ROOT/hack/kube-plane.sh"
# shellcheck source=kube/versions.env
source "$MODS/versions.env"

STATE=${STARCAST_KUBE_DIR:-${TMPDIR:-/tmp}/starcast-kube-$(id -u)}
[[ $STATE == /* ]] || STATE="$PWD/$STATE"
MODFLAG=-mod=readonly # `pin` needs -mod=mod
CACHE_ROOT=${STARCAST_KUBE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/starcast/kube}
NODES=${STARCAST_KUBE_NODES:-3}
TIMEOUT=${STARCAST_KUBE_TIMEOUT:-120}
AUDIT_POLICY=${STARCAST_KUBE_AUDIT_POLICY:-}
REAL_NODE=${STARCAST_KUBE_REAL_NODE:-0}
readonly MARKER=.starcast-kube-plane
# Daemons in start order.
readonly DAEMONS=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)
readonly SERVICE_CIDR=10.96.0.0/16
readonly POD_CIDR=10.244.0.0/16

log() { printf '[kube-plane] %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

go_cmd() {
	local go=${GO:-}
	if [[ -z $go ]]; then
		# The machine's go if new enough, else the pinned toolchain from the Go module proxy.
		go=$("$ROOT/hack/go-toolchain.sh") || die "no Go toolchain (hack/go-toolchain.sh above)"
	fi
	if [[ -z $go || ! -x $go ]]; then
		die "no Go toolchain: put go on PATH or set GO (the wrapper modules need go >= 1.26)"
	fi
	# Static binaries like the upstream releases; no cgo also means no C compiler needed.
	CGO_ENABLED=0 GOTOOLCHAIN=local GOWORK=off GOFLAGS="$MODFLAG -buildvcs=false" "$go" "$@"
}

sha() { sha256sum | cut -c1-12; }

# The cache key covers the pins, the wrapper modules, the toolchain and the build flags.
cache_key() {
	local toolchain
	toolchain=$(go_cmd env GOVERSION GOOS GOARCH) || exit 1
	{
		echo "rev=$BUILD_REV"
		echo "$toolchain"
		cat "$MODS/versions.env" "$MODS"/*/go.mod "$MODS"/*/go.sum "$MODS"/*/tools.go
	} | sha
}

bin_dir() {
	local key
	key=$(cache_key)
	echo "$CACHE_ROOT/$KUBE_VERSION-$key/bin"
}

# ---------------------------------------------------------------------------- build

k8s_ldflags() {
	local v=${KUBE_VERSION#v} pkg flags="-s -w"
	local major=${v%%.*} rest=${v#*.}
	local minor=${rest%%.*}
	for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
		flags+=" -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=$major"
		flags+=" -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
	done
	echo "$flags"
}

helm_ldflags() {
	local cg major minor pkg flags="-s -w"
	cg=$(cd "$MODS/helm" && go_cmd list -m -f '{{.Version}}' k8s.io/client-go) # v0.MINOR.PATCH
	major=1
	minor=$(echo "$cg" | cut -d. -f2)
	flags+=" -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
	flags+=" -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
	for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
		flags+=" -X $pkg.k8sVersionMajor=$major -X $pkg.k8sVersionMinor=$minor"
	done
	echo "$flags"
}

# build_module DIR OUT LDFLAGS PKG...: one go build per wrapper module, packages compile once.
build_module() {
	local dir=$1 out=$2 ldflags=$3
	shift 3
	local start=$SECONDS
	log "building $* ($(basename "$dir"))"
	(cd "$dir" && go_cmd build -trimpath -ldflags "$ldflags" -o "$out/" "$@") >&2
	log "built $(basename "$dir") in $((SECONDS - start))s"
}

# kwok ships its default stages as YAML in its module, not in the binary (kwokctl
# writes them out); copy the node-initialize, node-heartbeat-with-lease and pod
# stages so pods go Pending -> Running and deleted pods go away.
write_kwok_stages() {
	local out=$1 kdir f
	kdir=$(cd "$MODS/kwok" && go_cmd list -m -f '{{.Dir}}' sigs.k8s.io/kwok)
	: >"$out"
	for f in stage/node/fast/node-initialize.yaml \
		stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
		stage/pod/fast/pod-ready.yaml stage/pod/fast/pod-complete.yaml \
		stage/pod/fast/pod-delete.yaml; do
		[[ -f "$kdir/kustomize/$f" ]] || die "kwok $KWOK_VERSION has no kustomize/$f"
		{
			echo "---"
			cat "$kdir/kustomize/$f"
		} >>"$out"
	done
}

cmd_build() {
	local bin
	bin=$(bin_dir)
	if [[ -f "$bin/.complete" ]]; then
		log "binaries cached in $bin"
		echo "$bin"
		return
	fi
	mkdir -p "$CACHE_ROOT"
	exec 8>"$CACHE_ROOT/build.lock"
	log "waiting for the build lock $CACHE_ROOT/build.lock"
	flock 8
	if [[ ! -f "$bin/.complete" ]]; then
		local tmp start=$SECONDS
		tmp="$(dirname "$bin")/bin.tmp.$$"
		rm -rf "$tmp"
		mkdir -p "$tmp"
		log "first build on this machine (Kubernetes $KUBE_VERSION, etcd $ETCD_VERSION," \
			"kwok $KWOK_VERSION, helm $HELM_VERSION): this takes a while"
		(cd "$MODS/k8s" && go_cmd mod download) >&2
		build_module "$MODS/k8s" "$tmp" "$(k8s_ldflags)" \
			k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
			k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl \
			k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy
		build_module "$MODS/etcd" "$tmp" "-s -w" go.etcd.io/etcd/server/v3
		# go build names the binary after the path element before the major version suffix
		[[ -f "$tmp/server" ]] && mv "$tmp/server" "$tmp/etcd"
		[[ -x "$tmp/etcd" ]] || die "etcd binary missing after the build"
		build_module "$MODS/kwok" "$tmp" \
			"-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION#v} -X sigs.k8s.io/kwok/pkg/consts.KubeVersion=${KUBE_VERSION#v}" \
			sigs.k8s.io/kwok/cmd/kwok
		build_module "$MODS/helm" "$tmp" "$(helm_ldflags)" helm.sh/helm/v3/cmd/helm
		write_kwok_stages "$tmp/kwok-stages.yaml"
		echo "built in $((SECONDS - start))s on $(date -u +%FT%TZ)" >"$tmp/.complete"
		rm -rf "$bin"
		mv "$tmp" "$bin"
		log "all binaries built in $((SECONDS - start))s"
	fi
	exec 8>&-
	echo "$bin"
}

# ---------------------------------------------------------------------------- pin

cmd_pin() {
	local k8s_mod staging m
	MODFLAG=-mod=mod
	log "pinning Kubernetes $KUBE_VERSION, etcd $ETCD_VERSION, kwok $KWOK_VERSION, helm $HELM_VERSION"
	k8s_mod=$(go_cmd mod download -json "k8s.io/kubernetes@$KUBE_VERSION" |
		sed -n 's/^\t"GoMod": "\(.*\)",$/\1/p')
	[[ -f $k8s_mod ]] || die "could not download the go.mod of k8s.io/kubernetes@$KUBE_VERSION"
	# Staging modules are required as v0.0.0 and replaced by ./staging/src/... upstream;
	# pin each one k8s.io/kubernetes requires to its published v0.MINOR.PATCH. That
	# includes k8s.io/sample-apiserver: nothing we build imports it, but without its
	# replace the module graph holds the unpublished v0.0.0 and `go list -m all` fails.
	staging=$(awk '/^replace \(/ {r = 1; next} r && /^\)/ {r = 0} r && $2 == "=>" && $3 ~ /^\.\/staging\// {print $1}' "$k8s_mod" |
		sort | comm -12 - <(awk '$2 == "v0.0.0" {print $1}' "$k8s_mod" | sort))
	local sv="v0.${KUBE_VERSION#v1.}"
	{
		echo "// Wrapper module that builds the Kubernetes control plane and kubectl from the"
		echo "// k8s.io/kubernetes Go module. Its staging modules are required as v0.0.0 upstream"
		echo "// (replaced by ./staging there), so they are pinned here to the matching release."
		echo "// Generated by hack/kube-plane.sh pin; versions live in hack/kube/versions.env."
		echo "module starcast.local/hack/kube/k8s"
		echo
		echo "go 1.26.0"
		echo
		echo "godebug default=go1.26"
		echo
		echo "require k8s.io/kubernetes $KUBE_VERSION"
		echo
		echo "require ("
		for m in $staging; do printf '\t%s %s\n' "$m" "$sv"; done
		echo ")"
		echo
		echo "replace ("
		for m in $staging; do printf '\t%s => %s %s\n' "$m" "$m" "$sv"; done
		echo ")"
	} >"$MODS/k8s/go.mod"
	pin_simple etcd go.etcd.io/etcd/server/v3 "$ETCD_VERSION"
	pin_simple kwok sigs.k8s.io/kwok "$KWOK_VERSION"
	pin_simple helm helm.sh/helm/v3 "$HELM_VERSION"
	for m in k8s etcd kwok helm; do
		(cd "$MODS/$m" && go_cmd mod tidy)
	done
	log "pinned; commit hack/kube/"
}

pin_simple() {
	local dir=$1 mod=$2 version=$3
	printf '// Wrapper module pinning %s; built by hack/kube-plane.sh build.\n' "$mod" >"$MODS/$dir/go.mod"
	printf 'module starcast.local/hack/kube/%s\n\ngo 1.26.0\n\nrequire %s %s\n' \
		"$dir" "$mod" "$version" >>"$MODS/$dir/go.mod"
}

# ---------------------------------------------------------------------------- up

free_ports() { # N free loopback ports, chosen by the kernel
	python3 - "$1" <<'EOF'
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

# cert NAME SUBJECT EXT: an ECDSA key and a certificate signed by the plane's CA.
cert() {
	local name=$1 subj=$2 ext=$3 pki="$STATE/pki"
	openssl ecparam -name prime256v1 -genkey -noout -out "$pki/$name.key" 2>/dev/null
	openssl req -new -key "$pki/$name.key" -subj "$subj" -out "$pki/$name.csr" 2>/dev/null
	printf '%s\n' "$ext" >"$pki/$name.ext"
	openssl x509 -req -in "$pki/$name.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" \
		-set_serial "0x$(openssl rand -hex 16)" -days 365 -extfile "$pki/$name.ext" \
		-out "$pki/$name.crt" 2>/dev/null
	rm -f "$pki/$name.csr" "$pki/$name.ext"
}

make_pki() {
	local pki="$STATE/pki" client="basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth" node_san=""
	[[ -n $NODE_IP ]] && node_san=",IP:$NODE_IP"
	mkdir -p "$pki"
	openssl ecparam -name prime256v1 -genkey -noout -out "$pki/ca.key" 2>/dev/null
	openssl req -x509 -new -key "$pki/ca.key" -subj "/CN=starcast-kube-ca" -days 3650 \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,digitalSignature,keyCertSign,cRLSign" \
		-out "$pki/ca.crt" 2>/dev/null
	cert apiserver "/CN=kube-apiserver" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,IP:10.96.0.1$node_san,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
	cert admin "/O=system:masters/CN=starcast-admin" "$client"
	cert controller-manager "/CN=system:kube-controller-manager" "$client"
	cert scheduler "/CN=system:kube-scheduler" "$client"
	# The aggregation layer's client (APIServices such as metrics-server's metrics.k8s.io).
	cert front-proxy-client "/CN=front-proxy-client" "$client"
	# The API server's client to kubelets (logs, exec, port-forward of real pods).
	cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" "$client"
	openssl ecparam -name prime256v1 -genkey -noout -out "$pki/sa.key" 2>/dev/null
	openssl ec -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
	chmod 600 "$pki"/*.key
}

b64() { base64 -w0 <"$1"; }

# kubeconfig FILE USER: a kubeconfig with the client certificate pki/USER.{crt,key}.
kubeconfig() {
	local file=$1 user=$2 pki="$STATE/pki"
	cat >"$file" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: starcast-kube
  cluster:
    server: https://127.0.0.1:$API_PORT
    certificate-authority-data: $(b64 "$pki/ca.crt")
users:
- name: $user
  user:
    client-certificate-data: $(b64 "$pki/$user.crt")
    client-key-data: $(b64 "$pki/$user.key")
contexts:
- name: starcast-kube
  context:
    cluster: starcast-kube
    user: $user
current-context: starcast-kube
EOF
	chmod 600 "$file"
}

# start NAME CMD...: run a daemon in its own session; the pid file holds its own pid.
start() {
	local name=$1
	shift
	log "starting $name"
	# shellcheck disable=SC2016 # expanded by the inner bash
	setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$STATE/pids/$name.pid" "$@" \
		</dev/null >"$STATE/logs/$name.log" 2>&1 &
	local i
	for i in $(seq 50); do
		[[ -s "$STATE/pids/$name.pid" ]] && return
		sleep 0.02
	done
	die "$name did not start"
}

alive() { # alive NAME: the daemon's pid is running and is ours
	local pid
	pid=$(cat "$STATE/pids/$1.pid" 2>/dev/null) || return 1
	ours "$pid"
}

# ours PID: PID is running and its command line names our state dir (guards pid reuse,
# and another plane whose state dir shares a prefix with ours).
ours() {
	local cmdline
	cmdline=$(tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline") || return 1
	[[ "$cmdline " == *"$STATE/"* || "$cmdline " == *"$STATE "* ]]
}

failed() { # failed NAME WHAT: report a component that did not come up, with its log
	log "$1: $2; last lines of $STATE/logs/$1.log:"
	tail -n 25 "$STATE/logs/$1.log" >&2 || true
	exit 1
}

# wait_for NAME WHAT CMD...: poll CMD until it succeeds; fail early if NAME died.
wait_for() {
	local name=$1 what=$2
	shift 2
	local deadline=$((SECONDS + TIMEOUT))
	until "$@" >/dev/null 2>&1; do
		alive "$name" || failed "$name" "exited while waiting for $what"
		((SECONDS < deadline)) || failed "$name" "timed out after ${TIMEOUT}s waiting for $what"
		sleep 0.3
	done
	log "$what"
}

kc() { KUBECACHEDIR="$STATE/kube-cache" "$BIN/kubectl" --kubeconfig "$STATE/kubeconfig" "$@"; }

nodes_manifest() {
	local i zones=(a b c)
	for ((i = 0; i < NODES; i++)); do
		cat <<EOF
---
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-$i
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    type: kwok
    kubernetes.io/arch: amd64
    kubernetes.io/os: linux
    kubernetes.io/hostname: kwok-node-$i
    node.kubernetes.io/instance-type: kwok.8x32
    topology.kubernetes.io/region: local
    topology.kubernetes.io/zone: local-${zones[i % 3]}
status:
  addresses:
  - type: InternalIP
    address: 10.89.0.$((i + 10))
  - type: Hostname
    address: kwok-node-$i
  allocatable: {cpu: "7800m", memory: 30Gi, pods: "110", ephemeral-storage: 95Gi}
  capacity: {cpu: "8", memory: 32Gi, pods: "110", ephemeral-storage: 100Gi}
  nodeInfo:
    architecture: amd64
    operatingSystem: linux
    osImage: kwok
    kubeletVersion: $KUBE_VERSION
    kubeProxyVersion: $KUBE_VERSION
EOF
	done
}

# The env file: shell-quoted export lines, one variable each (tests/support/kube.py
# parses them). kubectl's discovery cache and helm's dirs live in the state dir, so
# `down` leaves nothing behind in $HOME.
write_env() {
	{
		printf 'export KUBECONFIG=%q\n' "$STATE/kubeconfig"
		printf 'export KUBECACHEDIR=%q\n' "$STATE/kube-cache"
		printf 'export HELM_CACHE_HOME=%q\n' "$STATE/helm/cache"
		printf 'export HELM_CONFIG_HOME=%q\n' "$STATE/helm/config"
		printf 'export HELM_DATA_HOME=%q\n' "$STATE/helm/data"
		# shellcheck disable=SC2016 # $PATH is expanded by whoever sources the file
		printf 'export PATH=%q:"$PATH"\n' "$BIN"
	} >"$STATE/env"
}

running() { # a plane is up in $STATE and answers
	[[ -f "$STATE/$MARKER" && -f "$STATE/env" ]] || return 1
	BIN=$(sed -n 's/^bin=//p' "$STATE/$MARKER")
	alive kube-apiserver && kc get --raw /readyz >/dev/null 2>&1
}

up_exit() {
	local rc=$?
	if ((rc != 0)); then
		log "up failed; stopping what was started (logs kept in $STATE/logs, \`down\` removes them)"
		if [[ -d "$STATE/node" ]]; then STARCAST_KUBE_DIR=$STATE "$ROOT/hack/kube-node.sh" down || true; fi
		stop_all
	fi
}

cmd_up() {
	local start=$SECONDS
	if running; then
		log "already running in $STATE"
		cat "$STATE/env"
		return
	fi
	if [[ -f "$STATE/$MARKER" ]]; then
		log "cleaning a stale plane in $STATE"
		cmd_down
	elif [[ -e $STATE ]] && [[ ! -d $STATE || -n "$(ls -A "$STATE")" ]]; then
		die "$STATE exists and is not an empty dir nor a plane's state dir; not touching it"
	fi
	BIN=$(cmd_build)
	local t0=$SECONDS
	mkdir -p "$STATE"/{pids,logs,etcd,helm}
	printf 'bin=%s\n' "$BIN" >"$STATE/$MARKER"
	trap up_exit EXIT
	local etcd_port peer_port kwok_port bind=127.0.0.1 advertise=127.0.0.1 endpoints=none
	read -r etcd_port peer_port API_PORT kwok_port <<<"$(free_ports 4)"
	NODE_IP=""
	if [[ $REAL_NODE == 1 ]]; then
		# Pods reach the API server through the kubernetes Service, whose endpoint is the
		# advertise address: it must be one they can reach, this machine's own.
		NODE_IP=$(ip -4 -o addr show scope global | awk '{split($4, a, "/"); print a[1]; exit}')
		[[ -n $NODE_IP ]] || die "STARCAST_KUBE_REAL_NODE=1: this machine has no global IPv4 address"
		bind=0.0.0.0 advertise=$NODE_IP endpoints=lease
		touch "$STATE/real-node"
	fi
	make_pki
	kubeconfig "$STATE/kubeconfig" admin
	kubeconfig "$STATE/controller-manager.kubeconfig" controller-manager
	kubeconfig "$STATE/scheduler.kubeconfig" scheduler
	write_env

	start etcd "$BIN/etcd" --name=starcast --data-dir="$STATE/etcd/data" \
		--listen-client-urls="http://127.0.0.1:$etcd_port" \
		--advertise-client-urls="http://127.0.0.1:$etcd_port" \
		--listen-peer-urls="http://127.0.0.1:$peer_port" \
		--initial-advertise-peer-urls="http://127.0.0.1:$peer_port" \
		--initial-cluster="starcast=http://127.0.0.1:$peer_port" \
		--unsafe-no-fsync --quota-backend-bytes=$((2 * 1024 * 1024 * 1024)) \
		--log-level=warn
	wait_for etcd "etcd healthy" curl -fsS "http://127.0.0.1:$etcd_port/health"

	local pki="$STATE/pki"
	local audit=()
	if [[ -n $AUDIT_POLICY ]]; then
		[[ -f $AUDIT_POLICY ]] || die "STARCAST_KUBE_AUDIT_POLICY: no file $AUDIT_POLICY"
		audit=(--audit-policy-file="$AUDIT_POLICY" --audit-log-path="$STATE/logs/audit.log"
			--audit-log-format=json)
	fi
	# Without a real node, --endpoint-reconciler-type=none: the kubernetes Service's endpoint
	# would be the loopback advertise address, which the API rejects; kwok pods never call it.
	start kube-apiserver "$BIN/kube-apiserver" \
		--etcd-servers="http://127.0.0.1:$etcd_port" \
		--bind-address="$bind" --advertise-address="$advertise" --secure-port="$API_PORT" \
		--cert-dir="$pki" --tls-cert-file="$pki/apiserver.crt" \
		--tls-private-key-file="$pki/apiserver.key" --client-ca-file="$pki/ca.crt" \
		--authorization-mode=Node,RBAC --anonymous-auth=false --allow-privileged=true \
		--enable-admission-plugins=NodeRestriction \
		--service-account-issuer=https://kubernetes.default.svc.cluster.local \
		--service-account-key-file="$pki/sa.pub" \
		--service-account-signing-key-file="$pki/sa.key" \
		--service-cluster-ip-range="$SERVICE_CIDR" \
		--endpoint-reconciler-type="$endpoints" --profiling=false \
		--kubelet-client-certificate="$pki/apiserver-kubelet-client.crt" \
		--kubelet-client-key="$pki/apiserver-kubelet-client.key" \
		--kubelet-preferred-address-types=InternalIP,Hostname \
		--requestheader-client-ca-file="$pki/ca.crt" --requestheader-allowed-names=front-proxy-client \
		--requestheader-username-headers=X-Remote-User --requestheader-group-headers=X-Remote-Group \
		--requestheader-extra-headers-prefix=X-Remote-Extra- \
		--proxy-client-cert-file="$pki/front-proxy-client.crt" \
		--proxy-client-key-file="$pki/front-proxy-client.key" \
		--event-ttl=1h --storage-backend=etcd3 --v=1 "${audit[@]}"
	wait_for kube-apiserver "kube-apiserver ready on https://127.0.0.1:$API_PORT" \
		kc get --raw /readyz

	start kube-controller-manager "$BIN/kube-controller-manager" \
		--kubeconfig="$STATE/controller-manager.kubeconfig" \
		--bind-address=127.0.0.1 --secure-port=0 --leader-elect=false \
		--use-service-account-credentials=true \
		--service-account-private-key-file="$pki/sa.key" --root-ca-file="$pki/ca.crt" \
		--cluster-signing-cert-file="$pki/ca.crt" --cluster-signing-key-file="$pki/ca.key" \
		--service-cluster-ip-range="$SERVICE_CIDR" --cluster-cidr="$POD_CIDR" \
		--profiling=false --v=1
	start kube-scheduler "$BIN/kube-scheduler" \
		--kubeconfig="$STATE/scheduler.kubeconfig" \
		--bind-address=127.0.0.1 --secure-port=0 --leader-elect=false --profiling=false --v=1
	# kwok's own stages, then the project's (hack/kube-stages/: test stand-ins such as a
	# worker that refuses its model).
	local stage_configs=(--config="$BIN/kwok-stages.yaml") f
	for f in "$ROOT"/hack/kube-stages/*.yaml; do
		if [[ -f $f ]]; then stage_configs+=(--config="$f"); fi
	done
	start kwok "$BIN/kwok" --kubeconfig="$STATE/kubeconfig" "${stage_configs[@]}" \
		--manage-all-nodes=false --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
		--cidr="$POD_CIDR" --node-lease-duration-seconds=40 \
		--server-address="127.0.0.1:$kwok_port"

	nodes_manifest | kc apply -f - >/dev/null
	wait_for kwok "$NODES kwok nodes Ready" \
		kc wait node --selector=type=kwok --for=condition=Ready --timeout=2s
	wait_for kube-controller-manager "kube-controller-manager created the default service account" \
		kc -n default get serviceaccount default
	alive kube-scheduler || failed kube-scheduler "exited"
	if [[ $REAL_NODE == 1 ]]; then
		STARCAST_KUBE_DIR=$STATE "$ROOT/hack/kube-node.sh" up >>"$STATE/env" ||
			die "the real node did not start (above)"
	fi
	if [[ -n ${STARCAST_KUBE_WATCH_PID:-} ]]; then
		# shellcheck disable=SC2016 # expanded by the inner bash
		start watchdog bash -c 'while kill -0 "$1" 2>/dev/null && [[ -e "$2/.starcast-kube-plane" ]]; do
			sleep 2; done; exec "$3" down' _ "$STARCAST_KUBE_WATCH_PID" "$STATE" "$SELF"
	fi
	trap - EXIT
	log "plane up in $((SECONDS - t0))s ($((SECONDS - start))s with build check); state in $STATE"
	cat "$STATE/env"
}

# ---------------------------------------------------------------------------- down

# stop NAME...: TERM these daemons together, wait for them to exit, KILL them after 10 s.
stop() {
	local name pid i pids=() left
	for name in "$@"; do
		pid=$(cat "$STATE/pids/$name.pid" 2>/dev/null) || continue
		# The watchdog runs `down` itself (exec keeps its pid): don't stop ourselves.
		if [[ $pid != "$$" ]] && ours "$pid"; then
			kill -TERM "$pid" 2>/dev/null || true
			pids+=("$pid")
		fi
	done
	for ((i = 1; ${#pids[@]} > 0; i++)); do
		left=()
		for pid in "${pids[@]}"; do
			if ours "$pid"; then left+=("$pid"); fi
		done
		pids=(${left[@]+"${left[@]}"})
		if ((${#pids[@]} > 0 && i == 100)); then
			log "$* still running after 10s; killing ${pids[*]}"
			kill -KILL "${pids[@]}" 2>/dev/null || true
		fi
		((i < 200)) || die "$* did not exit even after SIGKILL (pids ${pids[*]})"
		((${#pids[@]} == 0)) || sleep 0.1
	done
	for name in "$@"; do rm -f "$STATE/pids/$name.pid"; done
}

# Clients first, so the API server isn't left serving their watches, then the API
# server while etcd still answers it, then etcd.
stop_all() {
	stop watchdog
	stop kwok kube-scheduler kube-controller-manager
	stop kube-apiserver
	stop etcd
}

cmd_down() {
	if [[ ! -e $STATE ]]; then
		log "nothing in $STATE"
		return
	fi
	[[ -f "$STATE/$MARKER" ]] || die "$STATE is not a plane's state dir (no $MARKER); not touching it"
	# The node's pods go while the API server still answers its kubelet.
	if [[ -d "$STATE/node" ]]; then
		STARCAST_KUBE_DIR=$STATE "$ROOT/hack/kube-node.sh" down || log "the real node's down failed (above)"
	fi
	stop_all
	rm -rf "$STATE"
	log "stopped; removed $STATE"
}

cmd_status() {
	[[ -f "$STATE/$MARKER" ]] || {
		log "no plane in $STATE"
		return 1
	}
	local name
	for name in "${DAEMONS[@]}" watchdog; do
		if alive "$name"; then
			printf '%-24s pid %s\n' "$name" "$(cat "$STATE/pids/$name.pid")"
		elif [[ $name != watchdog ]]; then
			printf '%-24s not running\n' "$name"
		fi
	done
	if running; then echo "api: ready"; else echo "api: not ready"; fi
}

main() {
	local cmd=${1:-}
	case $cmd in
	build) cmd_build ;;
	up) cmd_up ;;
	down) cmd_down ;;
	status) cmd_status ;;
	env)
		running || die "no running plane in $STATE"
		cat "$STATE/env"
		;;
	pin) cmd_pin ;;
	*)
		sed -n "10,17p" "$SELF" >&2
		exit 2
		;;
	esac
}

main "$@"
