"""Partition targets and atomic writes: a reader sees the old file or the new one, never half."""

from __future__ import annotations

import datetime
import json
import os
import stat
from pathlib import Path

import luigi
import pytest

from etl.targets import atomic_path, partition_target, read_json, write_json


def test_partition_target_points_into_the_day_partition(tmp_path):
    target = partition_target(str(tmp_path), "processed", datetime.date(2024, 3, 9), "daily_summary.json")
    assert isinstance(target, luigi.LocalTarget)
    assert target.path == str(tmp_path / "processed" / "year=2024" / "month=03" / "day=09" / "daily_summary.json")
    assert not target.exists()


def test_partition_target_refuses_unknown_layer(tmp_path):
    with pytest.raises(ValueError, match="unknown layer"):
        partition_target(str(tmp_path), "staging", datetime.date(2024, 3, 9), "x.json")


def test_atomic_path_replaces_the_file_on_success(tmp_path):
    final = tmp_path / "a" / "b" / "out.txt"
    with atomic_path(final) as tmp:
        assert tmp.parent == final.parent, "the temporary file is beside the final one (same filesystem)"
        assert tmp.name.startswith(".out.txt.") and tmp.name.endswith(".tmp")
        assert not final.exists(), "nothing is visible before the block ends"
        tmp.write_text("new")
    assert final.read_text() == "new"
    assert sorted(os.listdir(final.parent)) == ["out.txt"]
    assert stat.S_IMODE(final.stat().st_mode) == 0o644


def test_atomic_path_keeps_old_content_and_no_temp_file_on_exception(tmp_path):
    final = tmp_path / "out.txt"
    final.write_text("old")
    seen = {}
    with pytest.raises(RuntimeError, match="boom"), atomic_path(final) as tmp:
        tmp.write_text("half")
        seen["tmp"] = tmp
        raise RuntimeError("boom")
    assert final.read_text() == "old"
    assert not seen["tmp"].exists()
    assert sorted(os.listdir(tmp_path)) == ["out.txt"]


def test_atomic_path_on_exception_leaves_no_file_where_there_was_none(tmp_path):
    final = tmp_path / "new.txt"
    with pytest.raises(KeyError), atomic_path(final) as tmp:
        tmp.write_text("partial")
        raise KeyError("x")
    assert os.listdir(tmp_path) == []


def test_atomic_path_when_the_body_writes_nothing_leaves_an_empty_file(tmp_path):
    final = tmp_path / "empty.txt"
    final.write_text("old")
    with atomic_path(final):
        pass
    assert final.read_text() == ""


def test_write_json_is_sorted_indented_and_newline_terminated(tmp_path):
    path = tmp_path / "doc.json"
    write_json(path, {"b": 1, "a": {"d": [1, 2], "c": None}, "é": "ü"})
    assert path.read_text() == (
        "{\n"
        '  "a": {\n'
        '    "c": null,\n'
        '    "d": [\n'
        "      1,\n"
        "      2\n"
        "    ]\n"
        "  },\n"
        '  "b": 1,\n'
        '  "\\u00e9": "\\u00fc"\n'
        "}\n"
    )


def test_write_json_is_stable_whatever_the_key_order(tmp_path):
    write_json(tmp_path / "one.json", {"x": 1, "y": {"b": 2, "a": 3}})
    write_json(tmp_path / "two.json", {"y": {"a": 3, "b": 2}, "x": 1})
    assert (tmp_path / "one.json").read_bytes() == (tmp_path / "two.json").read_bytes()


def test_write_json_round_trips_through_read_json(tmp_path):
    payload = {"execution_date": "2024-03-09", "total_revenue": 46547.82, "rules": [{"passed": True}], "n": None}
    path = tmp_path / "metrics" / "year=2024" / "report.json"
    write_json(path, payload)
    assert read_json(path) == payload
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_write_json_failure_keeps_the_old_file_and_no_temp_file(tmp_path):
    path = tmp_path / "doc.json"
    write_json(path, {"version": 1})
    before = path.read_bytes()
    with pytest.raises(TypeError):
        write_json(path, {"version": 2, "bad": object()})
    assert path.read_bytes() == before
    assert json.loads(before) == {"version": 1}
    assert os.listdir(tmp_path) == ["doc.json"]


def test_write_json_overwrites_atomically_with_a_rename(tmp_path, monkeypatch):
    path = tmp_path / "doc.json"
    write_json(path, {"v": 1})
    replaced = []
    real_replace = os.replace

    def spy(src, dst):
        replaced.append((os.fspath(src), os.fspath(dst)))
        assert json.loads(Path(src).read_text()) == {"v": 2}, "the new content is complete before the rename"
        assert json.loads(Path(dst).read_text()) == {"v": 1}, "readers still see the old file"
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    write_json(path, {"v": 2})
    assert len(replaced) == 1 and replaced[0][1] == str(path)
    assert read_json(path) == {"v": 2}


def test_read_json_of_a_missing_file_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_json(tmp_path / "nope.json")
