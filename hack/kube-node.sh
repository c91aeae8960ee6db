#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# A real node for the local test plane (hack/kube-plane.sh): real pods of real images.
#
# Debian's containerd and runc, a kubelet and kube-proxy built from the plane's own
# Kubernetes module, the CNI bridge and host-local plugins with no masquerade and no default
# route (pods reach this machine and each other, nothing else), CoreDNS as cluster DNS and
# Traefik as the ingress controller, both pods of images built here. The node is labelled
# and tainted, so only workloads that ask for it land on it (kwok nodes take the rest).
#
# Usage: hack/kube-node.sh build|up|down|status|import ARCHIVE...
#   build   build (cached) what the node runs: pause, CoreDNS, Traefik, crictl and their images
#   up      start the node against the plane in STARCAST_KUBE_DIR (started with
#           STARCAST_KUBE_REAL_NODE=1, so its API server answers pods); waits for the node
#           Ready and for CoreDNS and Traefik; prints export lines
#   down    remove every pod (CNI teardown), stop the node, undo what `up` changed: no
#           process, mount, network namespace, bridge, iptables rule or cgroup left
#   status  the node's processes
#   import  load OCI archives (hack/images.sh archives) into the node's containerd
#
# Environment:
#   STARCAST_KUBE_DIR      the plane's state dir (as hack/kube-plane.sh)
#   STARCAST_KUBE_TIMEOUT  seconds to wait for each component (default 120)
set -euo pipefail
shopt -s inherit_errexit

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly ROOT
readonly NODE_FILES="$ROOT/hack/kube/node"
STATE=${STARCAST_KUBE_DIR:-${TMPDIR:-/tmp}/starcast-kube-$(id -u)}
[[ $STATE == /* ]] || STATE="$PWD/$STATE"
readonly NODE_DIR="$STATE/node"
TIMEOUT=${STARCAST_KUBE_TIMEOUT:-120}
CACHE_ROOT=${STARCAST_KUBE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/starcast/kube}

# The contract with the charts' values (tests/e2e/values): how a workload asks for this node.
readonly NODE_NAME=starcast-node
readonly NODE_LABEL_KEY=starcast.io/node
readonly NODE_LABEL_VALUE=real
readonly NODE_TAINT_KEY=starcast.io/real-node
# Inside the plane's ranges (hack/kube-plane.sh): kwok's fake pod IPs count up from the bottom
# of 10.244.0.0/16, so the real pods take its top /24.
readonly POD_SUBNET=10.244.255.0/24
readonly CLUSTER_CIDR=10.244.0.0/16
readonly SERVICE_CIDR=10.96.0.0/16
readonly DNS_IP=10.96.0.10
readonly INGRESS_IP=10.96.0.80
readonly PAUSE_IMAGE=localhost/starcast/pause:1
readonly DAEMONS=(containerd kubelet kube-proxy)
# One real node per machine: kube-proxy owns the host's KUBE-* iptables chains.
readonly CLAIM=${TMPDIR:-/tmp}/starcast-kube-node.claim

log() { printf '[kube-node] %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

# A name of this node's own, for what lives outside the state dir (bridge, cgroups).
node_id() { printf '%s' "$STATE" | sha256sum | cut -c1-8; }
bridge_name() { echo "scbr$(node_id)"; }
cgroup_root() { echo "/starcast-node-$(node_id)"; }

plane_bin() { sed -n 's/^bin=//p' "$STATE/.starcast-kube-plane"; }
kc() { KUBECACHEDIR="$STATE/kube-cache" "$(plane_bin)/kubectl" --kubeconfig "$STATE/kubeconfig" "$@"; }
addon_bin() { echo "$("$ROOT/hack/kube-addons.sh" dir "$1")/bin/$2"; }
ctr_() { ctr --address "$NODE_DIR/containerd.sock" --namespace k8s.io "$@"; }
crictl_() {
	"$(addon_bin cri-tools crictl)" --runtime-endpoint "unix://$NODE_DIR/containerd.sock" \
		--image-endpoint "unix://$NODE_DIR/containerd.sock" --timeout 30s "$@"
}

# The machine's own address, found at run time: the kubelet's node IP must not be loopback
# (`kubectl logs` needs an address the API server can dial), and pods reach the API server and
# the host's services there.
node_ip() {
	local ip
	ip=$(ip -4 -o addr show scope global | awk '{split($4, a, "/"); print a[1]; exit}')
	[[ -n $ip ]] || die "this machine has no global IPv4 address for the node"
	echo "$ip"
}

# ---------------------------------------------------------------------------- build

need_commands() {
	local c missing=()
	for c in containerd containerd-shim-runc-v2 runc ctr iptables conntrack envsubst; do
		command -v "$c" >/dev/null || missing+=("$c")
	done
	[[ -x /usr/lib/cni/bridge && -x /usr/lib/cni/host-local && -x /usr/lib/cni/portmap ]] ||
		missing+=(containernetworking-plugins)
	((${#missing[@]} == 0)) ||
		die "missing ${missing[*]}: run hack/install-system-deps.sh (make system-deps)"
}

# build_pause: the sandbox program, cached by its source's hash; prints the binary's path.
build_pause() {
	local key out go
	key=$(cat "$NODE_FILES/pause/go.mod" "$NODE_FILES/pause/main.go" | sha256sum | cut -c1-12)
	out="$CACHE_ROOT/node/pause-$key/pause"
	if [[ ! -x $out ]]; then
		go=${GO:-$("$ROOT/hack/go-toolchain.sh")}
		mkdir -p "$(dirname "$out")"
		(cd "$NODE_FILES/pause" && CGO_ENABLED=0 GOTOOLCHAIN=local GOWORK=off GOFLAGS=-buildvcs=false \
			"$go" build -trimpath -ldflags '-s -w' -o "$out.tmp" .) >&2
		mv "$out.tmp" "$out"
	fi
	echo "$out"
}

# node_archives: the OCI archives of the node's own images, one "REF ARCHIVE" per line.
node_archives() {
	local pause coredns traefik
	pause=$(build_pause)
	coredns=$(addon_bin coredns coredns)
	traefik=$(addon_bin traefik traefik)
	printf '%s %s\n' "$PAUSE_IMAGE" "$("$ROOT/hack/images.sh" binary-image "$PAUSE_IMAGE" "$pause" -- /pause)"
	printf '%s %s\n' "$(coredns_image)" \
		"$("$ROOT/hack/images.sh" binary-image "$(coredns_image)" "$coredns" -- /coredns)"
	printf '%s %s\n' "$(traefik_image)" \
		"$("$ROOT/hack/images.sh" binary-image "$(traefik_image)" "$traefik" -- /traefik)"
}

addon_version() { (source "$ROOT/hack/kube/addons/$1/addon.env" && echo "$ADDON_VERSION"); }
coredns_image() { echo "localhost/starcast/coredns:$(addon_version coredns)"; }
traefik_image() { echo "localhost/starcast/traefik:$(addon_version traefik)"; }

cmd_build() {
	need_commands
	"$ROOT/hack/kube-addons.sh" build coredns traefik cri-tools >/dev/null
	node_archives >/dev/null
	log "node binaries and images cached"
}

# ---------------------------------------------------------------------------- up

# start NAME CMD...: a daemon in its own session, its pid in node/pids (as the plane's).
start() {
	local name=$1
	shift
	log "starting $name"
	# shellcheck disable=SC2016 # expanded by the inner bash
	setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$NODE_DIR/pids/$name.pid" "$@" \
		</dev/null >"$NODE_DIR/logs/$name.log" 2>&1 &
	local i
	for i in $(seq 50); do
		[[ -s "$NODE_DIR/pids/$name.pid" ]] && return
		sleep 0.02
	done
	die "$name did not start"
}

alive() {
	local pid
	pid=$(cat "$NODE_DIR/pids/$1.pid" 2>/dev/null) || return 1
	[[ "$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline")" == *"$NODE_DIR"* ]]
}

failed() {
	log "$1: $2; last lines of $NODE_DIR/logs/$1.log:"
	tail -n 30 "$NODE_DIR/logs/$1.log" >&2 || true
	exit 1
}

wait_for() {
	local name=$1 what=$2
	shift 2
	local deadline=$((SECONDS + TIMEOUT))
	until "$@" >/dev/null 2>&1; do
		alive "$name" || failed "$name" "exited while waiting for $what"
		((SECONDS < deadline)) || failed "$name" "timed out after ${TIMEOUT}s waiting for $what"
		sleep 0.5
	done
	log "$what"
}

claim() {
	local owner
	if ! mkdir "$CLAIM" 2>/dev/null; then
		owner=$(cat "$CLAIM/state" 2>/dev/null || true)
		if [[ -n $owner && $owner != "$STATE" && -d "$owner/node" ]]; then
			die "another real node runs on this machine (plane $owner): stop it first" \
				"(STARCAST_KUBE_DIR=$owner hack/kube-plane.sh down)"
		fi
		log "taking over a stale claim of $owner"
	fi
	echo "$STATE" >"$CLAIM/state"
}

# set_sysctl KEY VALUE: set it, remembering the old value for `down`.
set_sysctl() {
	local key=$1 value=$2 file old
	file=/proc/sys/${key//.//}
	old=$(cat "$file")
	[[ $old == "$value" ]] && return
	echo "$key=$old" >>"$NODE_DIR/sysctls.restore"
	echo "$value" >"$file"
}

make_cgroups() {
	local h
	for h in /sys/fs/cgroup/*/; do
		[[ -d $h && ! -L ${h%/} ]] || continue
		mkdir -p "$h$(cgroup_root)"
	done
}

# node_cert NAME SUBJECT EXT: a key and certificate from the plane's CA (as its own certs).
node_cert() {
	local name=$1 subj=$2 ext=$3 pki="$STATE/pki" out="$NODE_DIR/pki"
	openssl ecparam -name prime256v1 -genkey -noout -out "$out/$name.key" 2>/dev/null
	openssl req -new -key "$out/$name.key" -subj "$subj" -out "$out/$name.csr" 2>/dev/null
	printf '%s\n' "$ext" >"$out/$name.ext"
	openssl x509 -req -in "$out/$name.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" \
		-set_serial "0x$(openssl rand -hex 16)" -days 365 -extfile "$out/$name.ext" \
		-out "$out/$name.crt" 2>/dev/null
	rm -f "$out/$name.csr" "$out/$name.ext"
	chmod 600 "$out/$name.key"
}

# node_kubeconfig FILE CERT: a kubeconfig for this node's processes (they run on this
# machine, so loopback reaches the API server).
node_kubeconfig() {
	local file=$1 cert=$2 server
	server=$(sed -n 's/^ *server: //p' "$STATE/kubeconfig" | head -1)
	cat >"$file" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: starcast-kube
  cluster:
    server: $server
    certificate-authority: $STATE/pki/ca.crt
users:
- name: $cert
  user:
    client-certificate: $NODE_DIR/pki/$cert.crt
    client-key: $NODE_DIR/pki/$cert.key
contexts:
- name: starcast-kube
  context: {cluster: starcast-kube, user: $cert}
current-context: starcast-kube
EOF
	chmod 600 "$file"
}

write_containerd_config() {
	cat >"$NODE_DIR/containerd.toml" <<EOF
version = 2
root = "$NODE_DIR/containerd/root"
state = "$NODE_DIR/containerd/state"
# Plugins this node has no use for (and some can't start in a container).
disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.aufs", "io.containerd.tracing.processor.v1.otlp"]

[grpc]
  address = "$NODE_DIR/containerd.sock"

[ttrpc]
  address = "$NODE_DIR/containerd.sock.ttrpc"

[debug]
  address = ""

[metrics]
  address = ""

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  # In a container the OOM score can only go up: without this, runc fails to start a pod
  # ("can't get final child's PID from pipe: EOF").
  restrict_oom_score_adj = true
  disable_apparmor = true
  enable_selinux = false
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$NODE_DIR/cni/net.d"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = ""
EOF
}

# The bridge without masquerade or a default route: a pod's routes are its subnet (on the
# bridge), this machine's address and the Service range, so it reaches nothing else.
write_cni_config() {
	local ip=$1
	mkdir -p "$NODE_DIR/cni/net.d" "$NODE_DIR/cni/ipam"
	cat >"$NODE_DIR/cni/net.d/10-starcast.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "starcast",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$(bridge_name)",
      "isGateway": true,
      "isDefaultGateway": false,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$NODE_DIR/cni/ipam",
        "ranges": [[{"subnet": "$POD_SUBNET"}]],
        "routes": [{"dst": "$ip/32"}, {"dst": "$SERVICE_CIDR"}]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
}

write_kubelet_config() {
	local ip=$1 port=$2 healthz=$3
	# An empty resolv.conf: pods resolve through cluster DNS only, never this machine's resolver.
	: >"$NODE_DIR/resolv.conf"
	cat >"$NODE_DIR/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# This machine is a container on cgroup v1 (hybrid): kubelet v1.36 refuses it unless told.
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: $(cgroup_root)
failSwapOn: false
containerRuntimeEndpoint: unix://$NODE_DIR/containerd.sock
address: $ip
port: $port
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $healthz
tlsCertFile: $NODE_DIR/pki/kubelet-serving.crt
tlsPrivateKeyFile: $NODE_DIR/pki/kubelet-serving.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $STATE/pki/ca.crt}
authorization: {mode: Webhook}
clusterDomain: cluster.local
clusterDNS: [$DNS_IP]
resolvConf: $NODE_DIR/resolv.conf
registerWithTaints:
  - {key: $NODE_TAINT_KEY, value: "true", effect: NoSchedule}
# The disk is shared with everything else on this machine: evict only when it is really full,
# and keep the images (none can be pulled again).
evictionHard: {memory.available: 200Mi, nodefs.available: 2%, imagefs.available: 2%, nodefs.inodesFree: 2%}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
maxPods: 110
nodeStatusReportFrequency: 10s
shutdownGracePeriod: 0s
EOF
}

write_kube_proxy_config() {
	local ip=$1 healthz=$2 metrics=$3
	cat >"$NODE_DIR/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
clientConnection:
  kubeconfig: $NODE_DIR/kube-proxy.kubeconfig
hostnameOverride: $NODE_NAME
bindAddress: $ip
clusterCIDR: $CLUSTER_CIDR
healthzBindAddress: 127.0.0.1:$healthz
metricsBindAddress: 127.0.0.1:$metrics
nodePortAddresses: [$ip/32]
# No sysctl writes kube-proxy would leave behind: conntrack sized by the host, no
# route_localnet for NodePorts on loopback.
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
iptables: {localhostNodePorts: false, masqueradeAll: false}
EOF
}

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

node_ready() { kc wait "node/$NODE_NAME" --for=condition=Ready --timeout=1s; }

cmd_import() {
	local archive
	for archive in "$@"; do
		log "importing $(basename "$archive")"
		ctr_ images import "$archive" >&2
	done
}

render() { # render FILE: a manifest of hack/kube/node with the node's values
	env NODE_LABEL_KEY="$NODE_LABEL_KEY" NODE_LABEL_VALUE="$NODE_LABEL_VALUE" \
		NODE_TAINT_KEY="$NODE_TAINT_KEY" DNS_IP="$DNS_IP" INGRESS_IP="$INGRESS_IP" \
		COREDNS_IMAGE="$(coredns_image)" TRAEFIK_IMAGE="$(traefik_image)" envsubst <"$NODE_FILES/$1"
}

up_exit() {
	local rc=$?
	if ((rc != 0)); then
		log "up failed; stopping the node (logs kept in $NODE_DIR/logs until the plane's down)"
		stop_node
	fi
}

cmd_up() {
	[[ -f "$STATE/.starcast-kube-plane" ]] || die "no plane in $STATE: start it with hack/kube-plane.sh up"
	[[ -f "$STATE/real-node" ]] ||
		die "the plane in $STATE was started without STARCAST_KUBE_REAL_NODE=1: its API server answers only loopback, which pods can't reach"
	if alive kubelet; then
		log "already running"
		node_env
		return
	fi
	need_commands
	local start=$SECONDS ip archives
	ip=$(node_ip)
	archives=$(node_archives)
	claim
	mkdir -p "$NODE_DIR"/{pids,logs,pki,kubelet,containerd}
	trap up_exit EXIT
	set_sysctl net.ipv4.ip_forward 1
	[[ -e /proc/sys/net/bridge/bridge-nf-call-iptables ]] && set_sysctl net.bridge.bridge-nf-call-iptables 1
	make_cgroups

	write_containerd_config
	write_cni_config "$ip"
	start containerd containerd --config "$NODE_DIR/containerd.toml" --log-level warn
	wait_for containerd "containerd answers" ctr_ version
	# shellcheck disable=SC2046 # one archive path per word
	cmd_import $(awk '{print $2}' <<<"$archives")

	node_cert kubelet "/O=system:nodes/CN=system:node:$NODE_NAME" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"
	node_cert kubelet-serving "/O=system:nodes/CN=system:node:$NODE_NAME" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:$ip,DNS:$NODE_NAME"
	node_cert kube-proxy "/CN=system:kube-proxy" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"
	node_kubeconfig "$NODE_DIR/kubelet.kubeconfig" kubelet
	node_kubeconfig "$NODE_DIR/kube-proxy.kubeconfig" kube-proxy
	write_kubelet_config "$ip" "$(free_port)" "$(free_port)"
	write_kube_proxy_config "$ip" "$(free_port)" "$(free_port)"

	local bin
	bin=$(plane_bin)
	start kubelet "$bin/kubelet" --config="$NODE_DIR/kubelet.yaml" \
		--kubeconfig="$NODE_DIR/kubelet.kubeconfig" --root-dir="$NODE_DIR/kubelet" \
		--cert-dir="$NODE_DIR/pki" --hostname-override="$NODE_NAME" --node-ip="$ip" \
		--node-labels="$NODE_LABEL_KEY=$NODE_LABEL_VALUE" --v=1
	wait_for kubelet "node $NODE_NAME Ready at $ip" node_ready
	start kube-proxy "$bin/kube-proxy" --config="$NODE_DIR/kube-proxy.yaml" --v=1

	render coredns.yaml | kc apply -f - >/dev/null
	render traefik.yaml | kc apply -f - >/dev/null
	wait_for kubelet "CoreDNS Ready" kc -n kube-system rollout status deployment/coredns --timeout=2s
	wait_for kubelet "Traefik Ready" kc -n kube-system rollout status deployment/traefik --timeout=2s
	alive kube-proxy || failed kube-proxy "exited"
	trap - EXIT
	log "node up in $((SECONDS - start))s"
	node_env
}

node_env() {
	printf 'export STARCAST_KUBE_NODE=%q\n' "$NODE_NAME"
	printf 'export STARCAST_KUBE_NODE_IP=%q\n' "$(node_ip)"
	printf 'export STARCAST_KUBE_NODE_CONTAINERD=%q\n' "$NODE_DIR/containerd.sock"
	printf 'export STARCAST_KUBE_INGRESS_IP=%q\n' "$INGRESS_IP"
}

# ---------------------------------------------------------------------------- down

stop() { # stop NAME: TERM, then KILL after 15 s
	local pid i
	pid=$(cat "$NODE_DIR/pids/$1.pid" 2>/dev/null) || return 0
	alive "$1" || {
		rm -f "$NODE_DIR/pids/$1.pid"
		return 0
	}
	kill -TERM "$pid" 2>/dev/null || true
	for i in $(seq 150); do
		alive "$1" || break
		sleep 0.1
	done
	if alive "$1"; then
		log "$1 still running after 15s; killing it"
		kill -KILL "$pid" 2>/dev/null || true
		sleep 0.2
	fi
	rm -f "$NODE_DIR/pids/$1.pid"
}

# Shims outlive containerd by design; ours name our socket on their command line.
kill_shims() {
	local pid
	for pid in $(pgrep -f "containerd-shim.*$NODE_DIR/containerd.sock" || true); do
		kill -KILL "$pid" 2>/dev/null || true
	done
}

unmount_all() { # every mount below the node's dir, deepest first
	local mp
	awk '{print $5}' /proc/self/mountinfo | grep -F "$NODE_DIR/" | sort -r | while read -r mp; do
		umount "$mp" 2>/dev/null || umount -l "$mp" 2>/dev/null || log "could not unmount $mp"
	done
}

# The kubelet's own chains (its canary, the hint for kube-proxy, the localnet firewall), which
# it never removes; kube-proxy's go with `kube-proxy --cleanup`.
remove_kubelet_chains() {
	local cmd table chain rule
	for cmd in iptables ip6tables; do
		command -v "$cmd" >/dev/null || continue
		for table in filter nat mangle; do
			while read -r rule; do
				[[ $rule =~ ^-A\ [A-Z]+\ .*-j\ KUBE-(FIREWALL|KUBELET-CANARY|IPTABLES-HINT) ]] || continue
				# The rule's words as iptables-save quoted them.
				eval "$cmd -t $table ${rule/-A/-D}" 2>/dev/null || true
			done < <("$cmd-save" -t "$table" 2>/dev/null || true)
			for chain in KUBE-FIREWALL KUBE-KUBELET-CANARY KUBE-IPTABLES-HINT; do
				"$cmd" -t "$table" -F "$chain" 2>/dev/null && "$cmd" -t "$table" -X "$chain" 2>/dev/null || true
			done
		done
	done
}

remove_cgroups() {
	local h
	for h in /sys/fs/cgroup/*/; do
		[[ -d "$h$(cgroup_root)" ]] || continue
		find "$h$(cgroup_root)" -depth -type d -exec rmdir {} + 2>/dev/null || true
	done
}

restore_sysctls() {
	local line
	[[ -f "$NODE_DIR/sysctls.restore" ]] || return 0
	while IFS='=' read -r key value; do
		echo "$value" >"/proc/sys/${key//.//}" || log "could not restore $key=$value"
	done < <(tac "$NODE_DIR/sysctls.restore")
	rm -f "$NODE_DIR/sysctls.restore"
}

stop_node() {
	[[ -d $NODE_DIR ]] || return 0
	stop kubelet
	# Pods first, through the CRI, so the CNI tears each network down (veth, IP, netns).
	if alive containerd; then
		crictl_ rmp --all --force >/dev/null 2>&1 || log "crictl rmp failed; killing the shims"
	fi
	stop kube-proxy
	if [[ -f "$NODE_DIR/kube-proxy.yaml" ]]; then
		"$(plane_bin)/kube-proxy" --cleanup --config="$NODE_DIR/kube-proxy.yaml" \
			>"$NODE_DIR/logs/kube-proxy-cleanup.log" 2>&1 || log "kube-proxy --cleanup failed"
	fi
	stop containerd
	kill_shims
	unmount_all
	ip link delete "$(bridge_name)" 2>/dev/null || true
	remove_kubelet_chains
	remove_cgroups
	restore_sysctls
	if [[ "$(cat "$CLAIM/state" 2>/dev/null || true)" == "$STATE" ]]; then rm -rf "$CLAIM"; fi
}

cmd_down() {
	stop_node
	# containerd's snapshots are owned by root and may be read-only: remove them now, so the
	# plane's `down` can remove the state dir.
	rm -rf "$NODE_DIR"
	log "node stopped"
}

cmd_status() {
	local name
	for name in "${DAEMONS[@]}"; do
		if alive "$name"; then
			printf '%-12s pid %s\n' "$name" "$(cat "$NODE_DIR/pids/$name.pid")"
		else
			printf '%-12s not running\n' "$name"
		fi
	done
}

main() {
	local cmd=${1:-}
	shift || true
	case $cmd in
	build) cmd_build ;;
	up) cmd_up ;;
	down) cmd_down ;;
	status) cmd_status ;;
	import) cmd_import "$@" ;;
	*)
		sed -n "11,20p" "$0" >&2
		exit 2
		;;
	esac
}

main "$@"
