#!/usr/bin/env bash
# CI's Docker step: an engine (installed and started here when missing and we are root), sparsegym's images
# (docker/build.sh; the Debian-made base is kept by the engine between runs where the machine keeps
# /var/lib/docker), the tests marked `docker` but not `slow` (the slow one, all 24 shipped tasks in
# containers, runs by hand: pytest -m docker), and the full image's leaderboard command. A daemon this script
# started is stopped at the end. Without an engine (not root, no apt) the tests run anyway and skip, each
# saying why, and the step passes.
#
#   bash .ci/docker.sh            (from the repository root, with .venv made by the README's test command)
set -uo pipefail
started_pid=""
stop_daemon() {
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
  timeout 2400 bash docker/build.sh all || { echo "::: docker/build.sh failed"; status=1; }
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
