#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Builds the images of images/*/Dockerfile on this machine, unchanged, with buildah: no Docker
# engine and no image registry. The base images the Dockerfiles name in FROM are bootstrapped
# from Debian packages (mmdebstrap) and PyPI wheels, under the names the Dockerfiles expect.
#
# Usage: hack/images.sh build|archives|binary-image|ref|key|buildah
#   build [NAME...]        build what is not cached; one line per image: name, reference, size,
#                          seconds, built|cached (NAME: operator frontend worker trainer rabbitmq,
#                          default all)
#   archives [NAME...]     the OCI archives of the images, one path a line (built if missing),
#                          for `ctr -n k8s.io images import`
#   binary-image REF FILE... [-- ENTRYPOINT...]
#                          a FROM-scratch image holding the static FILEs at /<basename>, its
#                          entrypoint /<first file> unless given; prints its OCI archive's path
#   ref NAME               the reference NAME is tagged with (rabbitmq: once built)
#   key NAME               the cache key of NAME (a hash of every input of its build)
#   buildah ARGS...        buildah on this script's storage (buildah inspect, from, run...)
#
# Images (base ones are built when a Dockerfile needs them):
#   python    the Dockerfiles' PYTHON_IMAGE default: Debian minbase + python3 + ca-certificates
#   uv        the uv stage's image: /uv, from the uv wheel on PyPI at the stage's tag
#   ray       the trainer's RAY_IMAGE default: python + Ray from PyPI at its RAY_VERSION, user
#             ray (uid 1000, gid 100), /home/ray
#   operator frontend worker trainer
#             images/NAME/Dockerfile, tagged as the charts' defaults name them
#   rabbitmq  Debian's rabbitmq-server with the official image's contract (hack/images/rabbitmq/),
#             under a name of its own: localhost/starcast-test/rabbitmq:debian-VERSION
#
# Cache: $CACHE/archives/NAME-KEY.tar (+ .ref .id .seconds), KEY hashing every input: the
# Dockerfile, the context files it copies, the base images' keys, the recipes and the pins. The
# images also live in buildah storage at $CACHE/storage (runroot $CACHE/run); an image missing
# there is loaded back from its archive.
#
# Environment:
#   STARCAST_IMAGES_CACHE      cache dir (default ${XDG_CACHE_HOME:-$HOME/.cache}/starcast/images)
#   STARCAST_IMAGES_CA_BUNDLE  CA bundle the python base trusts (default: this machine's)
#   STARCAST_IMAGES_MIRROR     Debian mirror (default http://deb.debian.org/debian)
set -euo pipefail
shopt -s inherit_errexit # a failure inside $(...) fails the caller too

readonly BUILD_REV=1 # bump when how images are built changes, to re-key every image
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly ROOT
readonly RECIPES="$ROOT/hack/images"
CACHE=${STARCAST_IMAGES_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/starcast/images}
[[ $CACHE == /* ]] || CACHE="$PWD/$CACHE"
readonly CACHE ARCHIVES="$CACHE/archives" LOGS="$CACHE/logs"
readonly CA_BUNDLE=${STARCAST_IMAGES_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
readonly MIRROR=${STARCAST_IMAGES_MIRROR:-http://deb.debian.org/debian}
readonly SUITE=bookworm # the suite of the PYTHON_IMAGE default (python:*-slim-bookworm)
readonly PROJECT_IMAGES=(operator frontend worker trainer rabbitmq)

log() { printf '[images] %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

bah() {
	buildah --root "$CACHE/storage" --runroot "$CACHE/run" --storage-driver overlay "$@"
}

sha() { sha256sum | cut -c1-16; }
now() { date +%s.%N; }
since() { awk -v start="$1" -v now="$(now)" 'BEGIN { printf "%.1f", now - start }'; }

# ------------------------------------------------------------------- reading the Dockerfiles

dockerfile() { echo "$ROOT/images/$1/Dockerfile"; }

# dockerfile_arg FILE NAME: the default of a global ARG (before the first FROM), with earlier
# ARGs substituted, as BuildKit expands it.
dockerfile_arg() {
	local file=$1 wanted=$2 line name value known
	declare -A args=()
	while IFS= read -r line; do
		[[ $line =~ ^[[:space:]]*FROM[[:space:]] ]] && break
		[[ $line =~ ^[[:space:]]*ARG[[:space:]]+([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]] || continue
		name=${BASH_REMATCH[1]} value=${BASH_REMATCH[2]}
		for known in "${!args[@]}"; do
			value=${value//\$\{$known\}/${args[$known]}}
			value=${value//\$$known/${args[$known]}}
		done
		args[$name]=$value
	done <"$file"
	[[ -n ${args[$wanted]:-} ]] || die "$file has no global ARG $wanted with a default"
	echo "${args[$wanted]}"
}

# dockerfile_from FILE: each FROM's image, ARGs expanded, stage names (FROM build) left out.
dockerfile_from() {
	local file=$1 line ref var stages=" "
	while IFS= read -r line; do
		[[ $line =~ ^[[:space:]]*FROM[[:space:]]+([^[:space:]]+)([[:space:]]+[Aa][Ss][[:space:]]+([^[:space:]]+))? ]] || continue
		ref=${BASH_REMATCH[1]}
		while [[ $ref =~ \$\{([A-Za-z_][A-Za-z0-9_]*)\} ]]; do
			var=${BASH_REMATCH[1]}
			ref=${ref//\$\{$var\}/$(dockerfile_arg "$file" "$var")}
		done
		[[ -n ${BASH_REMATCH[3]:-} ]] && stages+="${BASH_REMATCH[3]} "
		[[ $stages == *" $ref "* ]] || echo "$ref"
	done <"$file" | awk '!seen[$0]++'
}

# qualified REF: the full name a short one stands for (docker.io, library/), as containerd's CRI
# and buildah resolve it, so the local image answers to both spellings.
qualified() {
	local ref=$1 first=${1%%/*}
	if [[ $ref != */* ]]; then
		ref=docker.io/library/$ref
	elif [[ $first != *.* && $first != *:* && $first != localhost ]]; then
		ref=docker.io/$ref
	fi
	echo "$ref"
}

# dockerfile_context FILE: the build-context paths its COPY instructions take (not --from ones).
dockerfile_context() {
	local line words
	grep -E '^[[:space:]]*COPY[[:space:]]' "$1" | grep -v -- '--from=' | while IFS= read -r line; do
		read -r -a words <<<"${line#*COPY}"
		words=("${words[@]/#--*/}")
		printf '%s\n' "${words[@]:0:${#words[@]}-1}"
	done | grep -v '^$' | sort -u
}

# The refs the base recipes are tagged with, read from the Dockerfiles that name them.
python_ref() {
	local name refs=()
	for name in operator frontend worker; do
		refs+=("$(dockerfile_arg "$(dockerfile "$name")" PYTHON_IMAGE)")
	done
	[[ $(printf '%s\n' "${refs[@]}" | sort -u | wc -l) -eq 1 ]] ||
		die "images/{operator,frontend,worker} name different PYTHON_IMAGE defaults (${refs[*]}); the python recipe builds one"
	echo "${refs[0]}"
}
uv_ref() { dockerfile_from "$(dockerfile trainer)" | grep -E '/uv:[^:]+$' | head -1; }
ray_ref() { dockerfile_arg "$(dockerfile trainer)" RAY_IMAGE; }
ray_version() { dockerfile_arg "$(dockerfile trainer)" RAY_VERSION; }

# The base recipe that provides a FROM image.
recipe_for() {
	case $1 in
	"$(python_ref)") echo python ;;
	"$(uv_ref)") echo uv ;;
	"$(ray_ref)") echo ray ;;
	*) die "no recipe here builds the base image $1 (hack/images.sh knows python, uv, ray)" ;;
	esac
}

bases_of() {
	local ref
	case $1 in
	python | uv | rabbitmq) ;;
	ray) printf '%s\n' python uv ;;
	operator | frontend | worker | trainer)
		dockerfile_from "$(dockerfile "$1")" | while read -r ref; do recipe_for "$ref"; done
		;;
	*) die "unknown image $1 (one of: ${PROJECT_IMAGES[*]})" ;;
	esac
}

# The chart value a project image must match, so the charts' defaults find it.
chart_value() { # chart_value CHART_FILE REGEX: the first match's group 1
	sed -nE "s|$2|\1|p" "$ROOT/charts/$1" | head -1
}
project_ref() {
	local repo tag
	case $1 in
	operator) repo=$(chart_value starcast-operator/values.yaml '^  repository: (.*/starcast-operator)$')
		tag=$(chart_value starcast-operator/Chart.yaml '^appVersion: "?([^"]*)"?$') ;;
	frontend | worker) repo=$(chart_value starcast-serving/values.yaml "^    repository: (.*/starcast-$1)\$")
		tag=$(chart_value starcast-serving/Chart.yaml '^appVersion: "?([^"]*)"?$') ;;
	trainer) chart_value starcast-operator/values.yaml '^trainerImage: "?([^"]*)"?$'
		return ;;
	esac
	[[ -n $repo && -n $tag ]] || die "cannot read the $1 image's repository and tag from charts/"
	echo "$repo:$tag"
}

# ------------------------------------------------------------------------------- cache keys

files_digest() { # files_digest PATH...: content and mode of every file, __pycache__ excluded
	(cd "$ROOT" && find "$@" -type f -not -path '*/__pycache__/*' -print0 | sort -z |
		xargs -0 stat -c '%a %n' | while read -r mode path; do
			echo "$mode $path $(sha256sum <"$path" | cut -d' ' -f1)"
		done)
}

key_of() {
	local name=$1 base
	{
		echo "rev=$BUILD_REV name=$name"
		for base in $(bases_of "$name"); do echo "base $base $(key_of "$base")"; done
		case $name in
		python)
			echo "ref=$(python_ref) suite=$SUITE mirror=$MIRROR"
			declare -f recipe_python debian_rootfs
			sha256sum <"$CA_BUNDLE"
			;;
		uv) echo "ref=$(uv_ref) arch=$(uname -m)" && declare -f recipe_uv ;;
		ray) echo "ref=$(ray_ref) version=$(ray_version)" && declare -f recipe_ray &&
			files_digest hack/images/ray ;;
		rabbitmq) echo "suite=$SUITE mirror=$MIRROR" && declare -f recipe_rabbitmq debian_rootfs &&
			files_digest hack/images/rabbitmq ;;
		*)
			echo "ref=$(project_ref "$name")"
			declare -f recipe_project
			mapfile -t context < <(dockerfile_context "$(dockerfile "$name")")
			files_digest "images/$name/Dockerfile" .dockerignore "${context[@]}"
			;;
		esac
	} | sha
}

archive_of() { echo "$ARCHIVES/$1-$(key_of "$1").tar"; }

# -------------------------------------------------------------------------------- recipes
# Each recipe builds image $1 into buildah storage and tags it; it may use $WORK (scratch).

# debian_rootfs TAR PACKAGES HOOK...: a bookworm minbase tarball, docs and man pages left out
# (as Docker's slim images do), with the security and point-release updates.
debian_rootfs() {
	local tar=$1 packages=$2
	shift 2
	mmdebstrap --variant=minbase --include="$packages" --format=tar \
		--dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
		--dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
		--dpkgopt='path-exclude=/usr/share/locale/*' --aptopt='APT::Install-Recommends "false"' \
		"$@" "$SUITE" "$tar" \
		"deb $MIRROR $SUITE main" "deb $MIRROR $SUITE-updates main" \
		"deb ${MIRROR%/debian}/debian-security $SUITE-security main"
}

# rootfs_image REF TAR CONFIG...: an image of one layer, the tarball, with buildah config flags.
rootfs_image() {
	local ref=$1 tar=$2 ctr
	shift 2
	ctr=$(bah from --pull=never scratch)
	bah add "$ctr" "$tar" / >/dev/null
	bah config "$@" "$ctr"
	bah commit --rm "$ctr" "$ref" >/dev/null
}

recipe_python() {
	# The machine's CA bundle replaces the image's: uv inside the builds then trusts the same
	# package registry (and any TLS proxy) this machine trusts.
	debian_rootfs "$WORK/rootfs.tar" python3,ca-certificates \
		--customize-hook="cp '$CA_BUNDLE' \"\$1/etc/ssl/certs/ca-certificates.crt\"" \
		--customize-hook='ln -s /usr/bin/python3 "$1/usr/local/bin/python"' \
		--customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*'
	rootfs_image "$REF" "$WORK/rootfs.tar" \
		--env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		--env LANG=C.UTF-8 --env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
		--cmd '["python3"]' --label org.opencontainers.image.description="starcast: Debian $SUITE python3, stand-in for $(python_ref)"
}

recipe_uv() {
	local ref version platform ctr
	ref=$(uv_ref)
	version=${ref##*:}
	# The musllinux wheel's uv is static, like the one the real image holds.
	platform=musllinux_1_1_$(uname -m)
	"$(pip_python)" -m pip download --quiet --disable-pip-version-check --no-deps \
		--only-binary=:all: --platform "$platform" --dest "$WORK" "uv==$version"
	(cd "$WORK" && unzip -q -o -j uv-*.whl "uv-$version.data/scripts/uv")
	ctr=$(bah from --pull=never scratch)
	bah copy --chmod 0755 "$ctr" "$WORK/uv" /uv
	bah config --entrypoint '["/uv"]' "$ctr"
	bah commit --rm "$ctr" "$REF" >/dev/null
}

pip_python() {
	local python
	for python in "$ROOT/.venv/bin/python" python3; do
		if "$python" -m pip --version >/dev/null 2>&1; then
			command -v "$python"
			return
		fi
	done
	die "no python with pip to download the uv wheel (make venv, or install python3-pip)"
}

recipe_ray() {
	bah bud --pull=never --network host --isolation chroot --layers=false \
		--build-arg PYTHON_IMAGE="$(python_ref)" --build-arg UV_IMAGE="$(uv_ref)" \
		--build-arg RAY_VERSION="$(ray_version)" \
		-f "$RECIPES/ray/Containerfile" -t "$REF" "$RECIPES/ray"
}

recipe_rabbitmq() {
	local version
	# The official image's rabbitmq user is uid 100, gid 101 (its Alpine variant, which the
	# chart's podSecurityContext names): made before the package's postinst, which then keeps it.
	debian_rootfs "$WORK/rootfs.tar" rabbitmq-server \
		--essential-hook='echo "rabbitmq:x:101:" >>"$1/etc/group"' \
		--essential-hook='echo "rabbitmq:x:100:101:RabbitMQ messaging server:/var/lib/rabbitmq:/usr/sbin/nologin" >>"$1/etc/passwd"' \
		--essential-hook='echo "rabbitmq:*:19000:0:99999:7:::" >>"$1/etc/shadow"' \
		--customize-hook="sync-in '$RECIPES/rabbitmq/etc' /etc/rabbitmq" \
		--customize-hook="upload '$RECIPES/rabbitmq/docker-entrypoint.sh' /usr/local/bin/docker-entrypoint.sh" \
		--customize-hook='chmod 0755 "$1/usr/local/bin/docker-entrypoint.sh"' \
		--customize-hook='chown -R 100:101 "$1/var/lib/rabbitmq" "$1/var/log/rabbitmq" "$1/etc/rabbitmq"' \
		--customize-hook="chroot \"\$1\" dpkg-query -W -f='\${Version}' rabbitmq-server >'$WORK/version'" \
		--customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*'
	version=$(tr '+~:' '---' <"$WORK/version")
	echo "localhost/starcast-test/rabbitmq:debian-$version" >"$WORK/ref"
	# The official image's contract: its environment, entrypoint, ports and data volume.
	rootfs_image "$(cat "$WORK/ref")" "$WORK/rootfs.tar" \
		--env PATH=/usr/lib/rabbitmq/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		--env RABBITMQ_DATA_DIR=/var/lib/rabbitmq --env HOME=/var/lib/rabbitmq \
		--env LANG=C.UTF-8 --env LANGUAGE=C.UTF-8 --env LC_ALL=C.UTF-8 \
		--user 100:101 --workingdir /var/lib/rabbitmq --volume /var/lib/rabbitmq \
		--port 4369 --port 5671 --port 5672 --port 15691 --port 15692 --port 25672 \
		--entrypoint '["docker-entrypoint.sh"]' --cmd '["rabbitmq-server"]' \
		--label org.opencontainers.image.description="starcast tests: Debian $SUITE rabbitmq-server $(cat "$WORK/version") with the official image's contract"
}

recipe_project() {
	# The Dockerfile as it is, from the repository root, as `docker build -f` builds it.
	bah bud --pull=never --network host --isolation chroot --layers=false \
		-f "$(dockerfile "$1")" -t "$REF" "$ROOT"
}

# ------------------------------------------------------------------------------- building

image_id() { bah inspect --type image --format '{{.FromImageID}}' "$1" 2>/dev/null || true; }

# loaded NAME: its cached image is in buildah storage under its ref (loaded from the archive if
# the storage lost it), so the builds that name it in FROM find it with --pull=never.
loaded() {
	local archive ref id
	archive=$(archive_of "$1")
	ref=$(cat "$archive.ref") id=$(cat "$archive.id")
	[[ $(image_id "$ref") == "$id" ]] && return
	log "loading $1 into buildah storage from $archive"
	bah pull --quiet "oci-archive:$archive" >/dev/null
	bah tag "$id" "$ref"
}

# ensure NAME: built and cached (bases first); appends one report line to $REPORT.
ensure() {
	local name=$1 base archive key start log recipe
	archive=$(archive_of "$name")
	if [[ -f $archive.id ]]; then
		if [[ -n ${REPORT:-} ]]; then report "$name" "$archive" "cached (built in $(cat "$archive.seconds") s)"; fi
		return
	fi
	for base in $(bases_of "$name"); do
		ensure "$base"
		loaded "$base"
	done
	key=$(key_of "$name")
	log=$LOGS/$name-$key.log
	log "building $name (log: $log)"
	start=$(now)
	WORK=$(mktemp -d "$CACHE/work.XXXXXX")
	REF=""
	[[ $name == @(operator|frontend|worker|trainer) ]] && REF=$(project_ref "$name")
	[[ $name == @(python|uv|ray) ]] && REF=$(qualified "$("${name}_ref")")
	case $name in
	operator | frontend | worker | trainer) recipe=recipe_project ;;
	*) recipe=recipe_$name ;;
	esac
	if ! (set -x && "$recipe" "$name") >"$log" 2>&1; then
		rm -rf "$WORK"
		tail -n 40 "$log" >&2
		die "building $name failed (whole log: $log)"
	fi
	[[ -n $REF ]] || REF=$(cat "$WORK/ref") # rabbitmq's names the Debian version it got
	rm -rf "$WORK"
	push "$REF" "$archive"
	echo "$(since "$start")" >"$archive.seconds"
	mv "$archive.id.new" "$archive.id" # last: a cache entry is complete or absent
	if [[ -n ${REPORT:-} ]]; then report "$name" "$archive" built; fi
	bah rmi --prune >/dev/null 2>&1 || true # the build stages and images a new tag replaced
}

# push REF ARCHIVE: the image as an OCI archive named REF, its id beside it.
push() {
	local ref=$1 archive=$2
	bah push --quiet "$ref" "oci-archive:$archive.new:$ref" >/dev/null
	mv "$archive.new" "$archive"
	echo "$ref" >"$archive.ref"
	image_id "$ref" >"$archive.id.new"
}

# size_mib REF: the image unpacked, as a node stores it (the sum of its layers' sizes).
size_mib() {
	bah inspect --type image --format '{{range .OCIv1.RootFS.DiffIDs}}{{println .}}{{end}}' "$1" |
		python3 -c '
import json, sys
layers = json.load(open(sys.argv[1]))
sizes = {layer.get("diff-digest"): layer.get("diff-size", 0) for layer in layers}
print("%.1f" % (sum(sizes[d] for d in sys.stdin.read().split()) / 2**20))
' "$CACHE/storage/overlay-layers/layers.json"
}

report() { # report NAME ARCHIVE SOURCE
	local ref
	ref=$(cat "$2.ref")
	printf '%-9s %-62s %8s MiB %7s s  %s\n' "$1" "$ref" "$(size_mib "$ref")" \
		"$(since "$REPORT_START")" "$3" >>"$REPORT"
}

with_lock() { # serialise builds: several engineers and tests share one cache and one storage
	mkdir -p "$ARCHIVES" "$LOGS"
	exec 8>"$CACHE/lock"
	flock 8
}

requested() { # the NAMEs asked for, or all project images
	local name
	(($# > 0)) || set -- "${PROJECT_IMAGES[@]}"
	for name in "$@"; do
		[[ " ${PROJECT_IMAGES[*]} " == *" $name "* ]] ||
			die "unknown image $name (one of: ${PROJECT_IMAGES[*]})"
		echo "$name"
	done
}

check_tools() {
	local tool missing=()
	for tool in buildah mmdebstrap unzip flock; do
		command -v "$tool" >/dev/null || missing+=("$tool")
	done
	((${#missing[@]} == 0)) || die "missing ${missing[*]}: run hack/install-system-deps.sh (make system-deps)"
}

cmd_build() {
	local names name total_start
	mapfile -t names < <(requested "$@")
	check_tools
	with_lock
	total_start=$(now)
	REPORT=$(mktemp)
	for name in "${names[@]}"; do
		REPORT_START=$(now)
		ensure "$name"
		loaded "$name" # the reference in storage is the cached image, whatever was tagged since
	done
	cat "$REPORT"
	rm -f "$REPORT"
	log "total $(since "$total_start") s"
}

cmd_archives() {
	local names name
	mapfile -t names < <(requested "$@")
	check_tools
	with_lock
	for name in "${names[@]}"; do ensure "$name" && loaded "$name"; done
	for name in "${names[@]}"; do archive_of "$name"; done
}

cmd_binary_image() {
	local ref=${1:?usage: binary-image REF FILE... [-- ENTRYPOINT...]} files=() entrypoint=()
	shift
	while (($# > 0)) && [[ $1 != -- ]]; do
		[[ -f $1 ]] || die "binary-image: no file $1"
		files+=("$(realpath "$1")")
		shift
	done
	(($# > 0)) && shift && entrypoint=("$@")
	((${#files[@]} > 0)) || die "binary-image: no FILE given"
	((${#entrypoint[@]} > 0)) || entrypoint=("/$(basename "${files[0]}")")
	local key archive json file ctr
	key=$({
		echo "rev=$BUILD_REV ref=$ref entrypoint=${entrypoint[*]}"
		for file in "${files[@]}"; do echo "$(basename "$file") $(sha256sum <"$file")"; done
	} | sha)
	archive="$ARCHIVES/binary-$(echo "$ref" | tr -c 'A-Za-z0-9_.\n-' '_')-$key.tar"
	check_tools
	with_lock
	if [[ ! -f $archive.id ]]; then
		ctr=$(bah from --pull=never scratch)
		for file in "${files[@]}"; do bah copy --quiet --chmod 0755 "$ctr" "$file" "/$(basename "$file")" >/dev/null; done
		json=$(printf '"%s",' "${entrypoint[@]}")
		bah config --entrypoint "[${json%,}]" "$ctr"
		bah commit --quiet --rm "$ctr" "$ref" >/dev/null
		push "$ref" "$archive"
		mv "$archive.id.new" "$archive.id"
	fi
	echo "$archive"
}

cmd_ref() {
	local name=${1:?usage: ref NAME}
	case $name in
	operator | frontend | worker | trainer) project_ref "$name" ;;
	python | uv | ray) qualified "$("${name}_ref")" ;;
	rabbitmq)
		[[ -f $(archive_of rabbitmq).ref ]] || die "rabbitmq's reference names Debian's version: build it first"
		cat "$(archive_of rabbitmq).ref"
		;;
	*) die "unknown image $name" ;;
	esac
}

main() {
	local command=${1:-}
	(($# > 0)) && shift
	case $command in
	build) cmd_build "$@" ;;
	archives) cmd_archives "$@" ;;
	binary-image) cmd_binary_image "$@" ;;
	ref) cmd_ref "$@" ;;
	key) key_of "${1:?usage: key NAME}" ;;
	buildah) bah "$@" ;;
	*) sed -n '3,37p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2 && exit 2 ;;
	esac
}

main "$@"
