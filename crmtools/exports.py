"""Write the period's campaign target lists: the only files crmtools writes that hold customer ids.

:func:`write_target_lists` writes, into a folder outside the reports folder (default ``exports/<period>/``)
created readable by its owner only (mode 0700, files 0600):

- per list with members, ``<list>.csv`` (UTF-8 with a byte-order mark, so Japanese Excel opens it) and
  ``<list>.parquet``: the canonical ``campaign_contacts`` columns (``campaign_id``, ``customer_id``,
  ``group``, ``contacted_at`` -- a date: the day after the period) then ``list``, ``theme``, ``priority``,
  ``segment`` (``no_recent_purchase`` for a member without a purchase in the RFM window; their ``decile`` is
  blank), ``decile``, ``product_1`` .. ``product_3`` (a product column no member of the list got is left
  out; the manifest counts them and says why) and any contact fields asked for;
- ``campaign_contacts.parquet``: every list's members in the canonical columns, ready to drop into the data
  folder so that the campaign ROI page measures each campaign against its holdout once its orders arrive;
- ``manifest.json`` (``kind: crmtools.targets``): the period, ``data_through`` (its last day of data,
  included), the list definitions, counts (no ids), notes, the inputs' sha256, the seed, each file's sha256.

Nothing the command did not write is ever deleted. The folder must be new, empty, or this period's previous
export (recognised by its manifest), of which only the files its manifest lists are replaced; anything else
is refused. A folder inside (or holding) a crmtools reports folder is refused too, wherever it is: the reports
folder is found by its markers (its run lock, its index pages, published ``<period>/<language>/manifest.json``)
as well as by params. The lists are written in a staging folder beside it, then renamed into place, so a
failed run never leaves half a set of lists.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from .targets import TargetListsResult, campaign_id_for

__all__ = [
    "CONTACT_FIELDS",
    "EXPORT_KIND",
    "MANIFEST",
    "NO_RECENT_PURCHASE",
    "check_exports_dir",
    "is_target_export",
    "reports_folder_around",
    "target_exports_in",
    "write_target_lists",
]

#: Contact fields an export may add from the customers table when asked for by name.
CONTACT_FIELDS = ("name", "email", "phone")

#: The manifest's file name.
MANIFEST = "manifest.json"

#: The manifest's ``kind``: how crmtools recognises its own exports (and the runner refuses to publish them).
EXPORT_KIND = "crmtools.targets"

#: Segment code of a list member without a purchase in the RFM window (their decile is blank too).
NO_RECENT_PURCHASE = "no_recent_purchase"

_PRODUCTS = ("product_1", "product_2", "product_3")

_PERIOD_NAME = re.compile(r"\d{4}-(\d{2}|Q[1-4])")


def _looks_like_reports_root(folder: Path) -> bool:
    """Whether ``folder`` is a crmtools reports folder: its run lock, its index pages, or a period folder
    holding a published language folder (``<period>/<language>/manifest.json``)."""
    from .workspace import LOCK_NAME

    if (folder / LOCK_NAME).exists() or ((folder / "index.html").is_file() and (folder / "index.ja.html").is_file()):
        return True
    try:
        periods = [c for c in folder.iterdir() if c.is_dir() and _PERIOD_NAME.fullmatch(c.name)]
        return any(_is_report_manifest(lang / MANIFEST) for c in periods for lang in c.iterdir() if lang.is_dir())
    except OSError:  # a folder we may not read is not known to be a reports folder
        return False


def _is_report_manifest(path: Path) -> bool:
    return path.is_file() and not is_target_export(path.parent)


def reports_folder_around(folder: str | os.PathLike) -> Path | None:
    """The crmtools reports folder that ``folder`` is in (or is), found by its markers walking up the parents.

    Markers: the run lock ``.crmtools.lock``, ``index.html`` with ``index.ja.html``, or period folders holding
    ``<period>/<language>/manifest.json`` (see :mod:`crmtools.runner`). Returns ``None`` when there is none.
    """
    path = Path(folder).expanduser().resolve()
    for candidate in (path, *path.parents):
        if candidate.is_dir() and _looks_like_reports_root(candidate):
            return candidate
    return None


def check_exports_dir(folder: str | os.PathLike, reports_dir: str | os.PathLike | None) -> Path:
    """The exports folder, resolved; refused when it is inside (or holds) a reports folder.

    Refused: ``folder`` equal to, inside or containing ``reports_dir``, and ``folder`` inside any crmtools
    reports folder found by its markers (:func:`reports_folder_around`), wherever it is.

    Raises
    ------
    ValueError
        When the exports would land in a reports folder: reports never hold customer ids.

    Examples
    --------
    >>> check_exports_dir("/tmp/p/reports/lists", "/tmp/p/reports")
    Traceback (most recent call last):
    ...
    ValueError: The exports folder /tmp/p/reports/lists is inside the reports folder /tmp/p/reports: choose a folder outside it (default exports/<period>/), because exports hold customer ids and reports never do.
    """
    out = Path(folder).expanduser().resolve()
    reports = Path(reports_dir).expanduser().resolve() if reports_dir is not None else None
    if reports is not None and (out == reports or reports in out.parents or out in reports.parents):
        where = "holds" if out in reports.parents else "is inside"
        raise ValueError(_refusal(out, where, reports))
    found = reports_folder_around(out)
    if found is not None:
        raise ValueError(_refusal(out, "is inside", found))
    return out


def _refusal(out: Path, where: str, reports: Path) -> str:
    return (
        f"The exports folder {out} {where} the reports folder {reports}: choose a folder outside it "
        "(default exports/<period>/), because exports hold customer ids and reports never do."
    )


def is_target_export(folder: str | os.PathLike) -> bool:
    """Whether ``folder`` holds a targets export: its :data:`MANIFEST` says so (``kind``), or, for exports
    written before the manifest had a kind, it has a period, a seed, lists and files."""
    path = Path(folder) / MANIFEST
    if not path.is_file():
        return False
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(manifest, dict):
        return False
    return manifest.get("kind") == EXPORT_KIND or {"period", "seed", "lists", "files"} <= set(manifest)


def target_exports_in(folder: str | os.PathLike) -> list[Path]:
    """Every targets export (:func:`is_target_export`) in ``folder`` or below it, sorted."""
    root = Path(folder)
    if not root.is_dir():
        return []
    return sorted(Path(d) for d, _, names in os.walk(root) if MANIFEST in names and is_target_export(d))


def _previous_files(out: Path, period: str) -> set[str]:
    """The files a previous export of ``period`` in ``out`` wrote (its manifest and the files it lists);
    refuse a folder that is not empty and not such an export."""
    if not out.exists():
        return set()
    if not out.is_dir():
        raise ValueError(f"The exports folder {out} is a file: choose a folder (e.g. exports/{period}/).")
    if not any(out.iterdir()):
        return set()
    if not is_target_export(out):
        raise ValueError(
            f"The exports folder {out} is not empty and holds no targets export (no {MANIFEST} of crmtools "
            f"targets): choose an empty or new folder (e.g. exports/{period}/); nothing was deleted."
        )
    manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    if str(manifest.get("period")) != str(period):
        raise ValueError(
            f"The exports folder {out} holds the targets export of {manifest.get('period')}, not {period}: "
            f"choose another folder (e.g. exports/{period}/); nothing was deleted."
        )
    listed = {name for name in manifest.get("files", {}) if name == Path(name).name}
    return {MANIFEST, *listed}


def _private_file(path: Path, mode: str, **kwargs):
    """Open ``path`` for writing, created with owner-only permissions (0600) whatever the umask."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.chmod(path, 0o600)
    return os.fdopen(fd, mode, **kwargs)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write_frame(frame: pd.DataFrame, folder: Path, stem: str, *, csv: bool = True) -> list[Path]:
    written = []
    with _private_file(folder / f"{stem}.parquet", "wb") as handle:
        frame.to_parquet(handle, index=False)
    written.append(folder / f"{stem}.parquet")
    if csv:
        with _private_file(folder / f"{stem}.csv", "w", encoding="utf-8-sig", newline="") as handle:
            frame.to_csv(handle, index=False, date_format="%Y-%m-%d")
        written.append(folder / f"{stem}.csv")
    return written


def _with_contact_fields(
    members: pd.DataFrame, customers: pd.DataFrame | None, fields: tuple[str, ...]
) -> pd.DataFrame:
    if not fields:
        return members
    unknown = [f for f in fields if f not in CONTACT_FIELDS]
    if unknown:
        raise ValueError(
            f"Unknown contact field {unknown[0]!r}; allowed: {', '.join(CONTACT_FIELDS)}; received: {list(fields)}."
        )
    if customers is None or not set(fields) <= set(customers.columns):
        have = [] if customers is None else [c for c in CONTACT_FIELDS if c in customers.columns]
        raise ValueError(
            f"Contact fields {list(fields)} were asked for; allowed: the customers table's {have or 'none'}; "
            "received: a customers table without them."
        )
    lookup = customers[["customer_id", *fields]].drop_duplicates("customer_id").astype({"customer_id": "str"})
    return members.merge(lookup, on="customer_id", how="left")


def _manifest(
    result: TargetListsResult, files: dict[str, str], inputs: Mapping[str, str] | None, *, data_through: Any = None
) -> dict:
    summary = result.summary.astype(object).where(result.summary.notna(), None)
    counts = {row["list"]: {k: v for k, v in row.items() if k != "list"} for row in summary.to_dict("records")}
    lists = []
    for t in result.lists:
        lists.append(
            {
                "name": t.name,
                "campaign_id": campaign_id_for(t.name, period=result.period),
                "definition": t.definition(),
                "counts": counts.get(t.name, {}),
                "products": _product_note(t, result.members),
                "files": sorted(f for f in files if f.startswith(f"{t.name}.")),
            }
        )
    notes = [
        {"list": row["list"], "status": row["status"], "note": row["note"]}
        for row in summary.to_dict("records")
        if row["status"] != "ok"
    ]
    from . import __version__

    last_day = pd.Timestamp(result.as_of) - pd.Timedelta(days=1)
    through = min(pd.Timestamp(data_through).normalize(), last_day) if data_through is not None else last_day
    blank = result.members["segment"].isna() if "segment" in result.members.columns else pd.Series(dtype=bool)
    column_notes = {}
    if blank.any():
        column_notes["segment"] = (
            f"{int(blank.sum())} member(s) have segment {NO_RECENT_PURCHASE!r} and a blank decile: no purchase "
            "in the RFM lookback window (rfm.lookback_days) before the period's end, so no RFM segment or decile."
        )
    return {
        "kind": EXPORT_KIND,
        "period": result.period,
        "data_through": f"{through:%Y-%m-%d}",
        "partial": bool(through < last_day),
        "contacted_at": f"{pd.Timestamp(result.as_of):%Y-%m-%d}",
        "seed": result.seed,
        "crmtools": __version__,
        "lists": lists,
        "notes": notes,
        "column_notes": column_notes,
        "missing_fields": dict(result.missing_fields),
        "inputs": dict(sorted((inputs or {}).items())),
        "files": dict(sorted(files.items())),
    }


def _export_members(members: pd.DataFrame) -> pd.DataFrame:
    """The members as exported: a member without a purchase in the RFM window gets the segment code
    :data:`NO_RECENT_PURCHASE` (their decile stays blank)."""
    out = members.copy()
    if "segment" in out.columns:
        out["segment"] = out["segment"].astype("object").where(out["segment"].notna(), NO_RECENT_PURCHASE)
    return out


def _without_empty_products(frame: pd.DataFrame) -> pd.DataFrame:
    """A list's file without the product columns none of its members has (see the manifest's note)."""
    return frame.drop(columns=[c for c in _PRODUCTS if c in frame.columns and frame[c].isna().all()])


def _product_note(t, members: pd.DataFrame) -> dict:
    """How many of a list's members got each next-best product, and why columns are missing."""
    if not t.products:
        return {"asked": 0, "filled": {}, "note": "no next-best products asked for (products: 0)."}
    own = members[members["list"] == t.name]
    filled = {c: int(own[c].notna().sum()) for c in _PRODUCTS[: t.products] if c in own.columns}
    empty = [c for c, n in filled.items() if n == 0]
    note = (
        "A product is filled only when a basket rule (params basket.*, mined over the RFM window) links "
        "something the customer bought to something they did not buy; with few significant rules most "
        "customers get fewer than asked for"
    )
    if empty and len(own):
        note += f"; {', '.join(empty)} is left out of the file because no member got one"
    return {"asked": t.products, "filled": filled, "note": note + "."}


def _swap_in(staging: Path, out: Path, previous: set[str]) -> None:
    """Rename ``staging`` to ``out``; of a previous export in ``out`` remove only the files it wrote
    (``previous``), and keep anything else found there in the new folder."""
    if not out.exists():
        staging.rename(out)
        return
    old = out.parent / f".{out.name}.old-{os.getpid()}"
    out.rename(old)
    staging.rename(out)
    for entry in sorted(old.iterdir()):
        if entry.name in previous and entry.is_file() and not entry.is_symlink():
            entry.unlink()
        elif not (out / entry.name).exists():
            entry.rename(out / entry.name)  # not ours: kept where it was
    if any(old.iterdir()):  # a name clash between a kept file and a new one: leave it beside, say where
        raise ValueError(
            f"The previous export in {out} held files it did not list with the names of new ones; they are "
            f"kept in {old}: move them away, then delete that folder."
        )
    old.rmdir()


def write_target_lists(
    result: TargetListsResult,
    folder: str | os.PathLike,
    *,
    reports_dir: str | os.PathLike | None = None,
    inputs: Mapping[str, str] | None = None,
    customers: pd.DataFrame | None = None,
    contact_fields: Iterable[str] = (),
    data_through: Any = None,
) -> Path:
    """Write the lists, the combined ``campaign_contacts`` table and the manifest into ``folder``.

    Parameters
    ----------
    result : TargetListsResult
        From :func:`crmtools.targets.target_lists`.
    folder : path
        The period's exports folder (e.g. ``exports/2025-10``): new, empty, or a previous export of the same
        period, of which only the files its manifest lists are replaced; anything else is refused
        (``ValueError``) and nothing is deleted. Written beside it, then renamed into place.
    reports_dir : path, optional
        The reports folder: ``folder`` inside it (or holding it) is refused, as is any folder inside a crmtools
        reports folder found by its markers.
    inputs : mapping, optional
        Table -> sha256 of the inputs read (``Dataset.fingerprints``), for the manifest.
    customers : pandas.DataFrame, optional
        The customers table, for ``contact_fields``.
    contact_fields : iterable of str, default=()
        Contact columns to add (of :data:`CONTACT_FIELDS`), only when asked for.
    data_through : date, optional
        The last day of data when the period is covered only partly (the manifest says so); default: the
        period's last day.

    Returns
    -------
    Path
        The folder written.
    """
    out = check_exports_dir(folder, reports_dir)
    fields = tuple(dict.fromkeys(contact_fields))
    previous = _previous_files(out, result.period)
    out.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    staging = out.parent / f".{out.name}.writing-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)  # this process's own staging name: only it writes there
    staging.mkdir(mode=0o700)
    os.chmod(staging, 0o700)
    try:
        written: list[Path] = []
        members = _with_contact_fields(_export_members(result.members), customers, fields)
        for name in members["list"].drop_duplicates():
            own = members[members["list"] == name].reset_index(drop=True)
            written += _write_frame(_without_empty_products(own), staging, name)
        written += _write_frame(result.campaign_contacts(), staging, "campaign_contacts", csv=False)
        files = {p.name: _sha256(p) for p in written}
        manifest = _manifest(result, files, inputs, data_through=data_through)
        with _private_file(staging / MANIFEST, "w", encoding="utf-8") as handle:
            json.dump(manifest, handle, ensure_ascii=False, indent=2, default=str)
        _swap_in(staging, out, previous)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out
