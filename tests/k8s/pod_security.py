"""An independent oracle of the Kubernetes Pod Security Standards, *restricted* profile (which includes every
*baseline* control), written from https://kubernetes.io/docs/concepts/security/pod-security-standards/ (policy
version "latest", Kubernetes 1.30+), not from this project's manifests or code.

:func:`violations` takes a PodSpec (plus the pod's annotations) and returns one message per violated control;
an empty list means Pod Security Admission with ``enforce: restricted`` admits the pod.
"""

from __future__ import annotations

# Baseline "Sysctls": the safe set
SAFE_SYSCTLS = {
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
}
# Restricted "Volume Types": only these sources
RESTRICTED_VOLUME_SOURCES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}
SELINUX_TYPES = {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}
SECCOMP_OK = {"RuntimeDefault", "Localhost"}
APPARMOR_OK = {"RuntimeDefault", "Localhost"}


def _containers(pod: dict):
    for field in ("initContainers", "containers", "ephemeralContainers"):
        for c in pod.get(field) or []:
            yield f"{field}[{c.get('name')}]", c


def violations(pod: dict, annotations: dict[str, str] | None = None) -> list[str]:
    out: list[str] = []
    psc = pod.get("securityContext") or {}
    annotations = annotations or {}

    # --- baseline ---
    if (psc.get("windowsOptions") or {}).get("hostProcess"):
        out.append("HostProcess: spec.securityContext.windowsOptions.hostProcess is true")
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(field):
            out.append(f"Host namespaces: spec.{field} is true")
    for v in pod.get("volumes") or []:
        if "hostPath" in v:
            out.append(f"HostPath volumes: volume {v['name']}")
    for s in psc.get("sysctls") or []:
        if s.get("name") not in SAFE_SYSCTLS:
            out.append(f"Sysctls: {s.get('name')} is not in the safe set")
    for key, value in annotations.items():
        if key.startswith("container.apparmor.security.beta.kubernetes.io/"):
            if value != "runtime/default" and not value.startswith("localhost/"):
                out.append(f"AppArmor: annotation {key}={value}")
    for where, ctx in [("spec.securityContext", psc)] + [
        (f"{name}.securityContext", c.get("securityContext") or {}) for name, c in _containers(pod)
    ]:
        apparmor = (ctx.get("appArmorProfile") or {}).get("type")
        if apparmor is not None and apparmor not in APPARMOR_OK:
            out.append(f"AppArmor: {where}.appArmorProfile.type is {apparmor}")
        selinux = ctx.get("seLinuxOptions") or {}
        if selinux.get("type", "") not in SELINUX_TYPES:
            out.append(f"SELinux: {where}.seLinuxOptions.type is {selinux.get('type')}")
        for field in ("user", "role"):
            if selinux.get(field):
                out.append(f"SELinux: {where}.seLinuxOptions.{field} is set")
        seccomp = (ctx.get("seccompProfile") or {}).get("type")
        if seccomp is not None and seccomp not in SECCOMP_OK:
            out.append(f"Seccomp: {where}.seccompProfile.type is {seccomp}")
        if ctx.get("runAsUser") == 0:
            out.append(f"Running as non-root user: {where}.runAsUser is 0")
        if ctx.get("runAsNonRoot") is False:
            out.append(f"Running as non-root: {where}.runAsNonRoot is false")

    # --- restricted ---
    for v in pod.get("volumes") or []:
        source = [k for k in v if k != "name"]
        if not set(source) <= RESTRICTED_VOLUME_SOURCES:
            out.append(f"Volume types: volume {v['name']} uses {source}")
    pod_non_root = psc.get("runAsNonRoot") is True
    pod_seccomp = (psc.get("seccompProfile") or {}).get("type") in SECCOMP_OK

    for name, c in _containers(pod):
        sc = c.get("securityContext") or {}
        if (sc.get("windowsOptions") or {}).get("hostProcess"):
            out.append(f"HostProcess: {name} windowsOptions.hostProcess is true")
        if sc.get("privileged"):
            out.append(f"Privileged containers: {name} privileged is true")
        if sc.get("procMount") not in (None, "Default"):
            out.append(f"/proc mount type: {name} procMount is {sc.get('procMount')}")
        for port in c.get("ports") or []:
            if port.get("hostPort") not in (None, 0):
                out.append(f"Host ports: {name} hostPort {port.get('hostPort')}")
        if sc.get("allowPrivilegeEscalation") is not False:
            out.append(f"Privilege escalation: {name} allowPrivilegeEscalation is not false")
        if not pod_non_root and sc.get("runAsNonRoot") is not True:
            out.append(f"Running as non-root: {name} runAsNonRoot is not true (nor on the pod)")
        if not pod_seccomp and (sc.get("seccompProfile") or {}).get("type") not in SECCOMP_OK:
            out.append(f"Seccomp: {name} has no RuntimeDefault/Localhost profile (nor the pod)")
        caps = sc.get("capabilities") or {}
        if "ALL" not in (caps.get("drop") or []):
            out.append(f"Capabilities: {name} does not drop ALL")
        extra = set(caps.get("add") or []) - {"NET_BIND_SERVICE"}
        if extra:
            out.append(f"Capabilities: {name} adds {sorted(extra)}")
    return out
