#!/usr/bin/env bash
# Build sparsegym's Docker images: the full stack (sparsegym:<version>) and the software-repair runtime
# (sparsegym-swe:<version>), and print how long each took and how large it is.
#
#   bash docker/build.sh [all|sparsegym|swe|base] [--base auto|python|debian] [--no-cache]
#
# Base image: "python" is the official python:3.11-slim (pulled when missing); "debian" is made here from
# Debian's packages with debootstrap (needs root; about 4 minutes, then kept as sparsegym-base:bookworm) for
# machines that reach no image registry; "auto" (default) uses python:3.11-slim when it is present or can be
# pulled, else the Debian-made one.
#
# pip inside the build reaches PyPI through the host's CA bundle where a proxy needs one: the script passes
# $PIP_CERT or /etc/ssl/certs/ca-certificates.crt as a BuildKit secret (never written to a layer). A CPU build
# of torch that pip on this machine can see (a --find-links folder, or $SPARSEGYM_WHEELS) is put in
# docker/wheels for the build, so the image does not get PyPI's multi-GB CUDA build.
#
# Environment: DOCKER (the client, default docker), SPARSEGYM_IMAGE_TAG (default: the package version),
# TORCH_INDEX_URL (passed to the build), SPARSEGYM_WHEELS (a folder holding torch-<version>+cpu wheels).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TARGET=all
BASE_MODE=auto
CACHE_FLAG=()
while [ $# -gt 0 ]; do
    case "$1" in
        all|sparsegym|swe|base) TARGET="$1" ;;
        --base) BASE_MODE="${2:?--base needs auto, python or debian}"; shift ;;
        --base=*) BASE_MODE="${1#--base=}" ;;
        --no-cache) CACHE_FLAG=(--no-cache) ;;
        -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
        *) echo "build.sh: unknown argument '$1' (see: bash docker/build.sh --help)" >&2; exit 2 ;;
    esac
    shift
done
case "$BASE_MODE" in auto|python|debian) ;; *) echo "build.sh: --base must be auto, python or debian, got '$BASE_MODE'" >&2; exit 2 ;; esac

VERSION="$(sed -n 's/^__version__ = "\(.*\)"/\1/p' sparsegym/__init__.py)"
TAG="${SPARSEGYM_IMAGE_TAG:-$VERSION}"
TORCH_VERSION="${TORCH_VERSION:-2.13.0}"
DEBIAN_BASE=sparsegym-base:bookworm
PY_BASE=python:3.11-slim

# -- the client and BuildKit -------------------------------------------------------------------------------
DOCKER="${DOCKER:-docker}"
if ! "$DOCKER" info >/dev/null 2>&1; then
    echo "build.sh: no Docker engine answers ('$DOCKER info' failed). Start one: as root, 'apt-get install -y" \
         "docker.io' then 'dockerd &' (add '--storage-driver=vfs' where overlayfs is unavailable)." >&2
    exit 1
fi
client_major() { "$1" version --format '{{.Client.Version}}' 2>/dev/null | sed 's/[^0-9].*//'; }
BUILD=()
if "$DOCKER" buildx version >/dev/null 2>&1; then
    BUILD=("$DOCKER" buildx build --load)
elif [ "$(client_major "$DOCKER")" -le 22 ] 2>/dev/null; then
    BUILD=(env DOCKER_BUILDKIT=1 "$DOCKER" build)
elif [ -x /usr/bin/docker ] && [ "$(client_major /usr/bin/docker)" -le 22 ] 2>/dev/null; then
    BUILD=(env DOCKER_BUILDKIT=1 /usr/bin/docker build)   # e.g. Debian's docker.io beside a newer client
else
    echo "build.sh: the Dockerfiles need BuildKit (secret and bind mounts), and '$DOCKER' has no buildx" \
         "plugin. Install it (Debian/Ubuntu: the docker-buildx or docker-buildx-plugin package)." >&2
    exit 1
fi

now() { date +%s; }
size_of() { "$DOCKER" image inspect -f '{{.Size}}' "$1" | awk '{printf "%.0f MB", $1 / 1e6}'; }
REPORT=()

# -- the base ----------------------------------------------------------------------------------------------
make_debian_base() {
    if "$DOCKER" image inspect "$DEBIAN_BASE" >/dev/null 2>&1; then
        echo "base: $DEBIAN_BASE is present (remove it to make it again)"
        return
    fi
    if [ "$(id -u)" != 0 ] || ! command -v debootstrap >/dev/null; then
        echo "build.sh: making $DEBIAN_BASE needs root and debootstrap (apt-get install -y debootstrap)," \
             "or a registry that serves $PY_BASE (then: --base python)." >&2
        exit 1
    fi
    local dir start
    dir="$(mktemp -d /tmp/sparsegym-rootfs.XXXXXX)"
    start=$(now)
    echo "base: debootstrap bookworm into $dir (minutes) ..."
    debootstrap --variant=minbase --include=python3,python3-venv,python3-dev,ca-certificates,passwd \
        bookworm "$dir" "${DEBIAN_MIRROR:-http://deb.debian.org/debian}" >/tmp/sparsegym-debootstrap.log 2>&1 \
        || { echo "build.sh: debootstrap failed; its log: /tmp/sparsegym-debootstrap.log" >&2; exit 1; }
    rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
    chmod 755 "$dir"  # mktemp made it 0700, and it becomes the image's /: non-root users must traverse it
    tar -C "$dir" -c . | "$DOCKER" import --change 'ENV LANG=C.UTF-8' - "$DEBIAN_BASE" >/dev/null
    rm -rf "$dir"
    REPORT+=("$(printf '%-28s %8d s  %s' "$DEBIAN_BASE" "$(( $(now) - start ))" "$(size_of "$DEBIAN_BASE")")")
}

BASE=""
pick_base() {
    if [ "$BASE_MODE" != debian ]; then
        if "$DOCKER" image inspect "$PY_BASE" >/dev/null 2>&1 || timeout 120 "$DOCKER" pull -q "$PY_BASE" >/dev/null 2>&1; then
            BASE="$PY_BASE"
            return
        fi
        if [ "$BASE_MODE" = python ]; then
            echo "build.sh: $PY_BASE is not present and cannot be pulled; use --base debian (or auto)" >&2
            exit 1
        fi
        echo "base: $PY_BASE cannot be pulled here; using an image made from Debian's packages"
    fi
    make_debian_base
    BASE="$DEBIAN_BASE"
}
pick_base
[ "$TARGET" = base ] && { printf '%s\n' "${REPORT[@]}"; exit 0; }

# -- build inputs: the CA bundle as a secret, a CPU torch wheel --------------------------------------------
SECRET=()
CERT="${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}"
[ -f "$CERT" ] && SECRET=(--secret "id=pipcert,src=$CERT")
if ! ls docker/wheels/torch-"$TORCH_VERSION"*.whl >/dev/null 2>&1; then
    for dir in ${SPARSEGYM_WHEELS:-} $(pip config get global.find-links 2>/dev/null || true) /opt/wheels; do
        wheel="$(ls "$dir"/torch-"$TORCH_VERSION"+cpu*-cp311-*"$(uname -m)".whl 2>/dev/null | head -1 || true)"
        if [ -n "$wheel" ]; then
            ln "$wheel" docker/wheels/ 2>/dev/null || cp "$wheel" docker/wheels/
            echo "torch: using $(basename "$wheel") from $dir"
            break
        fi
    done
fi

build() {  # build <image> <dockerfile> [build args...]
    local image="$1" file="$2" start
    shift 2
    start=$(now)
    echo "build: $image from $file on $BASE ..."
    "${BUILD[@]}" "${CACHE_FLAG[@]}" "${SECRET[@]}" -f "$file" -t "$image" --build-arg "BASE=$BASE" "$@" .
    REPORT+=("$(printf '%-28s %8d s  %s' "$image" "$(( $(now) - start ))" "$(size_of "$image")")")
}

if [ "$TARGET" = all ] || [ "$TARGET" = swe ]; then
    build "sparsegym-swe:$TAG" docker/Dockerfile.swe
    "$DOCKER" tag "sparsegym-swe:$TAG" sparsegym-swe:latest
fi
if [ "$TARGET" = all ] || [ "$TARGET" = sparsegym ]; then
    build "sparsegym:$TAG" docker/Dockerfile \
        --build-arg "TORCH_VERSION=$TORCH_VERSION" --build-arg "TORCH_INDEX_URL=${TORCH_INDEX_URL:-}"
    "$DOCKER" tag "sparsegym:$TAG" sparsegym:latest
fi

echo
echo "image                          build time  size"
printf '%s\n' "${REPORT[@]}"
