"""Which images of the suite kprov can provide offline, and the image specs that provide them.

The suite names its images (``e2e.test --list-images``); nothing can be pulled here, so
each is either built locally under its exact name or reported missing. Matching is by the
image's repository (registry and tag ignored), so any suite version's names work:

- busybox, pause: kprov's own busybox and pause images (Debian's static busybox: a
  *substitute* — the same tool, not the tagged build), with bash as /bin/sh
  (kprov.conformance.host_tools says why);
- agnhost: the user's agnhost binary on a busybox root, ``ENTRYPOINT /agnhost``,
  ``CMD pause``, with the uid 1000 user and gid 50000 group the real image has, and
  this machine's dig, getent, curl and OpenBSD nc as the real image has them;
- nginx: a *stand-in* — agnhost serving HTTP on port 80 (``netexec``);
- httpd: a *stand-in* — busybox's httpd serving ``/usr/local/apache2/htdocs`` (an
  ``index.html``) on port 80, as the real image lays its documents out: the StatefulSet
  tests make a pod unready by moving ``index.html`` away, which only works when the
  readiness probe's file is really served from there;
- nautilus, kitten (the Update Demo): *stand-ins* — busybox's httpd serving the
  ``data.json`` (``{"image": "nautilus.jpg"}``) the real images serve, on port 80;
- jessie-dnsutils: a *stand-in* — the agnhost root (dig, getent);
- nonewprivs: a *substitute* — a busybox root with the setuid-root program that prints its
  effective uid, compiled here (:mod:`kprov.conformance.nnp`), when this machine has a C
  compiler;
- sample-apiserver: a *stand-in* — kprov's own small Python server of the wardle.example.com
  group (:mod:`kprov.conformance.wardle`) on this machine's python3, when it has one;
- etcd: a *substitute* — Debian's etcd (another version than the tag), when installed
  (:mod:`kprov.conformance.aggregator_images` builds both).
Everything else (CSI sidecars, windows images, ...) is missing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from kprov.conformance.aggregator_images import etcd_spec, sample_apiserver_spec
from kprov.conformance.host_tools import with_agnhost_tools, with_env_keeping_shell
from kprov.conformance.nnp import NNP_PATH, build_nnp
from kprov.images.oci import FileEntry, ImageSpec
from kprov.images.recipes import BUSYBOX_PATH, busybox_files
from kprov.pki.keypair import issue_cert, new_ca

__all__ = ["ImagePlan", "PlannedImage", "image_specs", "plan_images"]

_PASSWD = (
    b"root:x:0:0:root:/root:/bin/sh\n"
    b"user:x:1000:1000::/home/user:/bin/sh\n"
    b"nobody:x:65534:65534::/:/bin/false\n"
)
_GROUP = b"root:x:0:\nuser:x:1000:\nfsgroup:x:50000:\nnobody:x:65534:\n"


@dataclass(frozen=True)
class PlannedImage:
    reference: str
    recipe: str  # busybox | pause | agnhost | http-standin | httpd-standin | demo-standin |
    #   dnsutils-standin | nonewprivs | sample-apiserver-standin | etcd
    kind: str  # "substitute" (the same tool, another build) or "stand-in" (another tool)
    note: str


@dataclass
class ImagePlan:
    provided: list[PlannedImage] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # references nobody can provide here


def _repository(reference: str) -> str:
    name = reference.rsplit("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name = name.rsplit(":", 1)[0]
    return name.split("/", 1)[1] if "/" in name and "." in name.split("/", 1)[0] else name


def _recipe_for(repository: str, have_agnhost: bool, have_compiler: bool, have_python: bool,
                etcd_version: str | None) -> tuple[str, str, str] | None:
    base = repository.rsplit("/", 1)[-1]
    if repository.endswith("e2e-test-images/sample-apiserver") and have_python:
        return ("sample-apiserver-standin", "stand-in",
                "kprov's Python server of wardle.example.com/v1alpha1 (not upstream's sample-apiserver)")
    if base == "etcd" and etcd_version:
        return "etcd", "substitute", f"Debian's etcd {etcd_version} at /usr/local/bin/etcd"
    if repository.endswith("e2e-test-images/nonewprivs") and have_compiler:
        return "nonewprivs", "substitute", "a setuid-root program printing its effective uid, built here"
    if base == "busybox":
        return "busybox", "substitute", "Debian's static busybox"
    if base == "pause":
        return "pause", "substitute", "kprov's pause (busybox sleep)"
    if base == "httpd":
        return "httpd-standin", "stand-in", "busybox httpd serving /usr/local/apache2/htdocs on port 80"
    if base in ("nautilus", "kitten"):
        return "demo-standin", "stand-in", f"busybox httpd serving the {base}.jpg data.json on port 80"
    if not have_agnhost:
        return None
    if repository.endswith("e2e-test-images/agnhost"):
        return "agnhost", "substitute", "the given agnhost binary on a busybox root"
    if base == "nginx":
        return "http-standin", "stand-in", "agnhost netexec serving HTTP on port 80"
    if base == "jessie-dnsutils":
        return "dnsutils-standin", "stand-in", "agnhost root with this machine's dig and getent"
    return None


def plan_images(references: list[str], have_agnhost: bool, have_compiler: bool = False,
                have_python: bool = False, etcd_version: str | None = None) -> ImagePlan:
    """``have_python``: this machine has a system python3 (the sample-apiserver stand-in);
    ``etcd_version``: the version of its etcd binary, if installed (the etcd substitute)."""
    plan = ImagePlan()
    for reference in sorted(set(references)):
        recipe = _recipe_for(_repository(reference), have_agnhost, have_compiler, have_python, etcd_version)
        if recipe is None:
            plan.missing.append(reference)
        else:
            plan.provided.append(PlannedImage(reference, *recipe))
    return plan


def _agnhost_files(agnhost: Path, busybox: Path) -> list[FileEntry]:
    files = [f for f in busybox_files(busybox) if f.path not in ("etc/passwd", "etc/group")]
    files += [
        FileEntry("agnhost", data=agnhost.read_bytes(), mode=0o755),
        FileEntry("agnhost-2", symlink_to="agnhost"),
        FileEntry("uploads", is_dir=True, mode=0o777),
        FileEntry("home", is_dir=True, mode=0o755),
        FileEntry("home/user", is_dir=True, mode=0o755),
        FileEntry("etc/passwd", data=_PASSWD),
        FileEntry("etc/group", data=_GROUP),
        *_localhost_serving_files(),
    ]
    return files


def _localhost_serving_files() -> list[FileEntry]:
    """/localhost.crt and /localhost.key, as the real image has them: ``agnhost porter`` and
    ``netexec`` serve TLS with them from the working directory (the proxy tests' https ports)."""
    ca = new_ca("kprov-conformance-agnhost")
    pair = issue_cert(ca, "localhost", dns_names=["localhost"], ip_addresses=["127.0.0.1"], server=True)
    return [FileEntry("localhost.crt", data=pair.cert_pem), FileEntry("localhost.key", data=pair.key_pem)]


HTDOCS = "usr/local/apache2/htdocs"
DEMO_ROOT = "usr/share/demo"
_INDEX = b"<html><body><h1>It works!</h1></body></html>\n"


def _htdocs(root: str, documents: dict[str, bytes]) -> list[FileEntry]:
    """``root`` (and its parents) with ``documents`` in it."""
    parts = root.split("/")
    dirs = [FileEntry("/".join(parts[: i + 1]), is_dir=True, mode=0o755) for i in range(len(parts))]
    return dirs + [FileEntry(f"{root}/{name}", data=data, mode=0o644) for name, data in documents.items()]


def _adding(files: list[FileEntry], extra: list[FileEntry]) -> list[FileEntry]:
    have = {f.path for f in files}
    return files + [f for f in extra if f.path not in have]


def _busybox_httpd(root: str) -> list[str]:
    """busybox's httpd in the foreground on port 80, serving ``root``."""
    return ["/bin/busybox", "httpd", "-f", "-p", "80", "-h", f"/{root}"]


def image_specs(plan: ImagePlan, agnhost: Path | None, busybox: Path = BUSYBOX_PATH) -> list[ImageSpec]:
    """Specs for every provided image; images of one root share one file list (one layer)."""
    plain = with_env_keeping_shell(busybox_files(busybox))
    rooted = with_agnhost_tools(with_env_keeping_shell(_agnhost_files(agnhost, busybox))) if agnhost else []
    specs = []
    nnp: list[FileEntry] = []
    for image in plan.provided:
        if image.recipe == "busybox":
            specs.append(ImageSpec(image.reference, files=plain, cmd=["/bin/sh"]))
        elif image.recipe == "pause":
            specs.append(ImageSpec(image.reference, files=plain, entrypoint=["/bin/sleep", "infinity"]))
        elif image.recipe == "agnhost":
            specs.append(ImageSpec(image.reference, files=rooted, entrypoint=["/agnhost"], cmd=["pause"]))
        elif image.recipe == "http-standin":
            specs.append(ImageSpec(image.reference, files=rooted,
                                   entrypoint=["/agnhost", "netexec", "--http-port=80"]))
        elif image.recipe == "httpd-standin":
            files = _adding(plain, _htdocs(HTDOCS, {"index.html": _INDEX}))
            specs.append(ImageSpec(image.reference, files=files, entrypoint=_busybox_httpd(HTDOCS)))
        elif image.recipe == "demo-standin":
            picture = _repository(image.reference).rsplit("/", 1)[-1] + ".jpg"
            data = b'{"image": "' + picture.encode() + b'"}\n'
            files = _adding(plain, _htdocs(DEMO_ROOT, {"data.json": data}))
            specs.append(ImageSpec(image.reference, files=files, entrypoint=_busybox_httpd(DEMO_ROOT)))
        elif image.recipe == "dnsutils-standin":
            specs.append(ImageSpec(image.reference, files=rooted, cmd=["/bin/sh"]))
        elif image.recipe == "nonewprivs":
            nnp = nnp or [*plain, FileEntry(NNP_PATH, data=build_nnp(), mode=0o4755)]
            specs.append(ImageSpec(image.reference, files=nnp, entrypoint=["/" + NNP_PATH]))
        elif image.recipe == "sample-apiserver-standin":
            specs.append(sample_apiserver_spec(image.reference))
        elif image.recipe == "etcd":
            specs.append(etcd_spec(image.reference))
    return specs
