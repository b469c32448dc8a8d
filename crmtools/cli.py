"""The ``crmtools`` command: sample data, validation and report runs.

Exit codes a scheduler can act on:

- 0: success (report published, or skipped because nothing changed)
- 1: a report notebook failed; the last good report is untouched
- 2: bad command line or parameters
- 3: the data failed validation, or does not cover the period
- 4: another run is writing to the same reports folder (nothing changed; retry later)
- 5: the file system refused (read-only or missing folder, disk full); nothing published
- 130 / 143: interrupted (Ctrl-C / SIGTERM); the published reports are untouched
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .errors import (
    CoverageError,
    DataValidationError,
    ParameterError,
    ReportError,
    ReportFileError,
    RunBusyError,
)

__all__ = ["main"]

EXIT_OK, EXIT_REPORT_FAILED, EXIT_USAGE, EXIT_DATA, EXIT_BUSY, EXIT_FILES = 0, 1, 2, 3, 4, 5

EXIT_CODES_HELP = """exit codes:
  0    published, or skipped because inputs, parameters and code are unchanged
  1    a notebook failed; the last good report is untouched, the failed run is kept in reports/.failed/<period>/<lang>/
         e.g. a cell raised an error, or the kernel was killed
  2    bad command line or parameters
         e.g. --set langauge=ja (unknown parameter), --notebooks /nope
  3    the data failed validation or does not cover the period
         e.g. a negative price; --period 2030-01 with data ending 2025-12; a half month without --allow-partial
  4    another run is writing to the same reports folder; nothing changed (retry, or --wait SECONDS)
         e.g. a manual run started while the monthly schedule was running
  5    the file system refused; nothing published
         e.g. a read-only reports folder, a full disk
  130  interrupted by Ctrl-C (143: SIGTERM); the published reports are untouched
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="crmtools",
        description="Reproducible CRM analytics and reports.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    sample = sub.add_parser("sample-data", help="write the seeded synthetic data set")
    sample.add_argument("--out", default="data/sample", help="folder to write (default: data/sample)")
    sample.add_argument("--customers", type=int, default=20000, help="customers (default: 20000)")
    sample.add_argument("--months", type=int, default=24, help="months (default: 24)")
    sample.add_argument("--start", default="2024-01", help="first month, YYYY-MM (default: 2024-01)")
    sample.add_argument("--seed", type=int, default=7, help="random seed (default: 7)")
    sample.add_argument("--format", choices=("parquet", "csv"), default="parquet", help="file format")
    sample.add_argument("--messy", action="store_true", help="add invalid rows to exercise validation (CSV)")

    validate = sub.add_parser("validate", help="check a data set; list every problem")
    validate.add_argument("--params", default="params/default.yaml", help="params file (default: params/default.yaml)")
    validate.add_argument("--data", default=None, help="data folder (overrides data.path)")
    validate.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="override a parameter")

    load_sql = sub.add_parser("load-sql", help="copy a data folder's tables into a database (PostgreSQL, DuckDB ...)")
    load_sql.add_argument("--data", default="data/sample", help="data folder to copy (default: data/sample)")
    target = load_sql.add_mutually_exclusive_group(required=True)
    target.add_argument("--url-env", metavar="VAR", help="environment variable holding the database URL")
    target.add_argument("--connection-file", metavar="FILE", help="YAML file holding url: (outside the repo)")
    target.add_argument("--duckdb", metavar="FILE", help="DuckDB database file (created when missing)")
    load_sql.add_argument("--schema", default=None, help="database schema (default: the default schema)")
    load_sql.add_argument("--replace", action="store_true", help="replace tables that already exist")

    targets = sub.add_parser(
        "targets",
        help="write the period's campaign target lists (customer ids) to exports/<period>/",
        description="Build the campaign target lists of a period (params targets.lists) and write one CSV "
        "(UTF-8 with BOM) and Parquet per list, a combined campaign_contacts.parquet and a manifest, to a "
        "folder outside the reports folder, readable by you only. These files hold customer ids: keep them "
        "out of reports, e-mail and shared folders.",
    )
    targets.add_argument(
        "--period", default=None, help="YYYY-MM or YYYY-Qn (default: the last complete month in the data)"
    )
    targets.add_argument("--params", default="params/default.yaml", help="params file (default: params/default.yaml)")
    targets.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="override a parameter")
    targets.add_argument("--data", default=None, help="data folder (overrides data.path)")
    targets.add_argument(
        "--out",
        default=None,
        help="folder to write: new, empty or this period's previous export (default: <targets.exports_dir>/<period>)",
    )
    targets.add_argument(
        "--reports-dir",
        default=None,
        help="the reports folder the exports must stay out of (default: params reports_dir)",
    )
    targets.add_argument(
        "--allow-partial", action="store_true", help="build lists for a period the data covers only partly"
    )
    targets.add_argument(
        "--contact-fields",
        default="",
        metavar="FIELDS",
        help="contact columns to add from customers, comma-separated: name,email,phone (default: none)",
    )

    report = sub.add_parser(
        "report",
        help="run and publish the report set for a period",
        description="Run every report notebook for a period and publish the HTML when all "
        "succeeded. The default period is the last complete month in the data "
        "(not the calendar's).",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    report.add_argument(
        "--period", default=None, help="YYYY-MM or YYYY-Qn (default: the last complete month in the data)"
    )
    report.add_argument(
        "--from",
        dest="first",
        default=None,
        metavar="PERIOD",
        help="first period of a backfill, YYYY-MM or YYYY-Qn (included)",
    )
    report.add_argument(
        "--to",
        dest="last",
        default=None,
        metavar="PERIOD",
        help="last period of a backfill, YYYY-MM or YYYY-Qn (included)",
    )
    report.add_argument(
        "--allow-partial",
        action="store_true",
        help="report a period the data covers only partly (pages say 'data through ...' and show no comparisons)",
    )
    report.add_argument(
        "--wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="wait up to SECONDS for another run writing to the same reports folder "
        "(default: 0, refuse at once with exit code 4)",
    )
    report.add_argument("--params", default="params/default.yaml", help="params file (default: params/default.yaml)")
    report.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a parameter, e.g. --set language=ja (repeatable)",
    )
    report.add_argument("--data", default=None, help="data folder (overrides data.path)")
    report.add_argument("--reports-dir", default=None, help="where to publish (default: params reports_dir)")
    report.add_argument("--notebooks", default=None, help="notebooks folder (default: notebooks/)")
    report.add_argument("--jobs", type=int, default=None, help="notebooks at once (default: number of cores)")
    report.add_argument(
        "--fresh-kernels",
        action="store_true",
        help="a new kernel for every notebook (default: one kernel per job, its namespace reset between notebooks)",
    )
    report.add_argument("--force", action="store_true", help="re-run even if nothing changed")
    return parser


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("crmtools")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown"


def _params_path(text: str | None) -> str | None:
    if text and not Path(text).exists() and text == "params/default.yaml":
        return None  # defaults alone when the project has no params folder
    return text


def _cmd_sample(args) -> int:
    from .sampledata import SampleConfig, write_sample

    config = SampleConfig(
        customers=args.customers, months=args.months, start=args.start, seed=args.seed, messy=args.messy
    )
    print(f"Generating {args.customers:,} customers over {args.months} months (seed {args.seed}) ...", file=sys.stderr)
    out = write_sample(args.out, config, file_format=args.format)
    print(out)
    return EXIT_OK


def _cmd_validate(args) -> int:
    from .data import DataConfig, inspect_dataset
    from .params import load_params
    from .quality import quality_warnings

    overrides = list(args.set) + ([f"data.path={args.data}"] if args.data else [])
    params = load_params(_params_path(args.params), overrides, base_dir=Path.cwd())
    config = DataConfig.from_dict(params["data"], base_dir=Path.cwd())
    dataset, problems, quality = inspect_dataset(config)
    from .sources import describe_source

    print(f"Data set: {describe_source(config)}")
    print("Data-quality summary:")
    shown = quality.drop(columns=["facts"], errors="ignore")  # facts: the detail as codes, for the report
    print(shown.to_string(index=False, na_rep="") if len(shown) else "  (nothing read)")  # amount: blank if n/a
    warnings = quality_warnings(quality)
    if warnings:
        print("\nWarnings (the data is usable; look at these rows):")
        for line in warnings:
            print(f"  - {line}")
    if problems:
        print(f"\n{len(problems)} problem(s) found:", file=sys.stderr)
        for p in problems:
            print(f"  - {p}", file=sys.stderr)
        print("\nThe data is NOT usable until these are fixed (or a policy says how to treat them).", file=sys.stderr)
        return EXIT_DATA
    tx = dataset.transactions
    print(
        f"\nOK: {len(tx):,} order lines, {tx['order_id'].nunique():,} orders, "
        f"{tx['customer_id'].nunique():,} customers, {tx['order_datetime'].min()} to {tx['order_datetime'].max()}."
    )
    return EXIT_OK


def _cmd_load_sql(args) -> int:
    from .data import DataConfig
    from .sources import mask_url, resolve_url, write_tables_to_duckdb, write_tables_to_sql

    if args.duckdb:
        if args.schema:
            raise ParameterError("--schema applies to --url-env/--connection-file databases, not to --duckdb.")
        where = f"DuckDB database {args.duckdb}"
        written = write_tables_to_duckdb(args.data, args.duckdb, replace=args.replace)
    else:
        import sqlalchemy

        url = resolve_url(DataConfig(source="sql", url_env=args.url_env, connection_file=args.connection_file))
        where = mask_url(url)
        engine = sqlalchemy.create_engine(url)
        try:
            written = write_tables_to_sql(
                args.data, engine, schema=args.schema, if_exists="replace" if args.replace else "fail"
            )
        finally:
            engine.dispose()
    for name, rows in written.items():
        print(f"  {name}: {rows:,} rows")
    print(f"Wrote {len(written)} tables from {args.data} to {where}.")
    return EXIT_OK


def _cmd_targets(args) -> int:
    from .data import DataConfig, load_dataset
    from .exports import check_exports_dir, write_target_lists
    from .params import load_params
    from .reporting.i18n import target_list_note
    from .runner import check_coverage, resolve_period, resolve_reports_dir
    from .sources import order_date_range
    from .targets import target_lists

    overrides = list(args.set) + ([f"data.path={args.data}"] if args.data else [])
    if args.period:
        overrides.append(f"period={args.period}")
    params = load_params(_params_path(args.params), overrides, base_dir=Path.cwd())
    config = DataConfig.from_dict(params["data"], base_dir=Path.cwd())
    bounds = order_date_range(config)
    period = resolve_period(params, bounds)
    out = Path(args.out) if args.out else Path(params["targets"]["exports_dir"]) / period.label
    reports_dir = resolve_reports_dir(params, args.reports_dir, project_dir=Path.cwd())
    check_exports_dir(out, reports_dir)  # before reading the data: a refused folder fails at once
    dataset = load_dataset(config, until=period.end)
    _, through, partial = check_coverage(period, dataset, bounds, allow_partial=args.allow_partial)
    result = target_lists(
        dataset.transactions,
        period=period,
        customers=dataset.customers,
        suppressions=dataset.suppressions,
        surveys=dataset.surveys,
        params=params,
    )
    fields = [f.strip() for f in args.contact_fields.split(",") if f.strip()]
    written = write_target_lists(
        result,
        out,
        reports_dir=reports_dir,
        inputs=dataset.fingerprints,
        customers=dataset.customers,
        contact_fields=fields,
        data_through=through,
    )
    import pandas as pd

    note = " (partial period)" if partial else ""
    print(f"Target lists for {period.label}, data through {through:%Y-%m-%d}{note} (seed {result.seed}):")
    for row in result.summary.itertuples(index=False):
        if row.status == "ok":
            print(
                f"  {row.list}: {row.customers:,} customers ({row.treatment:,} to contact, {row.holdout:,} holdout "
                f"= {row.holdout_share:.1%}{', underpowered' if row.underpowered is not pd.NA and row.underpowered else ''}); "
                f"{row.not_contactable:,} matched without consent or opted out, {row.taken_by_earlier:,} in an "
                "earlier list"
            )
        else:
            words = target_list_note(row.note)  # the catalogue's words, never the code
            print(f"  {row.list}: {words}." if row.status == "skipped" else f"  {row.list}: no list written: {words}.")
    print(f"Wrote {written} (owner-only; it holds customer ids: never copy it into reports).")
    return EXIT_OK


def _cmd_report(args) -> int:
    from .reporting.kernel_server import early_server

    # the kernels' server imports what the pages use while this process imports the runner and checks the inputs
    with early_server(Path.cwd(), enabled=not args.fresh_kernels):
        return _report(args)


def _report(args) -> int:
    from .runner import run_period, run_periods

    overrides = list(args.set) + ([f"data.path={args.data}"] if args.data else [])
    kwargs = dict(
        params_file=_params_path(args.params),
        overrides=overrides,
        project_dir=Path.cwd(),
        notebooks_dir=args.notebooks,
        reports_dir=args.reports_dir,
        force=args.force,
        jobs=args.jobs,
        allow_partial=args.allow_partial,
        wait_seconds=args.wait,
        fresh_kernels=args.fresh_kernels,
    )
    if (args.first is None) != (args.last is None):
        raise ParameterError("A backfill needs both --from and --to (e.g. --from 2025-01 --to 2025-10).")
    if args.first and args.period:
        raise ParameterError("Give either --period or --from/--to, not both.")
    results = run_periods(args.first, args.last, **kwargs) if args.first else [run_period(args.period, **kwargs)]
    print("\nRun summary:")
    for r in results:
        timing = f"{r.seconds:.1f} s" if r.seconds else ""
        print(f"  {r.period}: {r.status} {timing} {r.message}".rstrip())
    if any(r.status == "failed" for r in results):
        return EXIT_REPORT_FAILED
    newest = results[-1]
    pages = sorted(newest.report_dir.glob("*.html"))
    print(f"\nOpen the report: {pages[0] if pages else newest.report_dir}")
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``crmtools`` command; returns the exit code."""
    from .reporting.kernel_server import with_run_environment
    from .workspace import Terminated, terminate_on_signals

    os.environ.update(with_run_environment(os.environ))  # before numpy is imported: it reads them as it is
    args = _parser().parse_args(argv)
    handlers = {
        "sample-data": _cmd_sample,
        "validate": _cmd_validate,
        "report": _cmd_report,
        "load-sql": _cmd_load_sql,
        "targets": _cmd_targets,
    }
    try:
        with terminate_on_signals():
            return handlers[args.command](args)
    except ParameterError as exc:
        return _fail(f"parameter error: {exc}", EXIT_USAGE)
    except (DataValidationError, CoverageError) as exc:
        return _fail(str(exc), EXIT_DATA)
    except RunBusyError as exc:
        return _fail(str(exc), EXIT_BUSY)
    except ReportFileError as exc:
        return _fail(str(exc), EXIT_FILES)
    except ReportError as exc:
        return _fail(str(exc), EXIT_REPORT_FAILED)
    except ValueError as exc:
        return _fail(str(exc), EXIT_USAGE)
    except OSError as exc:
        from .workspace import describe_os_error

        return _fail(describe_os_error(exc, exc.filename or "", "use"), EXIT_FILES)
    except Terminated as exc:
        return _fail(f"stopped by {exc}; the published reports are untouched.", 128 + exc.signum)
    except KeyboardInterrupt:
        return _fail("interrupted; the published reports are untouched.", 130)


def _fail(message: str, code: int) -> int:
    print(f"crmtools: {message}", file=sys.stderr)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
