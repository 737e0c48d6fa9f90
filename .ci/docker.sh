#!/usr/bin/env bash
# CI's Docker step: an engine (installed and started here when missing and we are root), sparsegym's images
# (docker/build.sh; the Debian-made base is kept by the engine between runs where the machine keeps
# /var/lib/docker), the tests marked `docker` but not `slow` (the slow one, all 24 shipped tasks in
# containers, runs by hand: pytest -m docker), and the full image's leaderboard command. A daemon this script
# started is stopped at the end. Without an engine (not root, no apt) the tests run anyway and skip, each
# saying why, and the step passes.
#
#   bash .ci/docker.sh            (from the repository root, with .venv made by the README's test command)
#
# Disk: where the engine keeps /var/lib/docker between runs, every CI run's rebuilt images (the version's tag
# moves to the new build) and their build cache would pile up, and under the vfs driver each layer is a full
# copy of the stack: a few runs filled the disk once, and every later step failed with "disk is full". So the
# step reports the engine's free space and removes what no tag uses (dangling images, stopped containers, and
# the build cache's private copies of built layers: `docker builder prune` without -a) before building and
# again at the end (also on failure). Measured here (vfs): the three images take 18 GB; a code change
# added 5-6 GB per build until the build cache was pruned (with `--keep-storage`, which counts vfs layers as
# their diffs, nothing was freed), and the prune brings it back to 18 GB while the torch and dependency
# layers stay cached (the next build took 58 s). When free space is under SPARSEGYM_CI_DOCKER_MIN_FREE_GB
# (default 30) it clears all of sparsegym's images and cache (the Debian-made base is kept) and builds from
# scratch.
set -uo pipefail
started_pid=""
min_free_gb="${SPARSEGYM_CI_DOCKER_MIN_FREE_GB:-30}"
docker_root() { docker info -f '{{.DockerRootDir}}' 2>/dev/null || echo /var/lib/docker; }
free_gb() { df -P -BG "$(docker_root)" 2>/dev/null | awk 'NR == 2 { sub("G", "", $4); print $4 + 0 }'; }
report_disk() { echo "::: Docker disk ($1): $(free_gb) GB free under $(docker_root)"; docker system df 2>/dev/null | sed 's/^/:::   /'; }
tidy() {  # what no tag uses: old builds of a retagged version, stopped containers, unused build cache
  docker container prune -f >/dev/null 2>&1
  docker image prune -f >/dev/null 2>&1
  docker builder prune -f >/dev/null 2>&1
}
clear_all() {  # every sparsegym image but the base, and all build cache
  docker images --format '{{.Repository}}:{{.Tag}}' | grep -E '^sparsegym(-swe)?:|^sparsegym-task-' \
    | grep -v '^sparsegym-base:' | xargs -r docker rmi -f >/dev/null 2>&1
  tidy
  docker builder prune -af >/dev/null 2>&1
}
stop_daemon() {
  if engine_up; then tidy; report_disk "after the step"; fi
  if [ -n "$started_pid" ]; then
    echo "::: stopping the Docker daemon this step started (pid $started_pid)"
    kill "$started_pid" 2>/dev/null
    for _ in $(seq 30); do kill -0 "$started_pid" 2>/dev/null || break; sleep 1; done
  fi
}
trap stop_daemon EXIT

engine_up() { timeout 20 docker info >/dev/null 2>&1; }
if ! engine_up && [ "$(id -u)" = 0 ]; then
  if ! command -v dockerd >/dev/null || ! command -v debootstrap >/dev/null; then
    echo "::: installing docker.io and debootstrap"
    DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -q docker.io debootstrap >/dev/null 2>&1 \
      || { timeout 300 apt-get update -q >/dev/null 2>&1 \
           && DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -q docker.io debootstrap >/dev/null 2>&1; }
  fi
  if command -v dockerd >/dev/null; then
    # vfs: the storage driver that works everywhere (overlayfs inside this VM's filesystem may not).
    dockerd --storage-driver=vfs >/tmp/sparsegym-ci-dockerd.log 2>&1 &
    started_pid=$!
    for _ in $(seq 60); do engine_up && break; sleep 1; done
  fi
fi

status=0
if engine_up; then
  echo "::: Docker engine: $(docker version --format '{{.Server.Version}}' 2>/dev/null)"
  tidy
  report_disk "before building"
  if [ "$(free_gb)" -lt "$min_free_gb" ]; then
    echo "::: under $min_free_gb GB free: removing sparsegym's images and all build cache (the base is kept)"
    clear_all
    report_disk "after clearing"
  fi
  if [ "$(free_gb)" -lt 12 ]; then
    echo "::: only $(free_gb) GB free under $(docker_root) after clearing sparsegym's images: the full image needs"
    echo "::: about 12 GB under the vfs driver. Free disk space there (docker system prune -a) and rerun."
    status=1
  else
    timeout 2400 bash docker/build.sh all || { echo "::: docker/build.sh failed"; status=1; }
  fi
  if [ $status -eq 0 ]; then
    version="$(sed -n 's/^__version__ = "\(.*\)"/\1/p' sparsegym/__init__.py)"
    echo "::: docker run sparsegym:$version submit examples/random_agent.yaml --suite smoke"
    timeout 900 docker run --rm "sparsegym:$version" submit examples/random_agent.yaml --suite smoke --no-progress \
      || status=1
    SPARSEGYM_REQUIRE_DOCKER=1 timeout 1800 .venv/bin/pytest -q -rs -m "docker and not slow" tests/envs/test_docker.py tests/leaderboards/test_isolation.py || status=1
  fi
else
  echo "::: no Docker engine here (and none could be started: not root, or docker.io could not be installed);"
  echo "::: the docker tests run and skip, saying why"
  .venv/bin/pytest -q -rs -m docker tests/envs/test_docker.py tests/leaderboards/test_isolation.py
  rc=$?
  # 5 (nothing collected) cannot happen: the module's tests are collected and skipped
  [ $rc -eq 0 ] || status=1
fi
exit $status
