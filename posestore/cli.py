"""The ``posestore`` command: a thin layer over ``posestore.store``.

Built on argparse and importing nothing heavy up front: ``posestore sql`` needs only
DuckDB (``posestore.connect``), so a cold query costs DuckDB's import and the query.
Errors are one line on stderr and exit code 1; warnings are one line each.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import warnings
from contextlib import contextmanager
from pathlib import Path

from posestore.errors import PoseStoreError, StoreDamaged, StoreError

DESCRIPTION = (
    "A columnar analytics store for pose datasets. Ingest COCO keypoints (and PoseSOR, CVAT, "
    "PartImageNet), PYSKL skeleton pickles and FashionAI CSVs into partitioned Parquet, ask SQL "
    "across every dataset at once, and export any subset back to its native format."
)
EXAMPLES = """examples:
  posestore ingest person_keypoints_val2017.json --dataset coco
  posestore sql "SELECT dataset, split, count(*) FROM instances GROUP BY ALL"
  posestore export coco subset.json --split val2017 --where "width > 600"

posestore COMMAND --help explains a command, with an example."""
STORE_HELP = "the store folder [env POSESTORE_STORE; default ./posestore-data]"


def _line(kind: str, message: str) -> None:
    """One line on stderr, whatever the terminal width."""
    print(f"{kind}: {' '.join(str(message).split())}", file=sys.stderr, flush=True)


def _console(stderr: bool = False):
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    return Console(file=stream, width=None if stream.isatty() else 200)


@contextmanager
def _handled():
    """Our errors as one line and exit 1; warnings as one line each."""

    damaged: list[StoreDamaged] = []  # said at the end, unless the error names the dataset

    def show(message, category, filename, lineno, file=None, line=None):
        if isinstance(message, StoreDamaged):
            if all(w.dataset != message.dataset for w in damaged):  # each version says it again
                damaged.append(message)
        else:
            _line("warning", str(message))

    def said(error: str = "") -> None:
        for w in damaged:
            if f"dataset {w.dataset!r}" not in error:
                _line("warning", str(w))

    old = warnings.showwarning
    warnings.showwarning = show
    filters = warnings.filters[:]
    warnings.simplefilter("always", StoreDamaged)  # each command says it again
    try:
        yield
        said()
    except PoseStoreError as e:
        said(str(e))
        _line("error", str(e))
        raise SystemExit(1) from None
    except OSError as e:  # the store's folder or a file the command was given, unusable
        where = f"{e.filename}: " if e.filename else ""
        _line("error", f"{where}{e.strerror or e}")
        raise SystemExit(1) from None
    except MemoryError:
        _line("error", "out of memory; nothing was committed, the store is as it was")
        raise SystemExit(1) from None
    except Exception as e:  # an engine that could not read a file of the store: name it
        line = _unreadable_line(e)
        if line is None and type(e).__module__.startswith(("duckdb", "_duckdb")):
            line = _duckdb_message(e)  # DuckDB's own words are for the user
        if line is None:
            raise
        said(line)
        _line("error", line)
        raise SystemExit(1) from None
    except KeyboardInterrupt:
        _line("error", "interrupted; the store is unchanged")
        raise SystemExit(130) from None
    finally:
        warnings.showwarning = old
        warnings.filters[:] = filters


def _store_path(args) -> Path:
    from posestore.layout import DEFAULT_STORE

    return Path(args.store or os.environ.get("POSESTORE_STORE") or DEFAULT_STORE).expanduser()


def _open(args, create: bool = False):
    import posestore

    return posestore.open(_store_path(args), create=create)


@contextmanager
def _progress():
    """A transient progress line in a terminal (a bar over source bytes when the work is
    measured); elsewhere (a log, CI) one line per stage on stderr."""
    if not sys.stderr.isatty():
        log = _StageLog(LOG_STAGES_AFTER)
        try:
            yield log.update
        finally:
            log.close()
        return
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=_console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task("starting", total=None)

        def update(message: str, done: int, total: int) -> None:
            if total > 0:
                bar.update(task, description=message, completed=done, total=total)
            else:
                bar.update(task, description=message)

        yield update


LOG_STAGES_AFTER = 1.0
"""Outside a terminal, a stage is logged once it has lasted this many seconds (0: at once):
long work says what it is doing, a quick command stays one line."""


class _StageLog:
    """``progress`` for a log: one stderr line per stage (a message that differs in more than
    its numbers) that lasts ``after`` seconds, with the share done where work is measured."""

    def __init__(self, after: float) -> None:
        import threading
        import time

        self.after, self.start = after, time.monotonic()
        self.lock = threading.Lock()
        self.stage: str | None = None
        self.latest: tuple[str, int, int] = ("", -1, -1)
        self.timer: threading.Timer | None = None

    def update(self, message: str, done: int, total: int) -> None:
        import re
        import threading

        stage = re.sub(r"[\d,.–-]+", "#", message)
        with self.lock:
            self.latest = (message, done, total)
            if stage == self.stage:
                return
            self.stage = stage
            if self.timer:
                self.timer.cancel()
            if self.after <= 0:
                self._say()
                return
            self.timer = threading.Timer(self.after, self._late, args=(stage,))
            self.timer.daemon = True
            try:
                self.timer.start()
            except RuntimeError:  # no thread to be had (memory is short): no log line
                self.timer = None

    def _late(self, stage: str) -> None:
        with self.lock:
            if stage == self.stage:
                self._say()

    def _say(self) -> None:
        import time

        message, done, total = self.latest
        share = f" ({100 * done / total:.0f}%)" if total > 0 else ""
        _line("progress", f"{message}{share} at {time.monotonic() - self.start:.1f} s")

    def close(self) -> None:
        with self.lock:
            self.stage = None
            if self.timer:
                self.timer.cancel()


# -- commands ---------------------------------------------------------------------


def cmd_ingest(args) -> int:
    store = _open(args, create=True)
    with _progress() as progress:
        done = store.ingest(
            args.source,
            format=args.format,
            dataset=args.dataset,
            split=args.split,
            progress=progress,
            ground_truth=args.ground_truth,
            engine=args.engine,
        )
    for d in done:
        if d.replaced == "splits":
            print(f"replaced split {', '.join(d.splits)} of {d.dataset}; kept {', '.join(d.kept)}")
        elif d.replaced == "dataset":
            print(f"replaced dataset {d.dataset} (all its splits)")
        c = d.counts
        print(
            f"ingested {d.dataset} ({d.format}): splits {', '.join(d.splits) or '-'}; "
            f"{c.get('images', 0):,} images, {c.get('instances', 0):,} instances, "
            f"{c.get('keypoints', 0):,} keypoints, {c.get('categories', 0):,} categories in {d.seconds:.2f} s"
        )
    return 0


def cmd_ls(args) -> int:
    from rich.table import Table

    store = _open(args)
    rows = store.datasets().sort_by("dataset").to_pylist()
    if not rows:
        print(f"no datasets in {store.root}")
        return 0
    t = Table(
        "dataset", "format", "images", "instances", "keypoints", "categories", "ingested", "source"
    )
    for r in rows:
        t.add_row(
            r["dataset"], r["format"], f"{r['num_images']:,}", f"{r['num_instances']:,}",
            f"{r['num_keypoints']:,}", f"{r['num_categories']:,}",
            r["ingested_at"].strftime("%Y-%m-%d %H:%M"), r["source"],
        )  # fmt: skip
    _console().print(t)
    return 0


def cmd_rm(args) -> int:
    _open(args).rm(args.dataset)
    print(f"removed {args.dataset}")
    return 0


def cmd_sql(args) -> int:
    from posestore.errors import SelectionError

    root = _store_path(args)
    if not root.is_dir():
        from posestore.layout import no_store

        raise StoreError(no_store(root))
    from posestore.connect import connect

    con = connect(root)
    if con is None:  # a table without files yet: the store gives it a typed empty view
        con = _open(args).connection
    try:
        if args.parquet:
            if Path(args.parquet).resolve().is_relative_to(root.resolve()):
                raise StoreError(
                    f"--parquet {args.parquet} is inside the store {root}; write it elsewhere "
                    "(the store's files are written by ingest alone)"
                )
            from posestore.output import staged

            with staged(args.parquet) as staging:  # the file appears whole, or not at all
                target = str(staging.path).replace("'", "''")
                con.execute(f"COPY ({args.query}) TO '{target}' (FORMAT parquet, COMPRESSION zstd)")
                n = con.execute(f"SELECT count(*) FROM read_parquet('{target}')").fetchall()[0][0]
            print(f"wrote {n:,} rows to {args.parquet}")
            return 0
        rel = con.sql(args.query)
        if rel is None:  # a statement without a result (SET, CREATE …)
            return 0
        columns = rel.columns
        if args.csv or args.json:  # streamed a batch at a time: a result of any size
            _stream(rel, columns, "csv" if args.csv else "json")
            return 0
        shown = rel.limit(args.limit + 1).fetchall()  # one more says whether there are more
    except StoreError:
        raise
    except Exception as e:  # noqa: BLE001 - DuckDB's first line says what is wrong
        damaged = _unreadable_line(e)
        if damaged is not None:
            raise StoreError(damaged) from None
        raise SelectionError(_duckdb_message(e)) from None
    _print_table(columns, shown[: args.limit], more=len(shown) > args.limit)
    return 0


_DATA_FILE = re.compile(r"(\S*?\.posestore/data/[^/\s]+/([a-z_]+)/dataset=([^/\s]+)/[^\s'\"]+)")


def damage_line(message: str) -> str | None:
    """An engine's error that names a data file of the store, as one line naming the dataset
    and table (None for any other error)."""
    found = _DATA_FILE.search(message)
    if found is None:
        return None
    path, table, dataset = found.groups()
    first = next((ln.strip() for ln in message.splitlines() if ln.strip()), "")
    return (
        f"store damaged: dataset {dataset!r}, table {table}: {path} cannot be read ({first}); "
        f"`posestore check` lists the damage; re-ingest the dataset or `posestore rm {dataset}`"
    )


def _unreadable_line(e: Exception) -> str | None:
    """An engine's error from a file of the store it could not read, as one line naming
    the dataset and table when it names the file (None for any other error)."""
    from posestore.connect import reading_failed

    line = damage_line(str(e))
    if line is None and reading_failed(e):
        line = (
            f"{_duckdb_message(e)}: a file of the store could not be read; `posestore check` "
            "names the damaged dataset and file"
        )
    return line


def _duckdb_message(e: Exception) -> str:
    """DuckDB's error in one line, its hint kept (``Did you mean "keypoints"?``)."""
    lines = [line.strip() for line in str(e).splitlines() if line.strip()]
    hints = [ln for ln in lines[1:] if ln.startswith(("Did you mean", "Candidate bindings"))]
    return " ".join([lines[0], *hints]) if lines else type(e).__name__


def _stream(rel, columns: list[str], kind: str) -> None:
    """Rows as CSV or one JSON array, written batch by batch as DuckDB produces them."""
    import csv

    import orjson

    result = rel.arrow()  # a record batch reader (DuckDB 2), or a table (older DuckDB)
    batches = result.to_batches() if hasattr(result, "to_batches") else result
    if kind == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        for batch in batches:
            writer.writerows([_csv_cell(v) for v in r.values()] for r in batch.to_pylist())
        sys.stdout.flush()
        return
    first = True
    sys.stdout.flush()
    sys.stdout.buffer.write(b"[")
    for batch in batches:
        for row in batch.to_pylist():
            sys.stdout.buffer.write(
                (b"" if first else b",")
                + orjson.dumps(row, option=orjson.OPT_NAIVE_UTC, default=str)
            )
            first = False
    sys.stdout.buffer.write(b"]\n")
    sys.stdout.flush()


def _csv_cell(value: object) -> object:
    """A CSV cell: lists and dicts (pose lists, attributes) as JSON, null as empty."""
    import orjson

    if isinstance(value, (list, dict, tuple)):
        return orjson.dumps(value, default=str).decode()
    return "" if value is None else value


def _print_table(columns: list[str], rows: list[tuple], more: bool) -> None:
    from rich.table import Table

    t = Table(*columns)
    for r in rows:
        t.add_row(*("" if v is None else str(v) for v in r))
    console = _console()
    console.print(t)
    console.print(
        f"the first {len(rows):,} rows; more not shown (--limit, --csv or --parquet)"
        if more
        else f"{len(rows):,} rows"
    )


def cmd_stats(args) -> int:
    store = _open(args)
    result = store.stats(args.dataset, args.split)
    if args.html:
        from posestore.output import staged
        from posestore.queries.stats import html_report

        source = store.scoped(args.dataset, args.split) if args.split else store
        with staged(args.html) as staging:
            staging.path.write_text(html_report(result, source), encoding="utf-8")
    if args.json:
        import orjson

        sys.stdout.buffer.write(
            orjson.dumps(result, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS) + b"\n"
        )
        sys.stdout.flush()
    else:
        from posestore.queries.stats import render

        render(result, _console())
    if args.html:
        _line("wrote", str(args.html))
    return 0


def cmd_validate(args) -> int:
    path = Path(args.target)
    if path.exists():
        from posestore.store import validate_source

        if args.split:
            raise StoreError("--split applies to a dataset of the store, not to a source file")
        report = validate_source(path, args.format)
    else:
        report = _open(args).validate(args.target, split=args.split)
    if args.json:
        import orjson

        sys.stdout.buffer.write(
            orjson.dumps(report, option=orjson.OPT_INDENT_2, default=str) + b"\n"
        )
        sys.stdout.flush()
    else:
        _print_findings(report)
    return 1 if report["errors"] else 0


def cmd_check(args) -> int:
    from posestore.check import check, check_hive, relink
    from posestore.layout import META_DIR, has_hive_tables, no_store

    root = _store_path(args)
    if not (root / META_DIR).is_dir() and not has_hive_tables(root):
        raise StoreError(no_store(root))  # and leaves the folder as it is
    from contextlib import suppress

    with suppress(StoreError):  # a manifest that cannot be read: the check says so
        _open(args)  # finishes what a crash interrupted, adopts a store from before versions
    with _progress() as progress:
        done = check(root, deep=not args.quick, datasets=args.dataset or None, progress=progress)
    hive = [d for d in done.damage if d.hive]
    if args.relink and hive:
        relink(root)
        _line("note", f"linked the Hive folders again ({len(hive)} were out of date)")
        chosen = set(args.dataset) if args.dataset else None
        done.damage = [d for d in done.damage if not d.hive] + check_hive(root, chosen)
    if args.json:
        import orjson

        doc = {
            "store": str(root), "version": done.version, "datasets": done.datasets,
            "files": done.files, "bytes": done.bytes, "rows": done.rows, "deep": done.deep,
            "damage": [vars(d) for d in done.damage],
        }  # fmt: skip
        sys.stdout.buffer.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n")
        sys.stdout.flush()
        return 0 if done.ok else 1
    read = "every page decoded" if done.deep else "footers only (--quick)"
    summary = (
        f"version {done.version}: {done.datasets:,} dataset{'' if done.datasets == 1 else 's'}, {done.files:,} files, "
        f"{done.bytes / 2**20:,.1f} MiB, {done.rows:,} rows read ({read})"
    )
    if done.ok:
        print(f"{summary}: nothing damaged")
        return 0
    for d in done.damage:
        print(f"damaged: {d.line()}")
    print(f"{summary}: {len(done.damage):,} damaged")
    return 1


def _print_findings(report: dict) -> None:
    from rich.table import Table

    console = _console()
    for dataset, findings in report["datasets"].items():
        if not findings:
            console.print(f"[green]{dataset}: nothing wrong found[/]")
            continue
        t = Table(
            "severity",
            "check",
            "count",
            "what",
            "first examples",
            title=dataset,
            title_justify="left",
        )
        for f in findings:
            colour = "red" if f["severity"] == "error" else "yellow"
            examples = "\n".join(
                ", ".join(f"{k}={v}" for k, v in e.items()) for e in f["examples"][:3]
            )
            t.add_row(
                f"[{colour}]{f['severity']}[/]", f["check"], f"{f['count']:,}", f["what"], examples
            )
        console.print(t)
    console.print(
        f"{report['errors']:,} errors, {report['warnings']:,} warnings in {report['target']}"
    )


def cmd_eval(args) -> int:
    store = _open(args)
    if len(args.datasets) > 2:
        raise StoreError("posestore eval takes GT PRED, or PRED alone")
    *truth, predictions = args.datasets
    report = store.eval(predictions, ground_truth=truth[0] if truth else None, split=args.split)
    if args.json:
        import orjson

        sys.stdout.buffer.write(orjson.dumps(report, option=orjson.OPT_INDENT_2) + b"\n")
        sys.stdout.flush()
        return 0
    from rich.table import Table

    console = _console()
    for split, result in report["splits"].items():
        t = Table(
            "stat",
            "value",
            title=f"{report['predictions']} against {report['ground_truth']} ({split}): "
            f"{result['predictions']:,} predictions, {result['matched']:,} matched at OKS 0.5",
            title_justify="left",
        )
        for name, value in result["stats"].items():
            t.add_row(name, f"{value:.4f}")
        console.print(t)
        for note in result["notes"]:
            _line("note", note)
    print("wrote eval_matches and eval_joints (query them with posestore sql)")
    return 0


def cmd_skeleton(args) -> int:
    from posestore import skeleton

    if args.dataset is None:
        from rich.table import Table

        t = Table("name", "joints", "title", "sigmas", title="the skeleton registry")
        for s in skeleton.skeletons().values():
            sigmas = (
                "all"
                if all(x is not None for x in s.sigmas)
                else "some"
                if any(x is not None for x in s.sigmas)
                else "none"
            )
            t.add_row(s.name, str(len(s)), s.title, sigmas)
        _console().print(t)
        return 0
    store = _open(args)
    if args.set is None:
        rows = store.sql(
            "SELECT category_id, name, registry, len(keypoints) AS names, len(canonical) AS joints "
            "FROM categories WHERE dataset = ? AND kind = 'object' ORDER BY 1",
            params=[args.dataset],
        ).fetchall()
        for category_id, name, registry, names, joints in rows:
            print(f"{category_id} {name}: {registry or 'unknown'} ({joints or names or 0} joints)")
        return 0
    rows = store.set_skeleton(args.dataset, args.set, args.category)
    print(f"{args.dataset}: {len(rows)} categories now read as {args.set}")
    return 0


def cmd_export(args) -> int:
    store = _open(args)
    datasets = [d for d in args.dataset.split(",") if d]
    with _progress() as progress:
        if len(datasets) > 1:
            if args.images != "none":
                raise StoreError("--images is for one dataset at a time")
            written = store.export_many(
                datasets, args.out, split=args.split, format=args.format or "coco",
                skeleton=args.skeleton, where=args.where, query=args.query, progress=progress,
            )  # fmt: skip
        else:
            written = store.export(
                args.dataset, args.out, split=args.split, format=args.format, where=args.where,
                query=args.query, images=args.images, image_root=args.image_root,
                progress=progress, skeleton=args.skeleton,
            )  # fmt: skip
    print(_written(written, args.out))
    return 0


def _written(written: list[Path], out: Path) -> str:
    """What an export wrote, in one line: the file, or how many files of each kind under OUT."""
    if len(written) == 1 and Path(written[0]).resolve() == Path(out).resolve():
        return f"wrote {out}"
    kinds: dict[str, int] = {}
    for p in written:
        kinds[p.suffix or p.name] = kinds.get(p.suffix or p.name, 0) + 1
    summary = ", ".join(f"{n:,} {kind}" for kind, n in sorted(kinds.items()))
    return f"wrote {len(written):,} files under {out} ({summary})"


def cmd_view(args) -> int:
    store = _open(args)
    page = store.view(
        args.dataset, args.out, split=args.split, where=args.where, query=args.query,
        limit=args.limit, offset=args.offset, image_root=args.image_root,
    )  # fmt: skip
    noun = page.kind
    size = len(page.page) / 2**20
    shown = (
        f"{noun} {page.offset + 1:,}–{page.offset + page.shown:,}"
        if page.offset and page.shown
        else f"{page.shown:,}"
    )
    print(
        f"wrote {args.out} ({size:.1f} MiB): {shown} of the {page.selected:,} {noun} "
        f"selected, {page.instances:,} instances, {page.joints:,} joints"
    )
    if page.offset + page.shown < page.selected:
        _line("note", f"the next {noun} are on the next page: --offset {page.offset + page.shown}")
    missing = sum(page.missing.values())
    if missing:
        reasons = ", ".join(f"{why}: {n:,}" for why, n in page.missing.items())
        _line(
            "note",
            f"{missing:,} of {page.shown:,} images have no picture ({reasons}); drawn on blank "
            "canvases of their size"
            + ("; pass --image-root DIR" if "no image folder" in page.missing else ""),
        )
    return 0


# -- the parser ---------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="posestore",
        description=DESCRIPTION,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--store", "-s", type=Path, default=None, help=STORE_HELP)
    from posestore import __version__

    ap.add_argument("--version", action="version", version=f"posestore {__version__}")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, func, help: str, description: str | None = None, example: str = ""):  # noqa: A002
        p = sub.add_parser(
            name, help=help, description=description or help, epilog=f"example: {example}"
        )
        p.add_argument("--store", "-s", type=Path, default=argparse.SUPPRESS, help=STORE_HELP)
        p.set_defaults(func=func)
        return p

    p = command(
        "ingest", cmd_ingest, "ingest a source; a dataset of the same name is replaced atomically",
        example="posestore ingest annotations/person_keypoints_val2017.json --dataset coco",
    )  # fmt: skip
    p.add_argument(
        "source",
        type=Path,
        nargs="+",
        help="a file, a .zip, or a dataset's root folder as downloaded (several: one dataset "
        "with --dataset, a split per file)",
    )
    p.add_argument(
        "--format",
        "-f",
        help="coco, pyskl, fashionai or coco-results (found from the source when omitted)",
    )
    p.add_argument("--dataset", "-d", help="dataset name [default: from the source's name]")
    p.add_argument("--split", help="split name for a single file [default: from the file name]")
    p.add_argument(
        "--ground-truth",
        metavar="DATASET",
        help="for a COCO results file (predictions): the dataset of the store they are on",
    )
    p.add_argument(
        "--engine",
        choices=("local", "ray"),
        default="local",
        help="ray: read the source as Ray tasks (a kpfile, a file or a clip batch each) on the "
        "cluster RAY_ADDRESS names, or on a local one; needs pip install 'posestore[ray]' "
        "[default: local]",
    )

    command("ls", cmd_ls, "list the datasets in the store", example="posestore ls")

    p = command("rm", cmd_rm, "remove a dataset from every table", example="posestore rm coco")
    p.add_argument("dataset")

    p = command(
        "sql", cmd_sql, "run SQL (DuckDB) over the store and print the result",
        "Run SQL over the tables datasets, categories, images, instances, keypoints, frames and the "
        "split_members, and the views joints, instance_joints, instance_sizes, posesor_ranks, "
        "clip_labels.",
        example='posestore sql "SELECT dataset, count(*) FROM instances GROUP BY 1" --csv',
    )  # fmt: skip
    p.add_argument("query", help='e.g. "SELECT dataset, count(*) FROM instances GROUP BY 1"')
    out = p.add_mutually_exclusive_group()
    out.add_argument("--csv", action="store_true", help="print CSV")
    out.add_argument("--json", action="store_true", help="print a JSON array of rows")
    out.add_argument(
        "--parquet", type=Path, metavar="FILE", help="write the result to a Parquet file"
    )
    p.add_argument("--limit", type=int, default=50, help="rows shown in the terminal table [50]")

    p = command(
        "stats", cmd_stats, "statistics per dataset and split",
        "Counts per split, instances per image, per-joint labelled and visible rates, COCO size "
        "classes, joints outside their image, labels and categories.",
        example="posestore stats coco --split val2017 --html stats.html",
    )  # fmt: skip
    p.add_argument("dataset", nargs="?", help="one dataset [default: all]")
    p.add_argument("--split", help="one split or split list of the dataset (e.g. xview_val)")
    p.add_argument("--json", action="store_true", help="print the statistics as JSON")
    p.add_argument("--html", type=Path, metavar="FILE", help="also write an HTML report with plots")

    p = command(
        "validate", cmd_validate, "report what is wrong or suspicious in a source or a dataset",
        "Report errors (data that contradicts itself) and warnings (suspicious data) in a source "
        "file or folder, or a dataset of the store: a count per kind and the first examples. "
        "Exit code 1 when there are errors.",
        example="posestore validate annotations/person_keypoints_val2017.json",
    )  # fmt: skip
    p.add_argument("target", help="a source file or folder, or a dataset of the store")
    p.add_argument("--format", "-f", help="the source's format, if it cannot be told")
    p.add_argument("--split", help="one split or split list of a dataset of the store")
    p.add_argument("--json", action="store_true", help="print the findings as JSON")

    p = command(
        "check", cmd_check, "report what is damaged in the store (by hand or by a disk)",
        "Check the current version: every file it lists is there, the size it was committed at, "
        "and reads (every page decoded and its checksum verified, unless --quick); the catalog "
        "has one row per dataset whose counts equal the tables' rows; the Hive folders other "
        "engines read hold the current version's files. Exit code 1 when something is damaged.",
        example="posestore check",
    )  # fmt: skip
    p.add_argument("dataset", nargs="*", help="the datasets to check [default: all]")
    p.add_argument("--quick", action="store_true", help="read the files' footers, not every page")
    p.add_argument(
        "--relink",
        action="store_true",
        help="when the Hive folders are all that is wrong, link them to the current version again",
    )
    p.add_argument("--json", action="store_true", help="print what was checked and found as JSON")

    p = command(
        "eval", cmd_eval, "COCO keypoint evaluation of predictions against their ground truth",
        "Evaluate a predictions dataset (ingested with --format coco-results --ground-truth GT) "
        "with the categories' OKS sigmas: the ten numbers equal pycocotools' COCOeval. Writes "
        "the eval_matches and eval_joints tables.",
        example="posestore eval coco hrnet --split val2017",
    )  # fmt: skip
    p.add_argument(
        "datasets",
        nargs="+",
        metavar="GT PRED",
        help="the ground truth and the predictions dataset (PRED alone: the ground truth it "
        "was ingested on)",
    )
    p.add_argument("--split", help="one split [default: every split of the predictions]")
    p.add_argument("--json", action="store_true", help="print the results as JSON")

    p = command(
        "skeleton", cmd_skeleton, "list the skeleton registry, or show or set a dataset's skeleton",
        "Without a dataset: the registry of known skeletons. With one: what its categories "
        "matched; with --set NAME (or a skeleton JSON file of your own): read its joints as that "
        "skeleton from now on, without re-ingesting.",
        example="posestore skeleton cvat --set coco17",
    )  # fmt: skip
    p.add_argument("dataset", nargs="?")
    p.add_argument("--set", metavar="NAME", help="a registry skeleton (coco17, …) or a JSON file")
    p.add_argument("--category", type=int, help="only this category id")

    p = command(
        "export", cmd_export, "write a dataset, a split or a selection of images back to files",
        "Write the selected images (all, --split, --where over images, or --query returning "
        "image_id) with their instances, keypoints and categories, in the dataset's own format or "
        "--format. OUT is a file for one split in a one-file format (out.json, out.csv, out.pkl, "
        "out.zip), else a folder laid out as the source was.",
        example='posestore export coco subset.json --where "width > 600" --images copy',
    )  # fmt: skip
    p.add_argument(
        "dataset", help="a dataset, or several separated by commas (merged into one file per split)"
    )
    p.add_argument("out", type=Path, metavar="OUT")
    p.add_argument("--split", help="only this split, or any split list (e.g. xview_val)")
    p.add_argument(
        "--skeleton",
        metavar="NAME",
        help="project every pose onto a registry skeleton (coco17, halpe26, …; see posestore skeleton)",
    )
    p.add_argument(
        "--format", "-f", help="coco, pyskl, fashionai or yolo-pose [default: the dataset's own]"
    )
    sel = p.add_mutually_exclusive_group()
    sel.add_argument("--where", help='SQL predicate over images, e.g. "width > 600"')
    sel.add_argument(
        "--query",
        help="SQL returning image_id (or dataset, split, image_id) of the images to keep; "
        "ids of other datasets never select",
    )
    p.add_argument(
        "--images",
        choices=("none", "copy", "link"),
        default="none",
        help="copy or symlink the selected images into OUT",
    )
    p.add_argument(
        "--image-root",
        type=Path,
        help="the folder the images' file_name values are relative to [default: found at ingest]",
    )
    p = command(
        "view", cmd_view, "draw a selection's poses in one self-contained HTML page",
        "Write one HTML file that opens offline (no server, nothing loaded from outside it): "
        "the selected images (all, --split, --where over images, or --query returning image_id, "
        "as export selects them) in a grid, each instance's skeleton, box and crowd region "
        "drawn over the image's thumbnail (a blank canvas of its size when the image is not "
        "found); PYSKL clips as players; a predictions dataset over its ground truth with each "
        "joint's error class. Hover or click a joint for its name, coordinates, visibility and "
        "score.",
        example='posestore view coco crowded.html --split val2017 --query "SELECT image_id FROM '
        'instances GROUP BY image_id HAVING count(*) >= 3" --image-root coco/val2017',
    )  # fmt: skip
    p.add_argument("dataset")
    p.add_argument("out", type=Path, metavar="OUT.html")
    p.add_argument("--split", help="only this split, or any split list (e.g. xview_val)")
    sel = p.add_mutually_exclusive_group()
    sel.add_argument("--where", help='SQL predicate over images, e.g. "width > 600"')
    sel.add_argument(
        "--query", help="SQL returning image_id (or dataset, split, image_id) of the images to draw"
    )
    p.add_argument(
        "--limit",
        type=int,
        help="images (or clips) the page shows [200 images, 24 clips]; the page says how many "
        "the selection holds",
    )
    p.add_argument(
        "--offset", type=int, default=0, help="skip this many selected images: the next page [0]"
    )
    p.add_argument(
        "--image-root",
        type=Path,
        help="the folder the images' file_name values are relative to [default: found at ingest]",
    )
    return ap


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code (the console script exits with it)."""
    ap = parser()
    try:
        args = ap.parse_args(argv)
    except SystemExit as e:  # --help, --version, or a usage error argparse has printed
        return int(e.code or 0)
    if not getattr(args, "func", None):
        ap.print_help()
        return 0
    try:
        with _handled():
            return args.func(args)
    except SystemExit as e:
        return int(e.code or 0)


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
