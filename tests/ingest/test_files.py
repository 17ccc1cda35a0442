"""Stored originals: found by document id and generation, never outside their directory, and
only the current generation's file survives a clean-up."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.files import StoredFiles


def test_a_saved_original_reads_back_per_generation(tmp_path: Path) -> None:
    files = StoredFiles(tmp_path / "files")
    files.save("abc123", b"first")
    files.save("abc123", b"second version", generation=1)
    assert files.read("abc123") == b"first"
    assert files.read("abc123", 1) == b"second version"
    assert files.path_of("abc123", 1).parent == tmp_path / "files"
    files.unlink("abc123", 0)
    assert not files.exists("abc123") and files.exists("abc123", 1)
    with pytest.raises(FileNotFoundError):
        files.read("abc123")


@pytest.mark.parametrize("document_id", ["../secrets", "a/b", "", ".hidden", "x\x00y"])
def test_an_id_that_is_not_a_plain_name_is_refused(tmp_path: Path, document_id: str) -> None:
    with pytest.raises(ValueError, match="not a document id"):
        StoredFiles(tmp_path).path_of(document_id)


def test_strays_are_removed_and_current_originals_kept(tmp_path: Path) -> None:
    files = StoredFiles(tmp_path)
    files.save("kept", b"a")
    files.save("replaced", b"old")
    files.save("replaced", b"new", generation=2)
    files.save("gone", b"its record was deleted")
    (tmp_path / "kept.part").write_bytes(b"half written")
    files.remove_strays({"kept": 0, "replaced": 2})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept", "replaced.g2"]
