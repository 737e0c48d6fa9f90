#!/usr/bin/env bash
# Disk care for CI's Docker engine: helpers that .ci/docker.sh sources, and a preflight that .ci/run calls
# first of all (bash .ci/docker_disk.sh preflight).
#
# Where the engine keeps /var/lib/docker between runs, every CI run's rebuilt images (the version's tag moves
# to the new build) and their build cache would pile up, and under the vfs driver each layer is a full copy
# of the stack: a few runs filled the disk once, and every step after the Docker one failed with "disk is
# full". Measured here (vfs): the three images take 18 GB; a code change added 5-6 GB per build until the
# build cache was pruned (`--keep-storage` freed nothing: it counts vfs layers by their diffs), and
# `docker builder prune` (without -a) brings it back to 18 GB while the torch and dependency layers stay
# cached (the next build took 58 s).
#
# The Docker step tidies (dangling images, stopped containers, unused build cache) before building and at its
# end, also on failure, and clears all of sparsegym's images and cache (the Debian-made base is kept) when
# under SPARSEGYM_CI_DOCKER_MIN_FREE_GB (default 30) are free. The preflight does the same before the tests
# when a previous run left the disk that low, so a full disk from one run cannot fail the next one's tests;
# it starts an engine for that only when it must (root, dockerd installed) and stops it again. Never fatal.
min_free_gb="${SPARSEGYM_CI_DOCKER_MIN_FREE_GB:-30}"
started_pid="${started_pid:-}"
engine_up() { timeout 20 docker info >/dev/null 2>&1; }
docker_root() { docker info -f '{{.DockerRootDir}}' 2>/dev/null || echo /var/lib/docker; }
free_gb() { df -P -BG "${1:-$(docker_root)}" 2>/dev/null | awk 'NR == 2 { sub("G", "", $4); print $4 + 0 }'; }
report_disk() { echo "::: Docker disk ($1): $(free_gb) GB free under $(docker_root)"; docker system df 2>/dev/null | sed 's/^/:::   /'; }
tidy() {  # what no tag uses: old builds of a retagged version, stopped containers, unused build cache
  docker container prune -f >/dev/null 2>&1
  docker image prune -f >/dev/null 2>&1
  docker builder prune -f >/dev/null 2>&1
}
clear_all() {  # every sparsegym image but the base, and all build cache
  docker images --format '{{.Repository}}:{{.Tag}}' | grep -E '^sparsegym(-swe)?:|^sparsegym-task-' \
    | xargs -r docker rmi -f >/dev/null 2>&1
  tidy
  docker builder prune -af >/dev/null 2>&1
}
make_room() {  # tidy; clear sparsegym's images and cache too when under min_free_gb are still free
  tidy
  if [ "$(free_gb "${1:-}")" -lt "$min_free_gb" ]; then
    echo "::: under $min_free_gb GB free: removing sparsegym's images and all build cache (the base is kept)"
    clear_all
  fi
}
start_engine() {  # dockerd on vfs (the storage driver that works everywhere; overlayfs in a VM may not)
  dockerd --storage-driver=vfs >/tmp/sparsegym-ci-dockerd.log 2>&1 &
  started_pid=$!
  for _ in $(seq 60); do engine_up && break; sleep 1; done
}
stop_engine() {
  if [ -n "$started_pid" ]; then
    echo "::: stopping the Docker daemon started here (pid $started_pid)"
    kill "$started_pid" 2>/dev/null
    for _ in $(seq 30); do kill -0 "$started_pid" 2>/dev/null || break; sleep 1; done
    started_pid=""
  fi
}

preflight() {
  echo "::: disk at the start: $(free_gb /) GB free on /, $(free_gb /tmp) GB on /tmp"
  local root=/var/lib/docker
  [ -d "$root" ] && [ "$(free_gb "$root")" -lt "$min_free_gb" ] || return 0
  echo "::: under $min_free_gb GB free where Docker keeps its images ($root): tidying them before the tests"
  if ! engine_up; then
    if [ "$(id -u)" != 0 ] || ! command -v dockerd >/dev/null; then
      echo "::: no Docker engine to tidy with (not root, or dockerd missing): left as it is"
      return 0
    fi
    start_engine
  fi
  make_room "$root"
  report_disk "after tidying"
  stop_engine
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  case "${1:-}" in
    preflight) preflight ;;
    *) echo "usage: bash .ci/docker_disk.sh preflight" >&2; exit 2 ;;
  esac
  exit 0
fi
