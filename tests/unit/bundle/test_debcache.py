"""The deb cache: only files apt resolved, with the index's size and SHA-256, come from it."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

from kprov.bundle.debcache import (
    MAX_UNUSED_DAYS,
    WantedDeb,
    package_names,
    parse_print_uris,
    place_cached,
    remember,
    wanted_debs,
)

# apt-get --print-uris as bookworm's apt prints it: an MD5, or no hash at all
URIS = """\
Need to get 3235 kB of archives.
'http://deb.debian.org/debian/pool/main/g/glibc/libc6_2.36-9%2bdeb12u14_amd64.deb' \
libc6_2.36-9+deb12u14_amd64.deb 2759320 MD5Sum:8d98f0c882f269aaee8437bcfe89346e
'http://deb.debian.org/debian-security/pool/updates/main/j/jq/jq_1.6-2.1%2bdeb12u3_amd64.deb' \
jq_1.6-2.1+deb12u3_amd64.deb 64432{space}
""".format(space=" ")
RECORDS = """\
Package: libc6
Version: 2.36-9+deb12u14
Filename: pool/main/g/glibc/libc6_2.36-9+deb12u14_amd64.deb
Size: 2759320
SHA256: {libc}
Description: GNU C Library
 a continuation line: with a colon

Package: jq
Filename: pool/updates/main/j/jq/jq_1.6-2.1+deb12u3_amd64.deb
Size: 99
SHA256: {jq}
"""


def _wanted(name: str, data: bytes) -> WantedDeb:
    return WantedDeb(name, len(data), hashlib.sha256(data).hexdigest())


def test_apts_resolution_is_joined_with_the_index_hashes() -> None:
    uris = parse_print_uris(URIS)
    assert uris == {
        "pool/main/g/glibc/libc6_2.36-9+deb12u14_amd64.deb": ("libc6_2.36-9+deb12u14_amd64.deb", 2759320),
        "pool/updates/main/j/jq/jq_1.6-2.1+deb12u3_amd64.deb": ("jq_1.6-2.1+deb12u3_amd64.deb", 64432),
    }
    assert package_names(uris) == ["jq", "libc6"]
    # jq's index size differs from what apt would fetch: not taken from the cache
    assert wanted_debs(uris, RECORDS.format(libc="a" * 64, jq="b" * 64)) == [
        WantedDeb("libc6_2.36-9+deb12u14_amd64.deb", 2759320, "a" * 64)]


def test_only_intact_cached_files_are_placed(tmp_path: Path) -> None:
    cache, repo = tmp_path / "cache", tmp_path / "repo"
    cache.mkdir()
    repo.mkdir()
    (cache / "a.deb").write_bytes(b"aaaa")
    (cache / "b.deb").write_bytes(b"damaged")
    wanted = [_wanted("a.deb", b"aaaa"), _wanted("b.deb", b"bbbbbbb"), _wanted("c.deb", b"c")]
    assert place_cached(cache, repo, wanted) == wanted[:1]
    assert sorted(p.name for p in repo.iterdir()) == ["a.deb"]
    assert (repo / "a.deb").read_bytes() == b"aaaa"


def test_downloads_replace_damaged_entries_and_long_unused_entries_go(tmp_path: Path) -> None:
    cache, repo = tmp_path / "cache", tmp_path / "repo"
    repo.mkdir()
    cache.mkdir()
    for name in ("new.deb", "fixed.deb"):
        (repo / name).write_bytes(b"good")
        os.utime(repo / name, (0, 0))  # apt dates a download by the mirror's Last-Modified
    (cache / "fixed.deb").write_bytes(b"damaged")
    (cache / "old.deb").write_bytes(b"old")
    old = time.time() - (MAX_UNUSED_DAYS + 1) * 86400
    os.utime(cache / "old.deb", (old, old))
    remember(cache, repo, [_wanted("new.deb", b"good"), _wanted("fixed.deb", b"good")], placed=[])
    assert sorted(p.name for p in cache.iterdir()) == ["fixed.deb", "new.deb"]
    assert (cache / "fixed.deb").read_bytes() == b"good"
