"""Public images kprov builds offline, matched by repository: which recipe provides each
name, and the image spec of each recipe.

Nothing can be pulled here, so a name is either built locally under its exact name or
reported missing. Matching is by the image's repository (registry and tag ignored), so any
version's names work:

- busybox, pause: kprov's own busybox and pause images (Debian's static busybox: a
  *substitute*, the same tool, not the tagged build), with bash as /bin/sh
  (:mod:`kprov.images.host_tools` says why);
- httpd: a *stand-in*, busybox's httpd serving ``/usr/local/apache2/htdocs`` (an
  ``index.html``) on port 80, as the real image lays its documents out;
- Docker Hub's nginx (``library/nginx``): a *stand-in*, busybox's httpd serving
  ``/usr/share/nginx/html`` (a welcome ``index.html``) on port 80, as the real image does:
  client suites write files there and fetch them (kr8s's port-forward tests), or look for
  the welcome heading (the official Python client's);
- nautilus, kitten (the Update Demo): *stand-ins*, busybox's httpd serving the
  ``data.json`` (``{"image": "nautilus.jpg"}``) the real images serve, on port 80;
- build-image/distroless-iptables: a *stand-in*, a busybox root with this machine's
  ``conntrack`` (the KubeProxy spec lists the node's conntrack entries with it);
- Docker Hub's python (``library/python``): a *substitute*, this machine's CPython on a
  busybox root (:mod:`kprov.images.python_root`), whatever version the tag names;
- Docker Hub's ubuntu and debian: a *stand-in*, busybox's tools with this machine's GNU
  bash as ``/bin/bash`` (``CMD /bin/bash``): what such pods mostly run (``sleep``, ``date``,
  ``bash -c`` scripts) works; there is no package manager, and ``/etc/os-release`` is
  busybox's root's (none), so nothing claims to be the distribution;
- with an agnhost binary: agnhost on a busybox root, ``ENTRYPOINT /agnhost``, ``CMD pause``,
  with the uid 1000 user and gid 50000 group the real image has and this machine's dig,
  getent, curl and OpenBSD nc; the e2e suite's nginx as a *stand-in* (agnhost serving HTTP
  on port 80, ``netexec``); jessie-dnsutils as a *stand-in* (the agnhost root).

:mod:`kprov.images.standins` builds these for the cluster's mirror; the conformance suite's
images (:mod:`kprov.conformance.images`) add their own recipes in front of these.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from kprov.images.host_tools import with_agnhost_tools, with_env_keeping_shell
from kprov.images.oci import FileEntry, ImageSpec
from kprov.images.python_root import PYTHON, python_files, python_version
from kprov.images.recipes import BUSYBOX_PATH, PAUSE_ENTRYPOINT, busybox_files
from kprov.pki.keypair import issue_cert, new_ca

__all__ = [
    "ImagePlan",
    "ImageRoots",
    "PlannedImage",
    "Recipe",
    "image_roots",
    "plan_by",
    "repository",
    "standin_recipe",
    "standin_spec",
]

Recipe = tuple[str, str, str]  # (recipe, kind, note) as PlannedImage holds them

# upstream's agnhost image adds user-defined-in-image (uid 1000) as a member of
# group-defined-in-image (gid 50000): the runtime merges that group into a uid-1000
# container's supplementary groups, which the SupplementalGroups specs read with `id -G`
_PASSWD = (
    b"root:x:0:0:root:/root:/bin/sh\n"
    b"user-defined-in-image:x:1000:1000::/home/user-defined-in-image:/bin/sh\n"
    b"nobody:x:65534:65534::/:/bin/false\n"
)
_GROUP = (
    b"root:x:0:\nuser-defined-in-image:x:1000:\n"
    b"group-defined-in-image:x:50000:user-defined-in-image\nnobody:x:65534:\n"
)
CONNTRACK = Path("/usr/sbin/conntrack")  # conntrack-tools, which .ci/setup installs
BASH = Path("/bin/bash")
_DISTRIBUTIONS = frozenset({"library/ubuntu", "ubuntu", "library/debian", "debian"})
HTDOCS = "usr/local/apache2/htdocs"
DEMO_ROOT = "usr/share/demo"
_INDEX = b"<html><body><h1>It works!</h1></body></html>\n"
NGINX_ROOT = "usr/share/nginx/html"
_NGINX_INDEX = (b"<!DOCTYPE html>\n<html>\n<head><title>Welcome to nginx!</title></head>\n"
                b"<body>\n<h1>Welcome to nginx!</h1>\n<p>kprov's stand-in: busybox httpd.</p>\n"
                b"</body>\n</html>\n")


@dataclass(frozen=True)
class PlannedImage:
    reference: str
    recipe: str  # busybox | pause | agnhost | http-standin | httpd-standin | nginx-standin | demo-standin |
    # conntrack-standin | python-standin | distro-standin |
    #   dnsutils-standin (and the conformance suite's own: nonewprivs | sample-apiserver-standin | etcd)
    kind: str  # "substitute" (the same tool, another build) or "stand-in" (another tool)
    note: str


@dataclass
class ImagePlan:
    provided: list[PlannedImage] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # references nobody can provide here


@dataclass
class ImageRoots:
    """The file lists the recipes share (one layer each): busybox's, and agnhost's (empty
    without an agnhost binary); busybox's with this machine's Python (:attr:`python`) is read
    only when a recipe asks for it (the interpreter's files are most of such a layer)."""

    plain: list[FileEntry]
    rooted: list[FileEntry]
    interpreter: Path = PYTHON

    @functools.cached_property
    def python(self) -> list[FileEntry]:
        """busybox's root with the interpreter, or [] when this machine has none."""
        files = python_files(self.interpreter)
        return _adding(self.plain, files) if files else []


def repository(reference: str) -> str:
    """``reference`` without its registry host, tag and digest (``e2e-test-images/agnhost``)."""
    name = reference.rsplit("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name = name.rsplit(":", 1)[0]
    return name.split("/", 1)[1] if "/" in name and "." in name.split("/", 1)[0] else name


def standin_recipe(repo: str, have_agnhost: bool) -> Recipe | None:
    """The recipe providing repository ``repo``, or None."""
    base = repo.rsplit("/", 1)[-1]
    if base == "busybox":
        return "busybox", "substitute", "Debian's static busybox"
    if base == "pause":
        return "pause", "substitute", "kprov's pause (busybox sh: exits on SIGTERM, reaps zombies)"
    if base == "httpd":
        return "httpd-standin", "stand-in", "busybox httpd serving /usr/local/apache2/htdocs on port 80"
    if repo in ("library/nginx", "nginx"):
        return "nginx-standin", "stand-in", "busybox httpd serving /usr/share/nginx/html on port 80"
    if base in ("nautilus", "kitten"):
        return "demo-standin", "stand-in", f"busybox httpd serving the {base}.jpg data.json on port 80"
    if base == "distroless-iptables":
        return "conntrack-standin", "stand-in", "a busybox root with this machine's conntrack"
    if base == "nonroot":
        return "nonroot-standin", "stand-in", "a busybox root whose image user is 1234, as upstream's nonroot"
    if repo in _DISTRIBUTIONS and BASH.is_file():
        return "distro-standin", "stand-in", "busybox's tools with this machine's GNU bash"
    if repo in ("library/python", "python") and python_version():
        return "python-standin", "substitute", f"this machine's CPython {python_version()} on a busybox root"
    if not have_agnhost:
        return None
    if repo.endswith("e2e-test-images/agnhost"):
        return "agnhost", "substitute", "the given agnhost binary on a busybox root"
    if base == "nginx":
        return "http-standin", "stand-in", "agnhost netexec serving HTTP on port 80"
    if base == "jessie-dnsutils":
        return "dnsutils-standin", "stand-in", "agnhost root with this machine's dig and getent"
    return None


def plan_by(references: list[str], recipe_for: Callable[[str], Recipe | None]) -> ImagePlan:
    """Each distinct reference (sorted) as provided by ``recipe_for(its repository)`` or missing."""
    plan = ImagePlan()
    for reference in sorted(set(references)):
        recipe = recipe_for(repository(reference))
        if recipe is None:
            plan.missing.append(reference)
        else:
            plan.provided.append(PlannedImage(reference, *recipe))
    return plan


def image_roots(agnhost: Path | None, busybox: Path = BUSYBOX_PATH) -> ImageRoots:
    plain = with_env_keeping_shell(busybox_files(busybox))
    rooted = with_agnhost_tools(with_env_keeping_shell(_agnhost_files(agnhost, busybox))) if agnhost else []
    return ImageRoots(plain, rooted)


def standin_spec(image: PlannedImage, roots: ImageRoots) -> ImageSpec | None:
    """The spec of ``image`` if :func:`standin_recipe` names its recipe, else None."""
    plain, rooted = roots.plain, roots.rooted
    if image.recipe == "busybox":
        return ImageSpec(image.reference, files=plain, cmd=["/bin/sh"])
    if image.recipe == "pause":
        return ImageSpec(image.reference, files=plain, entrypoint=list(PAUSE_ENTRYPOINT))
    if image.recipe == "agnhost":
        return ImageSpec(image.reference, files=rooted, entrypoint=["/agnhost"], cmd=["pause"])
    if image.recipe == "http-standin":
        return ImageSpec(image.reference, files=rooted, entrypoint=["/agnhost", "netexec", "--http-port=80"])
    if image.recipe == "httpd-standin":
        files = _adding(plain, _htdocs(HTDOCS, {"index.html": _INDEX}))
        return ImageSpec(image.reference, files=files, entrypoint=_busybox_httpd(HTDOCS))
    if image.recipe == "nginx-standin":
        files = _adding(plain, _htdocs(NGINX_ROOT, {"index.html": _NGINX_INDEX}))
        return ImageSpec(image.reference, files=files, entrypoint=_busybox_httpd(NGINX_ROOT))
    if image.recipe == "demo-standin":
        picture = repository(image.reference).rsplit("/", 1)[-1] + ".jpg"
        data = b'{"image": "' + picture.encode() + b'"}\n'
        files = _adding(plain, _htdocs(DEMO_ROOT, {"data.json": data}))
        return ImageSpec(image.reference, files=files, entrypoint=_busybox_httpd(DEMO_ROOT))
    if image.recipe == "nonroot-standin":  # runAsNonRoot specs read the user from the image
        return ImageSpec(image.reference, files=plain, cmd=["/bin/sh"], user="1234")
    if image.recipe == "conntrack-standin":  # the KubeProxy CLOSE_WAIT spec lists conntrack entries
        files = with_agnhost_tools(plain, {CONNTRACK: "usr/sbin/conntrack"})
        return ImageSpec(image.reference, files=files, cmd=["/bin/sh"])
    if image.recipe == "distro-standin":  # ubuntu, debian: pods that sleep, exec, run bash -c
        files = with_agnhost_tools(plain, {BASH: "bin/bash"})
        return ImageSpec(image.reference, files=files, cmd=["/bin/bash"])
    if image.recipe == "dnsutils-standin":
        return ImageSpec(image.reference, files=rooted, cmd=["/bin/sh"])
    if image.recipe == "python-standin":
        if not roots.python:
            return None
        path = "PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin"
        return ImageSpec(image.reference, files=roots.python, cmd=["python3"], env=[path, "LANG=C.UTF-8"])
    return None


def _agnhost_files(agnhost: Path, busybox: Path) -> list[FileEntry]:
    files = [f for f in busybox_files(busybox) if f.path not in ("etc/passwd", "etc/group")]
    files += [
        FileEntry("agnhost", data=agnhost.read_bytes(), mode=0o755),
        FileEntry("agnhost-2", symlink_to="agnhost"),
        # upstream's agnhost (and jessie-dnsutils) have /bin/bash, and e2e specs run their
        # scripts with it; here it is the ash kprov builds, which answers to the name bash
        # (with bash's [[ ]]), not GNU bash. The images on this root share one layer.
        FileEntry("bin/bash", symlink_to="sh"),
        FileEntry("uploads", is_dir=True, mode=0o777),
        FileEntry("home", is_dir=True, mode=0o755),
        FileEntry("home/user-defined-in-image", is_dir=True, mode=0o755),
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


def _htdocs(root: str, documents: dict[str, bytes]) -> list[FileEntry]:
    """``root`` (and its parents) with ``documents`` in it."""
    parts = root.split("/")
    dirs = [FileEntry("/".join(parts[: i + 1]), is_dir=True, mode=0o755) for i in range(len(parts))]
    return dirs + [FileEntry(f"{root}/{name}", data=data, mode=0o644) for name, data in documents.items()]


def _adding(files: list[FileEntry], extra: list[FileEntry]) -> list[FileEntry]:
    have = {f.path for f in files}
    return files + [f for f in extra if f.path not in have]


def _busybox_httpd(root: str) -> list[str]:
    """busybox's httpd in the foreground on port 80, serving ``root``, under busybox's sh that
    traps the stop signals: a container's first process ignores a signal it has no handler for,
    and busybox httpd installs none, so a stopped pod waited out its whole grace period (30 s)
    where Apache httpd and nginx, which handle SIGTERM, stop at once."""
    serve = f"/bin/busybox httpd -f -p 80 -h /{root}"
    return ["/bin/busybox", "sh", "-c", f"trap 'kill $! 2>/dev/null; exit 0' TERM INT; {serve} & wait $!"]
