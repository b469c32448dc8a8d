"""Results shared by a run's pages (crmtools.reporting.results): computed once, whichever page asks first."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmtools.reporting.results import cached_call, fingerprint


def _slow_total(frame: pd.DataFrame, log: str, *, factor: int = 1) -> int:
    """Sum of a frame's column, logging each computation (one line per call) and taking a while."""
    with open(log, "a", encoding="utf-8") as out:
        out.write("computed\n")
    time.sleep(0.3)
    return int(frame["x"].sum()) * factor


def _failing(log: str) -> int:
    with open(log, "a", encoding="utf-8") as out:
        out.write("tried\n")
    raise RuntimeError("no result")


def _page(cache_dir: str, log: str, start, queue) -> None:
    start.wait()
    queue.put(cached_call(cache_dir, "total", _slow_total, pd.DataFrame({"x": [1, 2, 3]}), log))


def test_a_result_is_computed_once_and_then_loaded(tmp_path):
    log = str(tmp_path / "log.txt")
    frame = pd.DataFrame({"x": [1, 2, 3]})
    first = cached_call(tmp_path / "cache", "total", _slow_total, frame, log)
    again = cached_call(tmp_path / "cache", "total", _slow_total, frame.copy(), log)
    other = cached_call(tmp_path / "cache", "total", _slow_total, frame, log, factor=2)
    changed = cached_call(tmp_path / "cache", "total", _slow_total, frame.assign(x=[1, 2, 4]), log)
    assert (first, again, other, changed) == (6, 6, 12, 7)
    assert Path(log).read_text(encoding="utf-8").count("computed") == 3  # the same call came from the store
    assert cached_call(None, "total", _slow_total, frame, log) == 6  # no store: simply called
    assert Path(log).read_text(encoding="utf-8").count("computed") == 4


def _counted(frame: pd.DataFrame, log: str, scale: int = 1, *, factor: int = 1, **extra) -> int:
    with open(log, "a", encoding="utf-8") as out:
        out.write("computed\n")
    return int(frame["x"].sum()) * scale * factor + sum(extra.values())


def test_one_call_spelled_in_several_ways_is_computed_once(tmp_path):
    """Two pages asking for one computation, one passing a default or naming an argument the other passes by
    position, share it; another value of any argument is another computation."""
    log, cache = str(tmp_path / "log.txt"), tmp_path / "cache"
    frame = pd.DataFrame({"x": [1, 2, 3]})
    spellings = [
        ((frame, log), {}),
        ((frame, log, 1), {}),
        ((frame,), {"log": log, "factor": 1}),
        ((), {"frame": frame.copy(), "log": log, "scale": 1, "factor": 1}),
    ]
    assert {cached_call(cache, "total", _counted, *a, **k) for a, k in spellings} == {6}
    assert Path(log).read_text(encoding="utf-8").count("computed") == 1
    assert cached_call(cache, "total", _counted, frame, log, 2) == 12  # another value: computed
    assert cached_call(cache, "total", _counted, frame, log, bonus=1) == 7  # an extra keyword: computed
    assert cached_call(cache, "total", _counted, frame, log, 1, bonus=1) == 7  # ... and then shared
    assert Path(log).read_text(encoding="utf-8").count("computed") == 3
    with pytest.raises(TypeError):  # a call the function refuses is refused as the function refuses it
        cached_call(cache, "total", _counted, frame, log, 1, 2)


def test_pages_asking_at_the_same_time_share_one_computation(tmp_path):
    """Four processes (pages in their kernels) ask for the same result at once: one computes, three wait."""
    context = multiprocessing.get_context("fork")
    log, start, queue = str(tmp_path / "log.txt"), context.Event(), context.Queue()
    pages = [context.Process(target=_page, args=(str(tmp_path / "cache"), log, start, queue)) for _ in range(4)]
    for page in pages:
        page.start()
    start.set()
    answers = [queue.get(timeout=60) for _ in pages]
    for page in pages:
        page.join(timeout=60)
    assert answers == [6, 6, 6, 6]
    assert Path(log).read_text(encoding="utf-8").count("computed") == 1


def test_a_failed_computation_leaves_nothing_behind(tmp_path):
    log = str(tmp_path / "log.txt")
    for _ in range(2):
        with pytest.raises(RuntimeError, match="no result"):
            cached_call(tmp_path / "cache", "failing", _failing, log)
    assert Path(log).read_text(encoding="utf-8").count("tried") == 2  # the next page tries again
    assert not list((tmp_path / "cache").glob("*.pkl"))


def _kinds() -> pd.DataFrame:
    """One column of each storage the fingerprint reads: Arrow text, NumPy numbers and datetimes, nullable
    integers, objects, categories; a non-default index."""
    return pd.DataFrame(
        {
            "text": pd.array(["a", "b", None], dtype="str"),
            "number": [1.5, 2.5, float("nan")],
            "when": pd.to_datetime(["2025-01-01", "2025-01-02", None]),
            "count": pd.array([1, None, 3], dtype="Int64"),
            "thing": pd.Series(["p", 2, "3"], dtype=object),
            "kind": pd.Categorical(["x", "y", "x"]),
        },
        index=[10, 20, 30],
    )


@pytest.mark.parametrize(
    "change",
    [
        ("text", 1, "c"),
        ("text", 2, "a"),
        ("number", 0, 1.25),
        ("when", 1, pd.Timestamp("2025-01-03")),
        ("count", 1, 2),
        ("count", 0, None),
        ("thing", 1, 3),
        ("kind", 0, "y"),
    ],
)
def test_any_change_of_content_changes_the_fingerprint(change):
    column, row, value = change
    frame = _kinds()
    assert fingerprint(frame) == fingerprint(_kinds()) == fingerprint(frame.copy())
    changed = _kinds()
    changed.loc[changed.index[row], column] = value
    assert fingerprint(changed) != fingerprint(frame)
    assert fingerprint(frame.set_axis([10, 20, 31])) != fingerprint(frame)
    assert fingerprint(frame.iloc[1:]) == fingerprint(_kinds().iloc[1:])  # a slice, by its own content
    assert fingerprint(frame.iloc[1:]) != fingerprint(frame.iloc[:2])


def test_fingerprints_follow_content_not_identity():
    a = pd.DataFrame({"x": [1, 2]})
    assert fingerprint(a) == fingerprint(a.copy())
    assert fingerprint(a) != fingerprint(a.assign(x=[2, 1]))
    assert fingerprint(a) != fingerprint(a.rename(columns={"x": "y"}))
    assert fingerprint({"b": 1, "a": [a]}) == fingerprint({"a": [a.copy()], "b": 1})


def test_categories_are_part_of_the_fingerprint():
    """Equal codes under other categories are other content."""
    assert fingerprint(pd.Series(pd.Categorical(["x"]))) != fingerprint(pd.Series(pd.Categorical(["y"])))
    assert fingerprint(pd.Series(pd.Categorical(["x"]))) == fingerprint(pd.Series(pd.Categorical(["x"])))
    ordered = pd.Series(pd.Categorical(["x"], ordered=True))
    assert fingerprint(ordered) != fingerprint(pd.Series(pd.Categorical(["x"])))


def _write(frame: pd.DataFrame) -> None:
    frame.loc[frame.index[0], "number"] = 9.5


def _write_text(frame: pd.DataFrame) -> None:
    frame.loc[frame.index[1], "text"] = "z"


def _add(frame: pd.DataFrame) -> None:
    frame["extra"] = 1


def _drop(frame: pd.DataFrame) -> None:
    del frame["when"]


def _reindex(frame: pd.DataFrame) -> None:
    frame.index = frame.index + 1


def _fill(frame: pd.DataFrame) -> None:
    frame.fillna({"count": 0, "number": 0.0}, inplace=True)


def _recode(frame: pd.DataFrame) -> None:
    frame["kind"] = frame["kind"].cat.rename_categories({"x": "w"})


def _scale(frame: pd.DataFrame) -> None:
    frame["number"] *= 2


@pytest.mark.parametrize("change", [_write, _write_text, _add, _drop, _reindex, _fill, _recode, _scale])
def test_a_remembered_fingerprint_ends_when_a_copy_is_changed(change):
    """A frame's fingerprint is remembered (by identity, or given with ``remember`` for a copy whose content is
    known) only while its values stay where they were: any change to a copy sharing its values with a kept frame
    moves them (copy-on-write), so the fingerprint is computed again from the new content; the kept frame and
    its other copies are unchanged."""
    from crmtools.reporting import results

    kept = _kinds()
    known = fingerprint(kept)
    page = kept.copy(deep=False)
    results.remember(page, "snapshot:known")
    assert fingerprint(page) == "snapshot:known"
    change(page)
    now = fingerprint(page)
    results._FRAME_HASHES.clear()
    assert now == fingerprint(page) != known, "the changed copy is hashed by its new content"
    assert fingerprint(kept) == known == fingerprint(_kinds())
    fresh = kept.copy(deep=False)
    results.remember(fresh, "snapshot:known")
    assert fingerprint(fresh) == "snapshot:known"


def test_a_frame_written_in_place_after_its_fingerprint_is_hashed_again():
    """A frame that shares its values with nothing can be written in place under copy-on-write: the remembered
    fingerprint must not outlive the write."""
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "t": pd.array(["a", "b", "c"], dtype="str")})
    before = fingerprint(frame)
    frame.loc[0, "x"] = 9.0
    assert fingerprint(frame) == fingerprint(frame.copy()) != before
    frame.iloc[1, 1] = "z"
    assert fingerprint(frame) == fingerprint(frame.copy())


def test_frames_with_a_multi_index_or_repeated_columns_have_fingerprints():
    a = pd.DataFrame({"x": [1, 1]}, index=pd.MultiIndex.from_tuples([(1, 2), (1, 3)], names=["p", "q"]))
    assert fingerprint(a) == fingerprint(a.copy())
    assert fingerprint(a) != fingerprint(a.set_axis(pd.MultiIndex.from_tuples([(1, 2), (1, 4)], names=["p", "q"])))
    assert fingerprint(a) != fingerprint(a.rename_axis(["p", "r"]))
    twice = pd.DataFrame([[1, 2]], columns=["a", "a"])
    assert fingerprint(twice) == fingerprint(twice.copy()) != fingerprint(pd.DataFrame([[1, 3]], columns=["a", "a"]))


def test_a_result_object_is_fingerprinted_by_the_content_of_its_frames():
    """An analysis's result passed to a cached call (e.g. churn.CustomerValues to ltv_cac) keys by its frames'
    content: two results whose tables differ only in rows their repr does not show never share a cached result."""
    import dataclasses

    import numpy as np

    @dataclasses.dataclass(frozen=True)
    class Result:
        table: pd.DataFrame
        weights: np.ndarray
        status: str

    rows = pd.DataFrame({"value": np.arange(200.0)})
    changed = rows.assign(value=rows["value"].where(rows.index != 100, -1.0))  # a middle row: not in the repr
    first = Result(rows, np.arange(5000.0), "ok")
    assert repr(first) == repr(Result(changed, np.arange(5000.0), "ok"))
    assert fingerprint(first) != fingerprint(Result(changed, np.arange(5000.0), "ok"))
    weights = np.arange(5000.0)
    weights[2500] = -1.0  # a middle value of a long array: not in its repr either
    assert fingerprint(first) != fingerprint(Result(rows, weights, "ok"))
    assert fingerprint(first) == fingerprint(Result(rows.copy(), np.arange(5000.0), "ok"))
    assert fingerprint(first) != fingerprint(Result(rows, np.arange(5000.0), "fit_failed"))


def _remembered_lines(n: int) -> pd.DataFrame:
    import numpy as np

    from crmtools.reporting.results import remember

    frame = pd.DataFrame(
        {
            "order_id": pd.array([f"o{i}" for i in range(n)], dtype="str"),
            "order_datetime": pd.date_range("2025-01-01", periods=n, freq="h"),
            "quantity": pd.array([i % 4 for i in range(n)], dtype="Int64"),
            "amount": np.arange(n, dtype="float64"),
        }
    )
    remember(frame, "snapshot-token")
    return frame


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 30), st.integers(0, 30), st.integers(0, 30), st.integers(0, 30))
def test_a_run_of_a_remembered_frames_rows_is_fingerprinted_by_where_it_lies(a, b, c, d):
    """The lines before a period's end are a slice of the run's remembered lines: fingerprinted by the rows they
    are (no hashing), equal for the same rows, different for other rows, columns or values."""
    lines = _remembered_lines(30)
    first, second = lines.iloc[a:b], lines.iloc[c:d]
    if len(first) and len(second):
        assert (fingerprint(first) == fingerprint(second)) == ((a, b) == (c, d))
        renumbered = (first.reset_index(drop=True), second.reset_index(drop=True))  # the index no longer says where
        assert (fingerprint(renumbered[0]) == fingerprint(renumbered[1])) == ((a, b) == (c, d))
    same_length = (lines.iloc[a : a + 5].reset_index(drop=True), lines.iloc[c : c + 5].reset_index(drop=True))
    if len(same_length[0]) == len(same_length[1]) == 5:
        assert (fingerprint(same_length[0]) == fingerprint(same_length[1])) == (a == c)
    if len(first):
        assert fingerprint(first) == fingerprint(lines.iloc[a:b])
        assert fingerprint(first) != fingerprint(first[["order_id", "amount"]])
        changed = first.copy()
        changed.iloc[-1, changed.columns.get_loc("amount")] = -1.0
        assert fingerprint(changed) != fingerprint(first)
        assert fingerprint(first.reset_index(drop=True)) != fingerprint(first) or a == 0


def test_a_copy_of_a_run_is_hashed_and_a_changed_run_is_not_taken_for_the_rows_it_came_from():
    lines = _remembered_lines(50)
    window = lines.iloc[10:40]
    copied = window.copy(deep=True)  # equal content, own memory: hashed (a different key only costs a recomputation)
    assert fingerprint(copied) == fingerprint(copied.copy(deep=True))
    written = window.copy(deep=False)
    written.loc[20, "amount"] = 999.0  # copy-on-write: new memory for the column, so no longer a run
    assert fingerprint(written) != fingerprint(window)
