"""The ``posestore`` command: a thin layer over ``posestore.store``.

Errors are one line on stderr and a non-zero exit; warnings are one line too.
Heavy libraries are imported inside the commands, so ``--help`` answers at once.
"""

from __future__ import annotations

import sys
import warnings
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from posestore.errors import PoseStoreError

app = typer.Typer(
    name="posestore",
    help=(
        "A columnar analytics store for pose datasets.\n\n"
        "Ingest COCO keypoints (and PoseSOR, CVAT, PartImageNet) into partitioned Parquet, "
        "ask SQL across every dataset at once, and export any subset back to its native format."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# piped output is not cut to 80 columns
out = Console(width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True)

StoreOption = Annotated[
    Path | None,
    typer.Option(
        "--store",
        "-s",
        envvar="POSESTORE_STORE",
        help="The store folder [env POSESTORE_STORE; default ./posestore-data].",
        show_default=False,
    ),
]


_GLOBAL = {"store": None}


@app.callback()
def _options(store: StoreOption = None) -> None:
    """Options before the command (``posestore --store DIR ls``) apply to every command."""
    _GLOBAL["store"] = store


class Images(str, Enum):
    none = "none"
    copy = "copy"
    link = "link"


@contextmanager
def _handled():
    """Our errors as one line and exit 1; warnings as one line each."""

    def show(message, category, filename, lineno, file=None, line=None):
        _line("warning", str(message))

    old = warnings.showwarning
    warnings.showwarning = show
    try:
        yield
    except PoseStoreError as e:
        _line("error", str(e))
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        _line("error", "interrupted; the store is unchanged")
        raise typer.Exit(130) from None
    finally:
        warnings.showwarning = old


def _line(kind: str, message: str) -> None:
    """One line on stderr, whatever the terminal width."""
    print(f"{kind}: {' '.join(message.split())}", file=sys.stderr, flush=True)


def _open(store: Path | None, create: bool = False):
    import posestore

    return posestore.open(store or _GLOBAL["store"], create=create)


@contextmanager
def _progress():
    """A transient progress line that ingest and export update: a bar over source bytes when
    the work is measured, with what is being done now."""
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as bar:
        task = bar.add_task("starting", total=None)

        def update(message: str, done: int, total: int) -> None:
            if total > 0:
                bar.update(task, description=message, completed=done, total=total)
            else:
                bar.update(task, description=message)

        yield update


@app.command()
def ingest(
    source: Annotated[
        Path, typer.Argument(help="A file, a .zip, or a dataset's root folder as downloaded.")
    ],
    format: Annotated[
        str | None,
        typer.Option("--format", "-f", help="coco (found from the source when omitted)."),
    ] = None,  # noqa: A002
    dataset: Annotated[
        str | None,
        typer.Option("--dataset", "-d", help="Dataset name [default: from the source's name]."),
    ] = None,
    split: Annotated[
        str | None, typer.Option(help="Split name for a single file [default: from the file name].")
    ] = None,
    store: StoreOption = None,
) -> None:
    """Ingest a source into the store; a dataset of the same name is replaced atomically."""
    with _handled():
        st = _open(store, create=True)
        with _progress() as progress:
            done = st.ingest(source, format=format, dataset=dataset, split=split, progress=progress)
        for d in done:
            c = d.counts
            out.print(
                f"[green]ingested[/] {d.dataset} ({d.format}): splits {', '.join(d.splits) or '-'}; "
                f"{c.get('images', 0):,} images, {c.get('instances', 0):,} instances, "
                f"{c.get('keypoints', 0):,} keypoints, {c.get('categories', 0):,} categories "
                f"in {d.seconds:.2f} s",
                highlight=False,
            )


@app.command("ls")
def ls(store: StoreOption = None) -> None:
    """List the datasets in the store."""
    from rich.table import Table

    with _handled():
        st = _open(store)
        rows = st.datasets().sort_by("dataset").to_pylist()
        if not rows:
            out.print(f"no datasets in {st.root}")
            return
        t = Table(
            "dataset",
            "format",
            "images",
            "instances",
            "keypoints",
            "categories",
            "ingested",
            "source",
        )
        for r in rows:
            t.add_row(
                r["dataset"],
                r["format"],
                f"{r['num_images']:,}",
                f"{r['num_instances']:,}",
                f"{r['num_keypoints']:,}",
                f"{r['num_categories']:,}",
                r["ingested_at"].strftime("%Y-%m-%d %H:%M"),
                r["source"],
            )
        out.print(t)


@app.command()
def rm(
    dataset: Annotated[str, typer.Argument(help="The dataset to remove.")],
    store: StoreOption = None,
) -> None:
    """Remove a dataset from every table."""
    with _handled():
        _open(store).rm(dataset)
        out.print(f"removed {dataset}")


@app.command()
def sql(
    query: Annotated[
        str,
        typer.Argument(
            help="SQL over the tables datasets, categories, images, instances, keypoints, frames."
        ),
    ],
    csv: Annotated[bool, typer.Option("--csv", help="Print CSV.")] = False,
    json: Annotated[bool, typer.Option("--json", help="Print a JSON array of rows.")] = False,
    parquet: Annotated[
        Path | None, typer.Option("--parquet", help="Write the result to this Parquet file.")
    ] = None,
    limit: Annotated[
        int, typer.Option(help="Rows shown in the terminal table (not for --csv/--json/--parquet).")
    ] = 50,
    store: StoreOption = None,
) -> None:
    """Run SQL (DuckDB dialect) over the store and print the result."""
    with _handled():
        from posestore.errors import SelectionError
        from posestore.store import arrow_table

        st = _open(store)
        try:
            result = arrow_table(st.sql(query))
        except Exception as e:  # noqa: BLE001 - DuckDB's message is the useful part
            if isinstance(e, PoseStoreError):
                raise
            raise SelectionError(str(e).splitlines()[0]) from None
        if parquet:
            import pyarrow.parquet as pq

            pq.write_table(result, parquet, compression="zstd")
            out.print(f"wrote {result.num_rows:,} rows to {parquet}")
        elif csv:
            import pyarrow.csv as pacsv

            sink = sys.stdout.buffer
            pacsv.write_csv(_plain(result), sink)
            sink.flush()
        elif json:
            import orjson

            sys.stdout.buffer.write(
                orjson.dumps(result.to_pylist(), option=orjson.OPT_NAIVE_UTC) + b"\n"
            )
        else:
            _print_table(result, limit)


def _plain(table):
    """Nested columns as JSON text, for CSV."""
    import orjson
    import pyarrow as pa

    cols = []
    for col in table.columns:
        if pa.types.is_nested(col.type):
            col = pa.array(
                [None if v is None else orjson.dumps(v).decode() for v in col.to_pylist()],
                pa.string(),
            )
        cols.append(col)
    return pa.Table.from_arrays(cols, names=table.column_names)


def _print_table(result, limit: int) -> None:
    from rich.table import Table

    t = Table(*result.column_names)
    for row in result.slice(0, limit).to_pylist():
        t.add_row(*("" if v is None else str(v) for v in row.values()))
    out.print(t)
    more = result.num_rows - limit
    out.print(
        f"{result.num_rows:,} rows"
        + (f" ({more:,} not shown; --limit, --csv or --parquet)" if more > 0 else "")
    )


@app.command()
def stats(
    dataset: Annotated[str | None, typer.Argument(help="One dataset [default: all].")] = None,
    json: Annotated[bool, typer.Option("--json", help="Print the statistics as JSON.")] = False,
    html: Annotated[
        Path | None,
        typer.Option("--html", help="Also write an HTML report with plots to this file."),
    ] = None,
    store: StoreOption = None,
) -> None:
    """Counts per split, instances per image, per-joint visibility, size classes, joints outside
    their image, labels and categories."""
    with _handled():
        st = _open(store)
        result = st.stats(dataset)
        if html:
            from posestore.queries.stats import html_report

            html.write_text(html_report(result, st), encoding="utf-8")
        if json:
            import orjson

            sys.stdout.buffer.write(
                orjson.dumps(result, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS) + b"\n"
            )
        else:
            from posestore.queries.stats import render

            render(result, out)
        if html:
            err.print(f"wrote {html}", highlight=False)


@app.command()
def validate(
    target: Annotated[
        str, typer.Argument(help="A source file or folder, or a dataset of the store.")
    ],
    format: Annotated[
        str | None,
        typer.Option("--format", "-f", help="The source's format, if it cannot be told."),
    ] = None,  # noqa: A002
    json: Annotated[bool, typer.Option("--json", help="Print the findings as JSON.")] = False,
    store: StoreOption = None,
) -> None:
    """Report what is wrong (errors) or suspicious (warnings) in a source or a dataset: a count
    per kind and the first examples. Exit code 1 when there are errors."""
    with _handled():
        path = Path(target)
        if path.exists():
            from posestore.store import validate_source

            report = validate_source(path, format)
        else:
            report = _open(store).validate(target)
        if json:
            import orjson

            sys.stdout.buffer.write(orjson.dumps(report, option=orjson.OPT_INDENT_2) + b"\n")
        else:
            _print_findings(report)
    if report["errors"]:
        raise typer.Exit(1)


def _print_findings(report: dict) -> None:
    from rich.table import Table

    for dataset, findings in report["datasets"].items():
        if not findings:
            out.print(f"[green]{dataset}: nothing wrong found[/]")
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
        out.print(t)
    out.print(f"{report['errors']:,} errors, {report['warnings']:,} warnings in {report['target']}")


@app.command()
def export(
    dataset: Annotated[str, typer.Argument(help="The dataset to export.")],
    out_path: Annotated[
        Path,
        typer.Argument(
            metavar="OUT",
            help="A file (one split to one file: out.json, out.zip) or a folder laid out as the source was.",
        ),
    ],
    split: Annotated[str | None, typer.Option(help="Only this split.")] = None,
    format: Annotated[
        str | None,
        typer.Option(
            "--format",
            "-f",
            help="coco, pyskl, fashionai or yolo-pose [default: the dataset's own format].",
        ),
    ] = None,  # noqa: A002
    where: Annotated[
        str | None, typer.Option(help='SQL predicate over images, e.g. "width > 600".')
    ] = None,
    query: Annotated[
        str | None, typer.Option(help="SQL returning the image_id column of the images to keep.")
    ] = None,
    images: Annotated[
        Images, typer.Option(help="Copy or symlink the selected images into OUT.")
    ] = Images.none,
    image_root: Annotated[
        Path | None,
        typer.Option(
            "--image-root",
            help="The folder the images' file_name values are relative to [default: found at ingest].",
        ),
    ] = None,
    store: StoreOption = None,
) -> None:
    """Write a dataset, a split or a selection of images back to files."""
    with _handled():
        st = _open(store)
        with _progress() as progress:
            written = st.export(
                dataset,
                out_path,
                split=split,
                format=format,
                where=where,
                query=query,
                images=images.value,
                image_root=image_root,
                progress=progress,
            )
        for p in written:
            out.print(f"[green]wrote[/] {p}", highlight=False)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
