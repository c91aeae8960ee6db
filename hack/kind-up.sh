#!/usr/bin/env bash
# starcast on a kind cluster, for people with Docker (it can't run where no container engine does).
#
# The same steps the tests exercise on the local plane (hack/kube-plane.sh), on a real cluster:
# build and load the project's images, install KubeRay and the charts with helm, apply the
# example TrainingRun.
#
# Usage: hack/kind-up.sh [up|down]
#   up    (default) create the cluster if missing, build and load the images, install
#         KubeRay, charts/starcast-operator and charts/starcast-serving, apply
#         examples/trainingrun.yaml
#   down  delete the cluster
#
# Environment:
#   KIND_CLUSTER      cluster name (default starcast)
#   KIND_NODE_IMAGE   node image for `kind create cluster --image` (default: kind's own)
#   KUBERAY_VERSION   KubeRay operator chart version (default below)
#   IMAGE_TAG         tag of the images built from images/<name>/Dockerfile (default dev)
#   KIND, KUBECTL, HELM, DOCKER  the commands to use (default: on PATH; kubectl and helm
#                     fall back to the pinned ones built by hack/kube-plane.sh build)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly ROOT
readonly CLUSTER=${KIND_CLUSTER:-starcast}
readonly KUBERAY_VERSION=${KUBERAY_VERSION:-1.5.1}  # the tests run this one (hack/kube/addons/kuberay/addon.env)
readonly IMAGE_TAG=${IMAGE_TAG:-dev}
readonly IMAGES=(operator frontend worker trainer)
# One namespace, as the README: the operator watches its release's, where the examples go.
readonly OPERATOR_NS=starcast
readonly SERVING_NS=starcast
readonly KUBERAY_NS=kuberay-system
readonly TIMEOUT=10m

log() { printf '[kind-up] %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

# need VAR NAME: the command in $VAR, or NAME on PATH; fail naming what to install.
need() {
	local var=$1 name=$2 cmd
	cmd=${!var:-$(command -v "$name" || true)}
	[[ -n $cmd ]] || die "$name not found: install it or set $var"
	printf '%s' "$cmd"
}

# tool VAR NAME: the command in $VAR, else NAME on PATH, else the pinned one the tests
# use (built once by hack/kube-plane.sh build).
tool() {
	local var=$1 name=$2 cmd bin
	cmd=${!var:-$(command -v "$name" || true)}
	if [[ -z $cmd ]]; then
		log "no $name on PATH: using the pinned one from hack/kube-plane.sh build"
		bin=$("$ROOT/hack/kube-plane.sh" build)
		cmd="$bin/$name"
	fi
	printf '%s' "$cmd"
}

setup_tools() {
	KIND=$(need KIND kind)
	DOCKER=$(need DOCKER docker)
	KUBECTL=$(tool KUBECTL kubectl)
	HELM=$(tool HELM helm)
	"$DOCKER" info >/dev/null 2>&1 || die "no Docker engine answers ($DOCKER info failed)"
}

kc() { "$KUBECTL" --context "kind-$CLUSTER" "$@"; }
hm() { "$HELM" --kube-context "kind-$CLUSTER" "$@"; }

create_cluster() {
	if "$KIND" get clusters | grep -qx "$CLUSTER"; then
		log "cluster $CLUSTER exists"
		return
	fi
	local args=(create cluster --name "$CLUSTER" --wait 120s)
	[[ -n ${KIND_NODE_IMAGE:-} ]] && args+=(--image "$KIND_NODE_IMAGE")
	log "creating cluster $CLUSTER"
	"$KIND" "${args[@]}"
}

# Every image builds from the repository root, so Dockerfiles can copy the package.
build_and_load_images() {
	local name dockerfile image
	for name in "${IMAGES[@]}"; do
		dockerfile="$ROOT/images/$name/Dockerfile"
		[[ -f $dockerfile ]] || die "missing $dockerfile (images/<name>/Dockerfile for ${IMAGES[*]})"
		image="starcast-$name:$IMAGE_TAG"
		log "building $image"
		"$DOCKER" build --file "$dockerfile" --tag "$image" "$ROOT"
		"$KIND" load docker-image "$image" --name "$CLUSTER"
	done
}

install_kuberay() {
	log "installing KubeRay $KUBERAY_VERSION"
	hm repo add kuberay https://ray-project.github.io/kuberay-helm/ --force-update >/dev/null
	hm upgrade --install kuberay-operator kuberay/kuberay-operator \
		--version "$KUBERAY_VERSION" --namespace "$KUBERAY_NS" --create-namespace \
		--wait --timeout "$TIMEOUT"
}

# chart_values CHART: the chart's kind scenario values (ci/kind-values.yaml), if it has one.
chart_values() {
	local file="$ROOT/charts/$1/ci/kind-values.yaml"
	[[ -f $file ]] && printf '%s\n' --values "$file"
	return 0
}

install_charts() {
	local values
	log "installing charts/starcast-operator"
	mapfile -t values < <(chart_values starcast-operator)
	hm upgrade --install starcast-operator "$ROOT/charts/starcast-operator" \
		--namespace "$OPERATOR_NS" --create-namespace "${values[@]}" \
		--set image.repository=starcast-operator --set image.tag="$IMAGE_TAG" \
		--set image.pullPolicy=IfNotPresent --set trainerImage="starcast-trainer:$IMAGE_TAG" \
		--wait --timeout "$TIMEOUT"
	log "installing charts/starcast-serving"
	mapfile -t values < <(chart_values starcast-serving)
	hm upgrade --install serving "$ROOT/charts/starcast-serving" \
		--namespace "$SERVING_NS" --create-namespace "${values[@]}" \
		--set frontend.image.repository=starcast-frontend --set frontend.image.tag="$IMAGE_TAG" \
		--set worker.image.repository=starcast-worker --set worker.image.tag="$IMAGE_TAG"
	# No --wait: the workers become Ready once a ModelRelease gives them a model.
	kc -n "$SERVING_NS" rollout status "deployment/serving-starcast-serving-frontend" --timeout "$TIMEOUT" || true
	log "serving installed; workers wait for a model (kubectl apply -n $SERVING_NS -f examples/modelrelease.yaml)"
}

apply_example() {
	kc wait --for=condition=Established crd/trainingruns.starcast.io --timeout=60s
	log "applying examples/trainingrun.yaml"
	kc apply --namespace "$SERVING_NS" -f "$ROOT/examples/trainingrun.yaml"
	kc get trainingruns --namespace "$SERVING_NS"
	log "done: watch it with kubectl --context kind-$CLUSTER get trainingruns -A -w"
}

main() {
	case ${1:-up} in
	up)
		setup_tools
		create_cluster
		build_and_load_images
		install_kuberay
		install_charts
		apply_example
		;;
	down)
		KIND=$(need KIND kind)
		"$KIND" delete cluster --name "$CLUSTER"
		;;
	*)
		sed -n '8,12p' "${BASH_SOURCE[0]}" >&2
		exit 2
		;;
	esac
}

main "$@"
