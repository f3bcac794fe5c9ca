"""Pod volumes on the node: written under the kubelet root dir, mounted via CRI mounts.

Each volume of pod ``uid`` lives in ``<root>/pods/<uid>/volumes/<kind>/<name>``:
emptyDir is a directory (a tmpfs mounted on it for ``medium: Memory``, sized by
``sizeLimit``, unmounted when the pod's volumes are removed); configMap, secret,
downwardAPI and projected volumes are directories of files swapped atomically whenever their
content changes (:mod:`.atomic_writer`, upstream's ``..data`` layout; so updates to a
configmap, and refreshed ServiceAccount tokens, reach running pods on the next sync);
hostPath points at the node path itself (created for the ``DirectoryOrCreate`` /
``FileOrCreate`` types); a persistentVolumeClaim is its bound volume's hostPath or local
directory, bind-mounted the same way (the pod worker resolves claim -> volume first), or a
local block device, mounted or handed over as a device (:mod:`.block`,
:func:`container_devices`).
:func:`container_mounts` turns a container's volumeMounts (with
subPath or subPathExpr (:mod:`.subpath`) and readOnly) into (host path, container path,
read-only) triples for the CRI config. With a pod fsGroup, every volume but hostPath is handed to that group
(:mod:`.ownership`).
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kprov.cluster.api.objects import memory_bytes
from kprov.cluster.kubelet.pods.env import ConfigError, PodSources, field_value, named_container
from kprov.cluster.kubelet.pods.resourcefield import ResourceFieldError, resource_field_value
from kprov.cluster.kubelet.volumes.atomic_writer import write_atomic
from kprov.cluster.kubelet.volumes.block import BlockVolumeError, format_and_mount, is_block_device
from kprov.cluster.kubelet.volumes.ownership import fs_group, fs_group_change_policy, set_volume_ownership
from kprov.cluster.kubelet.volumes.subpath import subpath_dir

__all__ = [
    "MountSpec",
    "claim_names",
    "container_devices",
    "container_mounts",
    "pod_dir",
    "referenced_sources",
    "remove_pod_volumes",
    "setup_volumes",
    "token_sources",
    "volume_source",
]

Obj = Mapping[str, Any]
_SOURCE_KINDS = (
    "emptyDir",
    "configMap",
    "secret",
    "hostPath",
    "projected",
    "downwardAPI",
    "persistentVolumeClaim",
)


@dataclass(frozen=True)
class MountSpec:
    host_path: str
    container_path: str
    readonly: bool
    propagation: str = ""  # volumeMounts[].mountPropagation: HostToContainer, Bidirectional ("": private)


def pod_dir(root: Path, uid: str) -> Path:
    return root / "pods" / uid


def _containers(pod: Obj) -> list[Obj]:
    spec = pod.get("spec") or {}
    return list(spec.get("initContainers") or []) + list(spec.get("containers") or [])


def referenced_sources(pod: Obj) -> tuple[set[str], set[str]]:
    """Names of the configmaps and secrets the pod's env, envFrom and volumes refer to."""
    cms: set[str] = set()
    secrets: set[str] = set()
    for c in _containers(pod):
        for src in c.get("envFrom") or []:
            if src.get("configMapRef"):
                cms.add(src["configMapRef"].get("name", ""))
            if src.get("secretRef"):
                secrets.add(src["secretRef"].get("name", ""))
        for item in c.get("env") or []:
            vf = item.get("valueFrom") or {}
            if vf.get("configMapKeyRef"):
                cms.add(vf["configMapKeyRef"].get("name", ""))
            if vf.get("secretKeyRef"):
                secrets.add(vf["secretKeyRef"].get("name", ""))
    for vol in (pod.get("spec") or {}).get("volumes") or []:
        if vol.get("configMap"):
            cms.add(vol["configMap"].get("name", ""))
        if vol.get("secret"):
            secrets.add(vol["secret"].get("secretName", ""))
        for src in (vol.get("projected") or {}).get("sources") or []:
            if src.get("configMap"):
                cms.add(src["configMap"].get("name", ""))
            if src.get("secret"):
                secrets.add(src["secret"].get("name", ""))
    cms.discard("")
    secrets.discard("")
    return cms, secrets


def _kind(vol: Obj) -> str:
    for kind in _SOURCE_KINDS:
        if kind in vol:
            return kind
    raise ConfigError(
        f"volume {vol.get('name')!r}: unsupported volume source (supported: {', '.join(_SOURCE_KINDS)})"
    )


def _keyed_files(
    data: Mapping[str, bytes], items: list[Obj] | None, default_mode: int, optional: bool, what: str
) -> dict[str, tuple[bytes, int]]:
    if not items:
        return {key: (value, default_mode) for key, value in data.items()}
    files: dict[str, tuple[bytes, int]] = {}
    for item in items:
        key = item.get("key", "")
        if key not in data:
            if optional:
                continue
            raise ConfigError(f"{what}: key {key!r} not found")
        files[item.get("path", key)] = (data[key], int(item.get("mode", default_mode)))
    return files


def _source_files(
    kind: str, ref: Obj, name: str, sources: PodSources, default_mode: int
) -> dict[str, tuple[bytes, int]]:
    store = sources.config_maps if kind == "configMap" else sources.secrets
    obj = store.get(name)
    optional = bool(ref.get("optional"))
    if obj is None:
        if optional:
            return {}
        raise ConfigError(f'{kind} "{name}" not found')
    data: dict[str, bytes]
    if kind == "configMap":
        data = {k: str(v).encode() for k, v in (obj.get("data") or {}).items()}
        data.update({k: base64.b64decode(v) for k, v in (obj.get("binaryData") or {}).items()})
    else:
        data = {k: base64.b64decode(v) for k, v in (obj.get("data") or {}).items()}
        data.update({k: str(v).encode() for k, v in (obj.get("stringData") or {}).items()})
    return _keyed_files(
        data, ref.get("items"), int(ref.get("defaultMode", default_mode)), optional, f"{kind} {name}"
    )


def _downward_files(
    pod: Obj, items: list[Obj], default_mode: int, sources: PodSources
) -> dict[str, tuple[bytes, int]]:
    files: dict[str, tuple[bytes, int]] = {}
    for item in items:
        if "resourceFieldRef" in item:
            ref = item["resourceFieldRef"]
            try:
                value = resource_field_value(named_container(pod, ref.get("containerName", "")), ref,
                                             sources.allocatable)
            except ResourceFieldError as err:
                raise ConfigError(f"downwardAPI {item.get('path')}: {err}") from None
        elif "fieldRef" in item:
            value = field_value(pod, item["fieldRef"].get("fieldPath", ""), sources)
        else:
            continue
        files[item["path"]] = (value.encode(), int(item.get("mode", default_mode)))
    return files


def _fs_user(pod: Obj) -> int | None:
    """The user every container (and init container) runs as, when they agree and say
    (their own runAsUser, else the pod's), else None: upstream's FsUser, the owner of a
    projected ServiceAccount token."""
    spec = pod.get("spec") or {}
    pod_user = (spec.get("securityContext") or {}).get("runAsUser")
    found: int | None = None
    for container in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        user = (container.get("securityContext") or {}).get("runAsUser", pod_user)
        if not isinstance(user, int) or (found is not None and user != found):
            return None
        found = user
    return found


def _token_mode(pod: Obj, default_mode: int) -> int:
    """A projected token's mode: 0600 when a pod user or fsGroup will own it (0640 once the
    fsGroup's read bit is added, as upstream's ownership pass leaves it), else the volume's."""
    if fs_group(pod) is not None:
        return 0o640
    return 0o600 if _fs_user(pod) is not None else default_mode


def _volume_files(pod: Obj, vol: Obj, kind: str, sources: PodSources) -> dict[str, tuple[bytes, int]]:
    if kind == "configMap":
        ref = vol["configMap"]
        return _source_files("configMap", ref, ref.get("name", ""), sources, 0o644)
    if kind == "secret":
        ref = vol["secret"]
        return _source_files("secret", ref, ref.get("secretName", ""), sources, 0o644)
    if kind == "downwardAPI":
        ref = vol["downwardAPI"]
        return _downward_files(pod, ref.get("items") or [], int(ref.get("defaultMode", 0o644)), sources)
    projected = vol["projected"]
    mode = int(projected.get("defaultMode", 0o644))
    files: dict[str, tuple[bytes, int]] = {}
    for src in projected.get("sources") or []:
        if src.get("configMap"):
            ref = src["configMap"]
            files.update(
                _source_files("configMap", {"defaultMode": mode, **ref}, ref.get("name", ""), sources, mode)
            )
        elif src.get("secret"):
            ref = src["secret"]
            files.update(
                _source_files("secret", {"defaultMode": mode, **ref}, ref.get("name", ""), sources, mode)
            )
        elif src.get("downwardAPI"):
            files.update(_downward_files(pod, src["downwardAPI"].get("items") or [], mode, sources))
        elif src.get("serviceAccountToken"):
            path = src["serviceAccountToken"].get("path", "")
            token = sources.tokens.get((vol.get("name", ""), path))
            if token is None:
                raise ConfigError(f"volume {vol.get('name')!r}: no ServiceAccount token for {path!r} yet")
            files[path] = (token, _token_mode(pod, mode))
    return files


def _token_owners(pod: Obj, vol: Obj) -> dict[str, int]:
    """The projected tokens of ``vol`` owned by the pod's user (upstream's FsUser)."""
    user = _fs_user(pod)
    if user is None:
        return {}
    return {src["serviceAccountToken"].get("path", ""): user
            for src in (vol.get("projected") or {}).get("sources") or [] if src.get("serviceAccountToken")}


def token_sources(pod: Obj) -> list[tuple[str, Obj]]:
    """(volume name, serviceAccountToken projection) for each token the pod's volumes want."""
    found: list[tuple[str, Obj]] = []
    for vol in (pod.get("spec") or {}).get("volumes") or []:
        for src in (vol.get("projected") or {}).get("sources") or []:
            if src.get("serviceAccountToken"):
                found.append((vol.get("name", ""), src["serviceAccountToken"]))
    return found


def _sync_files(directory: Path, files: dict[str, tuple[bytes, int]], owners: dict[str, int]) -> None:
    """Make ``directory`` hold exactly ``files`` (relative path -> (content, mode)), those in
    ``owners`` owned by that user."""
    try:
        write_atomic(directory, files, owners)
    except ValueError as err:
        raise ConfigError(str(err)) from None


def claim_names(pod: Obj) -> set[str]:
    """The claims the pod's volumes name."""
    return {
        str(vol["persistentVolumeClaim"].get("claimName", ""))
        for vol in (pod.get("spec") or {}).get("volumes") or []
        if vol.get("persistentVolumeClaim")
    }


def volume_source(volume: Obj) -> Obj | None:
    """A PersistentVolume's node-local source, if any: its hostPath, or its local path (a
    directory or a block device, :mod:`.block`) with the volume's mode and fsType."""
    spec = volume.get("spec") or {}
    if spec.get("hostPath"):
        return dict(spec["hostPath"])
    if spec.get("local"):
        return {"path": spec["local"].get("path", ""), "type": "Directory", "local": True,
                "volumeMode": spec.get("volumeMode") or "Filesystem",
                "fsType": spec["local"].get("fsType") or ""}
    return None


def _claim_path(vol: Obj, sources: PodSources, directory: Path) -> str:
    """The host path of a claim's volume: the hostPath or local directory itself, a local
    block device mounted on ``directory`` (Filesystem mode) or the device (Block mode)."""
    claim = str(vol["persistentVolumeClaim"].get("claimName", ""))
    source = sources.claims.get(claim)
    if source is None:
        raise ConfigError(f'persistentvolumeclaim "{claim}" is not bound to a volume of this node yet')
    path = str(source.get("path", ""))
    if source.get("local") and source.get("volumeMode") == "Block":
        if not is_block_device(path):
            raise ConfigError(
                f'volume of claim "{claim}" has volumeMode Block but {path} is not a block device'
            )
        return path
    if source.get("local") and is_block_device(path):
        readonly = bool(vol["persistentVolumeClaim"].get("readOnly"))
        try:
            format_and_mount(path, directory, str(source.get("fsType") or ""), readonly=readonly)
        except BlockVolumeError as err:
            raise ConfigError(f'volume of claim "{claim}": {err}') from None
        return str(directory)
    return _host_path({"hostPath": {k: source[k] for k in ("path", "type") if k in source}})


def _host_path(vol: Obj) -> str:
    ref = vol["hostPath"]
    path = Path(ref.get("path", ""))
    kind = ref.get("type", "")
    if kind == "DirectoryOrCreate":
        path.mkdir(parents=True, exist_ok=True)
    elif kind == "FileOrCreate" and not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
    elif kind in ("Directory", "File") and not path.exists():
        raise ConfigError(f"hostPath {path}: does not exist (type {kind})")
    return str(path)


def setup_volumes(root: Path, pod: Obj, sources: PodSources) -> dict[str, str]:
    """Create or refresh every volume of ``pod``; return volume name -> host path."""
    uid = (pod.get("metadata") or {}).get("uid", "")
    base = pod_dir(root, uid) / "volumes"
    paths: dict[str, str] = {}
    group = fs_group(pod)
    for vol in (pod.get("spec") or {}).get("volumes") or []:
        name = vol.get("name", "")
        kind = _kind(vol)
        if kind == "hostPath":
            paths[name] = _host_path(vol)
            continue
        if kind == "persistentVolumeClaim":
            paths[name] = _claim_path(vol, sources, base / "kubernetes.io~local-volume" / name)
            if group is not None and os.path.ismount(paths[name]):  # a device it mounted: as upstream
                set_volume_ownership(Path(paths[name]), group, readonly=False,
                                     policy=fs_group_change_policy(pod))
            continue
        directory = base / kind / name
        if kind == "emptyDir":
            if not os.path.ismount(directory):
                directory.mkdir(parents=True, exist_ok=True)
                directory.chmod(0o777)
                if (vol.get("emptyDir") or {}).get("medium") == "Memory":
                    _mount_tmpfs(directory, (vol.get("emptyDir") or {}).get("sizeLimit"))
        else:
            _sync_files(directory, _volume_files(pod, vol, kind, sources), _token_owners(pod, vol))
        if group is not None:
            set_volume_ownership(
                directory, group, readonly=kind != "emptyDir", policy=fs_group_change_policy(pod)
            )
        paths[name] = str(directory)
    return paths


def container_mounts(
    container: Obj, volume_paths: Mapping[str, str], env: Mapping[str, str] | None = None
) -> list[MountSpec]:
    """The container's mounts; ``env`` (its resolved environment) expands ``subPathExpr``."""
    mounts: list[MountSpec] = []
    for vm in container.get("volumeMounts") or []:
        name = vm.get("name", "")
        if name not in volume_paths:
            raise ConfigError(
                f"container {container.get('name')!r}: volumeMount {name!r} names no volume of the pod"
            )
        if is_block_device(volume_paths[name]):
            raise ConfigError(f"container {container.get('name')!r}: volume {name!r} has volumeMode Block: "
                              "a container uses it through volumeDevices, not volumeMounts")
        host = subpath_dir(volume_paths[name], vm, env or {}) or volume_paths[name]
        propagation = str(vm.get("mountPropagation") or "")
        mounts.append(MountSpec(host, vm.get("mountPath", ""), bool(vm.get("readOnly", False)), propagation))
    return mounts


def container_devices(container: Obj, volume_paths: Mapping[str, str]) -> list[tuple[str, str]]:
    """(devicePath, host device) for each of the container's volumeDevices: the Block-mode
    claims it names."""
    devices: list[tuple[str, str]] = []
    for vd in container.get("volumeDevices") or []:
        name = vd.get("name", "")
        host = volume_paths.get(name)
        if host is None:
            raise ConfigError(
                f"container {container.get('name')!r}: volumeDevice {name!r} names no volume of the pod"
            )
        if not is_block_device(host):
            raise ConfigError(f"container {container.get('name')!r}: volume {name!r} is not a block volume: "
                              "a container uses it through volumeMounts, not volumeDevices")
        devices.append((str(vd.get("devicePath", "")), host))
    return devices


def _mount_tmpfs(directory: Path, size_limit: str | None) -> None:
    """A tmpfs on ``directory``; its root keeps tmpfs's own mode (1777), as upstream's."""
    options = ["-o", f"size={memory_bytes(size_limit)}"] if size_limit else []
    done = subprocess.run(["mount", "-t", "tmpfs", *options, "tmpfs", str(directory)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ConfigError(f"emptyDir {directory.name}: mounting a tmpfs failed: {done.stderr.strip()}")


def _mounts_under(directory: Path) -> list[str]:
    prefix = str(directory) + "/"
    try:
        lines = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return []
    points = [line.split()[1].replace("\\040", " ") for line in lines if len(line.split()) > 1]
    return sorted((p for p in points if p.startswith(prefix)), key=len, reverse=True)


def remove_pod_volumes(root: Path, uid: str) -> None:
    directory = pod_dir(root, uid)
    for point in _mounts_under(directory):  # memory-backed emptyDirs
        subprocess.run(["umount", "-l", point], capture_output=True, check=False)
    shutil.rmtree(directory, ignore_errors=True)
