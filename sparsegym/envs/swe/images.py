"""Docker images of the software-repair tasks: which one a task runs in, getting it, and building one.

Three kinds of task image:

* **sparsegym's runtime image** ``sparsegym-swe:<version>`` (``docker/Dockerfile.swe``): Python, pytest,
  git and a non-root user, no task in it. Tasks that ship their repository as a folder (every shipped task,
  and tasks made by :mod:`.maker`) run in it with the folder copied into the workspace. It is built here,
  never pulled: ``bash docker/build.sh swe`` (or ``sparsegym docker build swe``).
* **A registry's instance image**, holding the repository at ``/testbed`` with its dependencies installed:
  SWE-Gym's ``xingyaoww/sweb.eval.x86_64.<id>`` (:func:`~.tasks.swegym_image`, the default for instances
  without a folder) or SWE-bench's (:func:`~.tasks.swebench_image`; put its name in the instance's
  ``"image"`` field to use it). With registry access they are pulled on first use.
* **An instance image built here** by :func:`build_task_image`, from a checkout of the instance's repository
  at its base commit, on top of the runtime image: the path for machines that reach no registry, and the
  way to make an image for a new instance. The result has the same layout as the registry's images
  (``/testbed``, installed in development mode), so the runtime treats both alike.
"""

from __future__ import annotations

import io
import re
import shutil
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from sparsegym.envs.swe.docker_runtime import ImageNotFoundError, docker_client
from sparsegym.envs.swe.tasks import SWETask, swegym_image

RUNTIME_REPO = "sparsegym-swe"
TASK_REPO = "sparsegym-task"
BUILD_HINT = "bash docker/build.sh swe  (from a sparsegym checkout; or: sparsegym docker build swe)"


def _version() -> str:
    from sparsegym import __version__

    return __version__


def runtime_image(version: str | None = None) -> str:
    """The runtime image of this sparsegym version: ``sparsegym-swe:<version>``."""
    return f"{RUNTIME_REPO}:{version or _version()}"


def task_image_name(instance_id: str, version: str | None = None) -> str:
    """The name :func:`build_task_image` gives an instance's image."""
    slug = re.sub(r"[^a-z0-9_.-]+", "-", instance_id.lower().replace("__", "_s_")).strip("-.")
    return f"{TASK_REPO}-{slug}:{version or _version()}"


def image_for_task(task: SWETask) -> str:
    """The image a task runs in: its ``"image"`` field; the runtime image for a task with a repository
    folder; else SWE-Gym's image for the instance."""
    if task.extra.get("image"):
        return str(task.extra["image"])
    if task.repo_dir:
        return runtime_image()
    return swegym_image(task.instance_id)


def ensure_image(image: str, *, client: Any = None, pull: bool = True) -> None:
    """Return when ``image`` is on the engine; pull a registry's image when it is missing; otherwise raise
    :class:`~.docker_runtime.ImageNotFoundError` naming the image, whether it can be built here, and how."""
    client = docker_client(client)
    from docker.errors import ImageNotFound

    try:
        client.images.get(image)
        return
    except ImageNotFound:
        pass
    if image.startswith((RUNTIME_REPO + ":", TASK_REPO + "-")):
        how = BUILD_HINT if image.startswith(RUNTIME_REPO) else (
            "sparsegym.envs.swe.images.build_task_image(task, repo_dir=<a checkout at the base commit>)")
        raise ImageNotFoundError(f"the Docker image {image!r} is not on this engine; it is sparsegym's own and is "
                                 f"built locally, never pulled: {how}")
    problem = "pulling is off (pull=False)"
    if pull:
        try:
            client.images.pull(image)
            return
        except Exception as exc:  # noqa: BLE001 - no registry, no such image, no access: all mean "not here"
            problem = f"pulling it failed ({type(exc).__name__}: {str(exc)[:200]})"
    raise ImageNotFoundError(
        f"the Docker image {image!r} is not on this engine and {problem}. It is a registry's image of one task "
        "instance; without registry access, build an equivalent image here from a checkout of the instance's "
        "repository at its base commit: sparsegym.envs.swe.images.build_task_image(task, repo_dir=<checkout>), "
        "then give the instance that image's name in its \"image\" field (docs/families/swe.md, 'Docker')"
    )


def copy_out_testbed(client: Any, image: str, dest: Path) -> None:
    """Copy the image's ``/testbed`` to the host folder ``dest`` (which must not exist)."""
    container = client.containers.create(image, ["true"], network_disabled=True)
    try:
        stream, _ = container.get_archive("/testbed")
        data = b"".join(stream)
    finally:
        container.remove(force=True)
    with tempfile.TemporaryDirectory(prefix="sparsegym-testbed-") as tmp, \
            tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(tmp, filter="data")
        shutil.move(str(Path(tmp) / "testbed"), str(dest))


_DOCKERFILE = """\
FROM {base}
USER root
COPY --chown=1000:1000 repo /testbed
RUN {install}
USER 1000:1000
WORKDIR /testbed
LABEL sparsegym.instance_id="{instance_id}" sparsegym.base_commit="{base_commit}"
"""


def build_task_image(task: SWETask, repo_dir: str | Path | None = None, *, base: str | None = None,
                     tag: str | None = None, install: str | None = None, client: Any = None) -> str:
    """Build an instance image: the repository (``repo_dir``, or the task's shipped folder) at ``/testbed``
    on top of the runtime image, installed in development mode; returns the image's name.

    Args:
        task: the instance (its id names the image, and its ``base_commit`` is recorded in a label).
        repo_dir: a checkout of the instance's repository at its base commit (default: the task's
            ``repo_dir``, resolved against the shipped data folder).
        base: the image to build on (default: :func:`runtime_image`, which must be present).
        tag: the image's name (default: :func:`task_image_name`).
        install: the shell command that installs the repository in the image (default: an editable install
            without dependencies or build isolation, which needs no network; give your own where the project
            needs its dependencies from a package index).
        client: a Docker SDK client.
    """
    client = docker_client(client)
    base = base or runtime_image()
    ensure_image(base, client=client, pull=not base.startswith(RUNTIME_REPO))
    tag = tag or task_image_name(task.instance_id)
    if repo_dir is None:
        if not task.repo_dir:
            raise ValueError(f"task {task.instance_id} has no repository folder: pass repo_dir=<a checkout at "
                             f"{task.base_commit or 'its base commit'}>")
        from sparsegym.envs.swe.env import data_dir

        repo_dir = data_dir() / task.repo_dir
    repo_dir = Path(repo_dir)
    if not repo_dir.is_dir():
        raise ValueError(f"repo_dir {str(repo_dir)!r} is not a folder")
    if install is None:
        has_project = any((repo_dir / f).exists() for f in ("setup.py", "pyproject.toml", "setup.cfg"))
        install = ("pip install --no-deps --no-build-isolation -e /testbed" if has_project else "true")
    dockerfile = _DOCKERFILE.format(base=base, install=install, instance_id=task.instance_id,
                                    base_commit=task.base_commit)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(dockerfile.encode())
        tar.addfile(info, io.BytesIO(dockerfile.encode()))
        tar.add(str(repo_dir), arcname="repo",
                filter=lambda t: None if ("__pycache__" in t.name or t.name.endswith(".pyc")) else t)
    buf.seek(0)
    client.images.build(fileobj=buf, custom_context=True, tag=tag, rm=True, forcerm=True, network_mode="none")
    return tag
