"""Write the period's campaign target lists: the only files crmtools writes that hold customer ids.

:func:`write_target_lists` writes, into a folder outside the reports folder (default ``exports/<period>/``)
created readable by its owner only (mode 0700, files 0600):

- per list with members, ``<list>.csv`` (UTF-8 with a byte-order mark, so Japanese Excel opens it) and
  ``<list>.parquet``: the canonical ``campaign_contacts`` columns (``campaign_id``, ``customer_id``,
  ``group``, ``contacted_at``) then ``list``, ``theme``, ``priority``, ``segment``, ``decile``,
  ``product_1`` .. ``product_3`` and any contact fields asked for;
- ``campaign_contacts.parquet``: every list's members in the canonical columns, ready to drop into the data
  folder so that the campaign ROI page measures each campaign against its holdout once its orders arrive;
- ``manifest.json``: the list definitions, counts (no ids), notes (empty or skipped lists), the inputs'
  sha256, the seed, and each file's sha256.

The folder is replaced as a whole (written beside it, then swapped in), so a failed run never leaves half a
set of lists.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd

from .targets import TargetListsResult, campaign_id_for

__all__ = ["CONTACT_FIELDS", "MANIFEST", "check_exports_dir", "write_target_lists"]

#: Contact fields an export may add from the customers table when asked for by name.
CONTACT_FIELDS = ("name", "email", "phone")

#: The manifest's file name.
MANIFEST = "manifest.json"


def check_exports_dir(folder: str | os.PathLike, reports_dir: str | os.PathLike | None) -> Path:
    """The exports folder, resolved; refused when it is (inside) the reports folder.

    Raises
    ------
    ValueError
        When ``folder`` is ``reports_dir`` or inside it: reports never hold customer ids.

    Examples
    --------
    >>> check_exports_dir("/tmp/p/reports/lists", "/tmp/p/reports")
    Traceback (most recent call last):
    ...
    ValueError: The exports folder /tmp/p/reports/lists is inside the reports folder /tmp/p/reports; allowed: a folder outside it (default exports/<period>/): exports hold customer ids, reports never do; received: --out /tmp/p/reports/lists.
    """
    out = Path(folder).expanduser().resolve()
    if reports_dir is not None:
        reports = Path(reports_dir).expanduser().resolve()
        if out == reports or reports in out.parents:
            raise ValueError(
                f"The exports folder {out} is inside the reports folder {reports}; allowed: a folder outside it "
                f"(default exports/<period>/): exports hold customer ids, reports never do; received: --out {folder}."
            )
    return out


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
            frame.to_csv(handle, index=False, date_format="%Y-%m-%d %H:%M:%S")
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


def _manifest(result: TargetListsResult, files: dict[str, str], inputs: Mapping[str, str] | None) -> dict:
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
                "files": sorted(f for f in files if f.startswith(f"{t.name}.")),
            }
        )
    notes = [
        {"list": row["list"], "status": row["status"], "note": row["note"]}
        for row in summary.to_dict("records")
        if row["status"] != "ok"
    ]
    from . import __version__

    return {
        "period": result.period,
        "as_of": str(result.as_of),
        "seed": result.seed,
        "crmtools": __version__,
        "lists": lists,
        "notes": notes,
        "missing_fields": dict(result.missing_fields),
        "inputs": dict(sorted((inputs or {}).items())),
        "files": dict(sorted(files.items())),
    }


def write_target_lists(
    result: TargetListsResult,
    folder: str | os.PathLike,
    *,
    reports_dir: str | os.PathLike | None = None,
    inputs: Mapping[str, str] | None = None,
    customers: pd.DataFrame | None = None,
    contact_fields: Iterable[str] = (),
) -> Path:
    """Write the lists, the combined ``campaign_contacts`` table and the manifest into ``folder``.

    Parameters
    ----------
    result : TargetListsResult
        From :func:`crmtools.targets.target_lists`.
    folder : path
        The period's exports folder (e.g. ``exports/2025-10``); replaced as a whole.
    reports_dir : path, optional
        The reports folder: ``folder`` inside it is refused.
    inputs : mapping, optional
        Table -> sha256 of the inputs read (``Dataset.fingerprints``), for the manifest.
    customers : pandas.DataFrame, optional
        The customers table, for ``contact_fields``.
    contact_fields : iterable of str, default=()
        Contact columns to add (of :data:`CONTACT_FIELDS`), only when asked for.

    Returns
    -------
    Path
        The folder written.
    """
    out = check_exports_dir(folder, reports_dir)
    fields = tuple(dict.fromkeys(contact_fields))
    out.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    staging = out.parent / f".{out.name}.writing-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(mode=0o700)
    os.chmod(staging, 0o700)
    try:
        written: list[Path] = []
        members = _with_contact_fields(result.members, customers, fields)
        for name in members["list"].drop_duplicates():
            written += _write_frame(members[members["list"] == name].reset_index(drop=True), staging, name)
        written += _write_frame(result.campaign_contacts(), staging, "campaign_contacts", csv=False)
        files = {p.name: _sha256(p) for p in written}
        manifest = _manifest(result, files, inputs)
        with _private_file(staging / MANIFEST, "w", encoding="utf-8") as handle:
            json.dump(manifest, handle, ensure_ascii=False, indent=2, default=str)
        old = out.parent / f".{out.name}.old-{os.getpid()}"
        if out.exists():
            out.rename(old)
        staging.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out
