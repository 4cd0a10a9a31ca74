"""Is a configuration usable on a cluster? Every KFP task is its own pod: what one stage writes the next
must find, so the workspace (and anything else a pod reads or writes) must be shared storage, and every pod
must log to the same MLflow tracking server.

``climb submit`` / ``climb schedule`` refuse a configuration with problems (exit 2, naming the keys to set);
``climb compile`` only warns (the checked-in goldens are compiled from the local default params.yaml).
"""

from __future__ import annotations

import posixpath

from climbflow.config import Params

TRACKING_ENV = "MLFLOW_TRACKING_URI"


def _under(path: str, mount: str) -> bool:
    if not path.startswith("/"):
        return False
    path, mount = posixpath.normpath(path), posixpath.normpath(mount)
    return path == mount or path.startswith(mount.rstrip("/") + "/")


def _has_scheme(location: str) -> bool:
    return "://" in location or location.startswith("mlflow-artifacts:")


def cluster_problems(params: Params) -> list[str]:
    """What keeps ``params`` from working across pods (empty: nothing); each names the keys to set."""
    cluster = params.cluster
    mount, pvc = cluster.data_mount_path, cluster.data_pvc
    on_pvc = f"a path under cluster.data_mount_path ({mount}) with cluster.data_pvc set"
    if not pvc:
        on_pvc += " (cluster.data_pvc is null)"

    def shared(location: str) -> bool:  # what the stores read and write: s3:// or the shared volume
        return location.startswith("s3://") or bool(pvc and _under(location, mount))

    def local(location: str) -> bool:  # a path only this pod sees (MLflow / DVC also take other URL schemes)
        return location.startswith("file:") or not (_has_scheme(location) or shared(location))

    problems = []
    root = params.workspace.root
    if not shared(root):
        problems.append(
            f"workspace.root = {root!r} is local to each pod: set it to an s3:// URI or to {on_pvc}"
        )
    for key in ("artifact_location", "dvc_remote"):
        value = getattr(params.workspace, key)
        if value and local(value):
            problems.append(
                f"workspace.{key} = {value!r} is local to each pod: set it to an s3:// URI, to {on_pvc}, "
                "or to null (the default follows workspace.root / the tracking server)"
            )
    for name in params.enabled_datasets():
        source = params.datasets[name].source
        if not shared(source):
            problems.append(
                f"datasets.{name}.source = {source!r} is not on shared storage: set it to an s3:// URI or to "
                f"{on_pvc}"
            )
    uri = params.workspace.tracking_uri
    if uri:
        if not uri.startswith(("http://", "https://")):
            problems.append(
                f"workspace.tracking_uri = {uri!r} is not a tracking server: set it to an http(s):// MLflow "
                f"server, or to null with {TRACKING_ENV} among cluster.config_map_keys"
            )
    elif not (cluster.config_map and TRACKING_ENV in cluster.config_map_keys):
        problems.append(
            "no MLflow tracking server: set workspace.tracking_uri to an http(s):// URI, or set "
            f"cluster.config_map and list {TRACKING_ENV} in cluster.config_map_keys (each pod would log to "
            "its own sqlite file)"
        )
    return problems


def describe(problems: list[str]) -> str:
    """One message for the console."""
    return "this configuration does not work on a cluster (each task is its own pod):\n" + "\n".join(
        f"  - {p}" for p in problems
    )
