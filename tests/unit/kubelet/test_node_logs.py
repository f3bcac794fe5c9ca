"""The kubelet's /logs/: a listing of /var/log as Go's file server writes it, nothing outside it."""

from __future__ import annotations

from pathlib import Path

from kprov.cluster.kubelet.streaming.node_logs import listing, resolve


def test_paths_stay_inside_the_log_directory(tmp_path: Path) -> None:
    root = tmp_path / "log"
    (root / "apt").mkdir(parents=True)
    (root / "syslog").write_text("x")
    (tmp_path / "secret").write_text("s")
    (root / "escape").symlink_to(tmp_path / "secret")
    assert resolve(root, "") == root.resolve()
    assert resolve(root, "syslog") == (root / "syslog").resolve()
    assert resolve(root, "../secret") is None and resolve(root, "escape") is None
    assert resolve(root, "missing") is None


def test_a_directory_lists_its_entries_sorted_with_directories_marked(tmp_path: Path) -> None:
    (tmp_path / "b.log").write_text("x")
    (tmp_path / "a dir").mkdir()
    text = listing(tmp_path)
    links = ['<a href="a%20dir/">a dir/</a>', '<a href="b.log">b.log</a>']
    assert text.splitlines()[2:] == ["<pre>", *links, "</pre>"]
