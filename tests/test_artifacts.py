"""Artifacts: atomic writes, provenance in parquet metadata, errors that name the file."""

from __future__ import annotations

import json

import pandas as pd
import pyarrow as pa
import pytest

from maft.artifacts import (atomic_path, digest, provenance, read_meta, read_parquet, write_json,
                            write_parquet)


class Boom(RuntimeError):
    pass


def _frame() -> pd.DataFrame:
    return pd.DataFrame({"problem_id": ["a", "b", "c"], "agent": [0, 1, 2], "answer": ["1", None, "-3"]})


# ---------------------------------------------------------------------------------------------
# atomic_path
# ---------------------------------------------------------------------------------------------


def test_atomic_path_success_moves_into_place(tmp_path):
    final = tmp_path / "sub" / "out.txt"
    with atomic_path(final) as tmp:
        assert tmp != final
        assert tmp.parent == final.parent
        tmp.write_text("done")
        assert not final.exists()  # not visible before the block ends
    assert final.read_text() == "done"
    assert sorted(p.name for p in final.parent.iterdir()) == ["out.txt"]  # no temporary left


def test_atomic_path_failure_leaves_nothing(tmp_path):
    final = tmp_path / "out.parquet"
    with pytest.raises(Boom):
        with atomic_path(final) as tmp:
            tmp.write_bytes(b"half written")
            raise Boom()
    assert not final.exists()
    assert list(tmp_path.iterdir()) == []


def test_atomic_path_failure_keeps_previous_file(tmp_path):
    final = tmp_path / "out.txt"
    final.write_text("old")
    with pytest.raises(Boom):
        with atomic_path(final) as tmp:
            tmp.write_text("new but broken")
            raise Boom()
    assert final.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_atomic_path_directory_failure_leaves_nothing(tmp_path):
    final = tmp_path / "agents" / "generator-0"
    with pytest.raises(Boom):
        with atomic_path(final) as tmp:
            tmp.mkdir()
            (tmp / "adapter.bin").write_bytes(b"x")
            raise Boom()
    assert not final.exists()
    assert list(final.parent.iterdir()) == []


def test_atomic_path_directory_replaces_old(tmp_path):
    final = tmp_path / "adapter"
    final.mkdir()
    (final / "stale.bin").write_text("stale")
    with atomic_path(final) as tmp:
        tmp.mkdir()
        (tmp / "fresh.bin").write_text("fresh")
    assert sorted(p.name for p in final.iterdir()) == ["fresh.bin"]


def test_write_parquet_killed_mid_write_leaves_nothing(tmp_path, monkeypatch):
    import maft.artifacts as artifacts

    def half_write(table, where, *args, **kwargs):
        with open(where, "wb") as f:
            f.write(b"PAR1 partial")
        raise Boom("killed while writing")

    monkeypatch.setattr(artifacts.pq, "write_table", half_write)
    final = tmp_path / "debate-train.parquet"
    with pytest.raises(Boom):
        write_parquet(_frame(), final, {"a": 1})
    assert not final.exists()
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------------------------
# parquet + provenance round trip
# ---------------------------------------------------------------------------------------------


def test_write_parquet_read_meta_roundtrip(tmp_path):
    params = {"seed": 3, "method": "maft", "iteration": 2, "selection": {"w": 0.5, "critic_mix": "weight"}}
    meta = provenance(params, seeds=[1, 2, 3], source="unit test")
    path = tmp_path / "shards" / "generator-0.parquet"
    write_parquet(_frame(), path, meta)
    back = read_meta(path)
    assert back == json.loads(json.dumps(meta, sort_keys=True, default=str))
    assert back["params"] == params
    assert back["config_digest"] == digest(params)
    assert back["seeds"] == [1, 2, 3]
    assert isinstance(back["code_version"], str) and back["code_version"]
    assert "pandas" in back["packages"]

    df = read_parquet(path, ["problem_id", "agent", "answer"], "shard")
    assert df["problem_id"].tolist() == ["a", "b", "c"]
    assert df["agent"].tolist() == [0, 1, 2]
    assert df["answer"].iloc[0] == "1" and pd.isna(df["answer"].iloc[1])


def test_read_meta_of_json_and_directory(tmp_path):
    meta = {"config_digest": "abc", "params": {"x": 1}}
    write_json({"accuracy": 0.5, "provenance": meta}, tmp_path / "scores.json")
    assert read_meta(tmp_path / "scores.json") == meta
    adapter = tmp_path / "agent"
    adapter.mkdir()
    write_json(meta, adapter / "provenance.json")
    assert read_meta(adapter) == meta


def test_read_meta_without_metadata_is_empty(tmp_path):
    path = tmp_path / "plain.parquet"
    _frame().to_parquet(path)
    assert read_meta(path) == {}


# ---------------------------------------------------------------------------------------------
# read_parquet errors
# ---------------------------------------------------------------------------------------------


def _assert_names_file(err, path, what):
    # the pipeline's own error (not pyarrow's), naming the file and what it should have been
    assert not isinstance(err.value, pa.ArrowException), type(err.value)
    assert str(path) in str(err.value)
    assert what in str(err.value)


def test_read_parquet_truncated_names_path(tmp_path):
    path = tmp_path / "debate-train.parquet"
    write_parquet(_frame(), path, {"a": 1})
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError) as err:
        read_parquet(path, ["problem_id"], "transcript")
    _assert_names_file(err, path, "transcript")


def test_read_parquet_garbage_names_path(tmp_path):
    path = tmp_path / "garbage.parquet"
    path.write_bytes(b"this is not a parquet file at all \x00\x01\x02" * 10)
    with pytest.raises(ValueError) as err:
        read_parquet(path, ["problem_id"], "problems")
    _assert_names_file(err, path, "problems")


def test_read_parquet_empty_file_names_path(tmp_path):
    path = tmp_path / "empty.parquet"
    path.write_bytes(b"")
    with pytest.raises(ValueError) as err:
        read_parquet(path, ["problem_id"], "problems")
    _assert_names_file(err, path, "problems")


def test_read_parquet_missing_columns_names_path_and_columns(tmp_path):
    path = tmp_path / "shard.parquet"
    write_parquet(_frame(), path, {})
    with pytest.raises(ValueError) as err:
        read_parquet(path, ["problem_id", "messages", "kind"], "shard")
    msg = str(err.value)
    assert str(path) in msg
    assert "messages" in msg and "kind" in msg
    assert "'problem_id'" not in msg  # only the missing ones are listed


def test_read_parquet_missing_file(tmp_path):
    path = tmp_path / "nope.parquet"
    with pytest.raises(FileNotFoundError, match="nope.parquet"):
        read_parquet(path, [], "problems")


# ---------------------------------------------------------------------------------------------
# digest
# ---------------------------------------------------------------------------------------------


def test_digest_key_order_independent():
    a = {"seed": 0, "debate": {"agents": 3, "rounds": 2}, "methods": ["maft", "debate"]}
    b = {"methods": ["maft", "debate"], "debate": {"rounds": 2, "agents": 3}, "seed": 0}
    assert digest(a) == digest(b)


def test_digest_sensitive_to_values_and_list_order():
    a = {"seed": 0, "debate": {"agents": 3, "rounds": 2}, "methods": ["maft", "debate"]}
    assert digest(a) != digest({**a, "seed": 1})
    assert digest(a) != digest({**a, "debate": {"agents": 3, "rounds": 3}})
    assert digest(a) != digest({**a, "methods": ["debate", "maft"]})


def test_digest_is_short_hex():
    d = digest({"x": 1})
    assert len(d) == 16 and all(ch in "0123456789abcdef" for ch in d)
    assert digest({"x": 1}) == d  # stable
