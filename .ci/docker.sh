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
# Disk: what the step leaves behind is pruned before building and at its end (also on failure), and all of
# sparsegym's images are cleared when the disk is low; why and what was measured: .ci/docker_disk.sh.
set -uo pipefail
# shellcheck source=docker_disk.sh
source "$(dirname "${BASH_SOURCE[0]}")/docker_disk.sh"
stop_daemon() {
  if engine_up; then tidy; report_disk "after the step"; fi
  stop_engine
}
trap stop_daemon EXIT

if ! engine_up && [ "$(id -u)" = 0 ]; then
  if ! command -v dockerd >/dev/null || ! command -v debootstrap >/dev/null; then
    echo "::: installing docker.io and debootstrap"
    DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -q docker.io debootstrap >/dev/null 2>&1 \
      || { timeout 300 apt-get update -q >/dev/null 2>&1 \
           && DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -q docker.io debootstrap >/dev/null 2>&1; }
  fi
  command -v dockerd >/dev/null && start_engine
fi

status=0
if engine_up; then
  echo "::: Docker engine: $(docker version --format '{{.Server.Version}}' 2>/dev/null)"
  make_room
  report_disk "before building"
  if [ "$(free_gb)" -lt 20 ]; then
    echo "::: only $(free_gb) GB free under $(docker_root) after clearing sparsegym's images: building the images"
    echo "::: from scratch takes about 18 GB under the vfs driver. Free disk space there and rerun."
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
