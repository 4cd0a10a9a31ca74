"""Run pipeline tasks in real containers on one machine: ``kfp.local.DockerRunner`` against Docker or podman's
Docker-compatible API (``$DOCKER_HOST``), each task in its own container as the image's non-root user, sharing
nothing with the others but the pipeline root, the object store and the MLflow server (as pods on a cluster).

kfp 2.17's runner starts containers with ``auto_remove=True`` and reads the exit status after streaming the
logs; podman removes the container before ``wait()``, kfp gets NotFound and reports a **failed task as
succeeded**. :func:`use_checked_containers` replaces that one function with one that keeps the container until
its exit status is read, then removes it, and records what ran (image, user, mounts, exit code) for audits.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from climbflow.kfp_local_print import print_restored


@dataclass(frozen=True)
class ContainerRecord:
    """One task container: what it ran as and what it could see."""

    image: str
    user: str
    mounts: tuple[str, ...]
    exit_code: int
    command: tuple[str, ...] = field(repr=False)


class ImageMissing(RuntimeError):
    """The task's image is not in the local image store (nothing is pulled here)."""


def run_checked(client: Any, image: str, command: list[str], volumes: dict[str, Any], **run_args: Any) -> int:
    """Run one task container to completion and return its real exit status (never guessed)."""
    import docker

    if ":" not in image.rsplit("/", 1)[-1]:
        image += ":latest"
    if not any(image in (img.tags + img.attrs.get("RepoDigests", [])) for img in client.images.list()):
        raise ImageMissing(
            f"image {image!r} is not in the local image store; build it first (scripts/container_image.sh) "
            "and use the exact local tag (e.g. localhost/climbflow:<sha>)"
        )
    run_args.pop("auto_remove", None)
    container = client.containers.run(
        image=image, command=command, detach=True, stdout=True, stderr=True, volumes=volumes, **run_args
    )
    code = -1
    try:
        for line in container.logs(stream=True, follow=True):
            print(line.decode(errors="replace"), end="")
        code = int(container.wait()["StatusCode"])
        attrs = client.api.inspect_container(container.id)
        RECORDS.append(
            ContainerRecord(
                image=image,
                user=str(attrs["Config"].get("User") or "root"),
                mounts=tuple(sorted(m.get("Destination", "") for m in attrs.get("Mounts", []))),
                exit_code=code,
                command=tuple(command),
            )
        )
        return code
    finally:
        with contextlib.suppress(docker.errors.APIError):
            container.remove(force=True)


RECORDS: list[ContainerRecord] = []


@contextlib.contextmanager
def use_checked_containers() -> Iterator[list[ContainerRecord]]:
    """Within the block, kfp.local's DockerRunner reads every task's real exit status; yields the records."""
    from kfp.local import docker_task_handler

    original = docker_task_handler.run_docker_container
    RECORDS.clear()
    docker_task_handler.run_docker_container = run_checked
    try:
        with print_restored():
            yield RECORDS
    finally:
        docker_task_handler.run_docker_container = original
