"""Gzipped suite binaries are unpacked executable into the run's directory; plain ones are used as given."""

import gzip
import os
from pathlib import Path

from kprov.conformance.binaries import executable


def test_a_gzipped_binary_is_unpacked_executable(tmp_path: Path) -> None:
    packed = tmp_path / "e2e.test.gz"
    packed.write_bytes(gzip.compress(b"#!/bin/sh\necho suite\n"))
    unpacked = executable(packed, tmp_path / "run" / "bin")
    assert unpacked == tmp_path / "run" / "bin" / "e2e.test"
    assert unpacked.read_bytes() == b"#!/bin/sh\necho suite\n" and os.access(unpacked, os.X_OK)


def test_a_plain_binary_is_used_where_it_is(tmp_path: Path) -> None:
    plain = tmp_path / "agnhost"
    plain.write_bytes(b"x")
    assert executable(plain, tmp_path / "bin") == plain and not (tmp_path / "bin").exists()
