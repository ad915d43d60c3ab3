"""One rule for every file the package writes: the whole new file or the old one, nothing left on failure."""

import os
import stat

import pytest

from specs_verl.atomic import atomic_path, temp_path, write_atomic


def test_a_failed_write_leaves_the_old_file_and_no_temp_file(tmp_path):
    target = tmp_path / "report.json"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed mid-write")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]


def test_the_result_has_ordinary_permissions_and_the_folder_is_made(tmp_path):
    target = tmp_path / "new" / "folder" / "gf.csv"
    old_umask = os.umask(0o022)
    try:
        write_atomic(target, "a,b\n")
    finally:
        os.umask(old_umask)
    assert target.read_text() == "a,b\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644  # not a private mkstemp file


def test_concurrent_writers_never_share_a_temp_name(tmp_path):
    names = {temp_path(tmp_path / "pairs.parquet") for _ in range(1000)}
    assert len(names) == 1000
    assert all(n.parent == tmp_path and n.name.startswith(".pairs.parquet.") for n in names)
