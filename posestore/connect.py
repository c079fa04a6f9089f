"""A DuckDB connection with a view per table and the convenience views, without PyArrow.

``posestore sql`` runs on this alone, so a cold query pays for DuckDB's import and the
query, not for PyArrow, NumPy or Polars.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from posestore import snapshot as snapshots
from posestore.errors import first_line
from posestore.layout import (
    COUNTED,
    EVAL_TABLES,
    SPLIT_TABLES,
    TABLES,
    empty_file,
    has_hive_tables,
)

_HELD: list[snapshots.Snapshot] = []
"""The versions ``connect`` bound views to, held while the process may read them."""


def create_views(
    con,
    snap: snapshots.Snapshot,
    empty_table: Callable | None = None,
    scope: tuple[str, str | None, bool] | None = None,
) -> bool:
    """Create the table views over the version ``snap`` and the convenience views on ``con``.

    A table without files needs ``empty_table(con, name)`` to give it a typed empty view;
    without one, nothing is created and False is returned (the caller takes the long way).
    ``scope`` ``(dataset, split, is_partition)`` narrows the split tables to one dataset's
    split partition or split list (``xview_val``), so every view and query sees only it.
    """
    import duckdb

    while True:
        try:
            made = _create_views(con, snap, empty_table, scope)
            if made and not _catalog_disagrees(con, snap):
                return True
            if not made:
                return False
        except duckdb.Error as e:
            # a file whose footer cannot be read fails the view: its dataset is left out
            named = damaged_file(snap, str(e))
            if named is None:
                raise
            table, dataset, path = named
            snap.mark_damaged(dataset, table, path, f"cannot be read ({first_line(e)})")


def _catalog_disagrees(con, snap: snapshots.Snapshot) -> bool:
    """Mark the datasets with files but not one catalog row (their ``datasets`` file gone
    from the manifest, holding no row or two), and those whose tables hold another number
    of rows than their catalog row says (the files' footers, once per version): True when
    there were any (the views are made again without them)."""
    todo = {d for entries in snap.tables.values() for d in entries}
    todo -= set(snap.damaged) | snap.counted
    if not todo:
        return False
    have = _catalog_rows(con, snap, todo)
    for name in sorted(todo - set(have) - set(snap.damaged)):
        catalog = snap.files("datasets", name)
        what = snapshots.no_catalog_row(snap.tables_of(name))
        snap.mark_damaged(name, "datasets", catalog[0] if catalog else None, what)
    rows = _footer_rows(con, snap, set(have))
    for name, said in sorted(have.items()):
        for (table, _), count in zip(COUNTED.items(), said, strict=True):
            n = rows.get((table, name), 0)
            if n != (count or 0) and name not in snap.damaged:
                snap.mark_damaged(name, table, None, snapshots.rows_disagree(n, count or 0))
        if name not in snap.damaged:
            snap.counted.add(name)
    return any(name in snap.damaged for name in todo)


def _catalog_rows(con, snap: snapshots.Snapshot, names: set[str]) -> dict[str, tuple]:
    """The catalog's counts (``COUNTED``) of each of ``names`` with exactly one row; one
    with several is marked damaged."""
    files = snap.files("datasets")
    if not files:
        return {}
    query = f"SELECT dataset, {', '.join(COUNTED.values())} FROM read_parquet({_file_list(files)})"
    found: dict[str, list[tuple]] = {}
    for row in con.execute(query).fetchall():  # the files, not the view: a scope shows one
        if row[0] in names:
            found.setdefault(row[0], []).append(row[1:])
    for name, rows in sorted(found.items()):
        if len(rows) > 1:
            where = snap.files("datasets", name)
            what = snapshots.catalog_rows(len(rows))
            snap.mark_damaged(name, "datasets", where[0] if where else None, what)
    return {name: rows[0] for name, rows in found.items() if len(rows) == 1}


def _footer_rows(con, snap: snapshots.Snapshot, names: set[str]) -> dict[tuple[str, str], int]:
    """Rows per ``(table, dataset)`` of the counted tables of ``names``, from the footers."""
    owners = {
        str(path): (table, dataset)
        for table, dataset, path, _ in snap.entries()
        if table in COUNTED and dataset in names
    }
    rows: dict[tuple[str, str], int] = {}
    if owners:
        files = _file_list([Path(p) for p in owners])
        for path, n in con.execute(
            f"SELECT file_name, num_rows FROM parquet_file_metadata({files})"
        ).fetchall():
            rows[owners[path]] = rows.get(owners[path], 0) + n
    return rows


def damaged_file(snap: snapshots.Snapshot, message: str) -> tuple[str, str, Path] | None:
    """The file of ``snap`` an engine's error message names, as ``(table, dataset, path)``."""
    for table, dataset, path, _ in snap.entries():
        if str(path) in message and dataset not in snap.damaged:
            return table, dataset, path
    return None


_DECODING = (
    "Out of buffer",
    "TProtocol",
    "thrift",
    "orrupt",
    "ecompress",
    "checksum",
    "CRC",
    "DELTA_",
    "Could not read enough bytes",
    "Failed to read file",
    "No magic bytes",
    "don't know what type",
    "nsupported encoding",
    "dictionary",
)
"""What DuckDB says when it cannot decode a Parquet file (``Out of buffer``, a bad encoding,
a short read): told apart by its words, since a query's own mistakes share its classes
(``InvalidInputException`` is a bad regex too)."""


def reading_failed(e: BaseException) -> bool:
    """A DuckDB error from decoding a file, not from the query."""
    text = str(e)
    return (
        type(e).__module__.startswith(("duckdb", "_duckdb"))
        and type(e).__name__ not in {"ParserException", "BinderException", "CatalogException"}
        and any(word in text for word in _DECODING)
    )


def query_error(e: BaseException) -> bool:
    """A DuckDB error in the query itself (its SQL, names or casts): no file is at fault."""
    return type(e).__module__.startswith(("duckdb", "_duckdb")) and not reading_failed(e)


def _create_views(
    con,
    snap: snapshots.Snapshot,
    empty_table: Callable | None,
    scope: tuple[str, str | None, bool] | None,
) -> bool:
    root = snap.root
    missing = [t for t in TABLES if not snap.has(t)]
    if any(not empty_file(root, t).is_file() for t in missing) and empty_table is None:
        return False
    for table in TABLES:
        if table in missing:
            if empty_file(root, table).is_file():
                path = str(empty_file(root, table)).replace("'", "''")
                con.execute(
                    f"CREATE OR REPLACE VIEW {table} AS SELECT * FROM read_parquet('{path}')"
                )
            elif empty_table is not None:  # missing without a schema file implies given
                empty_table(con, table)
        else:
            con.execute(
                f"CREATE OR REPLACE VIEW {table} AS SELECT * FROM read_parquet("
                f"{_file_list(snap.files(table))}, hive_partitioning = false, "
                "union_by_name = true) t" + (_scope_filter(table, scope, snap) if scope else "")
            )
    from posestore.queries import VIEWS_SQL

    con.execute(VIEWS_SQL)
    return True


def _file_list(files: list[Path]) -> str:
    return "[" + ", ".join(_quote(str(f)) for f in files) + "]"


def _scope_filter(table: str, scope: tuple[str, str | None, bool], snap: snapshots.Snapshot) -> str:
    """The WHERE clause that narrows a table's view to a scope (see ``create_views``).

    The eval tables of predictions made on the dataset stay visible in its scope: they
    share its splits and image ids (a subset of the ground truth by the model's errors)."""
    dataset, split, is_partition = _quote(scope[0]), scope[1], scope[2]
    if table in EVAL_TABLES and snap.has("datasets"):
        catalog = _file_list(snap.files("datasets"))
        mine = (
            f"(t.dataset = {dataset} OR t.dataset IN (SELECT dataset FROM read_parquet({catalog}) "
            f"WHERE json_extract_string(metadata, '$.ground_truth') = {dataset}))"
        )
    else:
        mine = f"t.dataset = {dataset}"
    if (table not in SPLIT_TABLES and table not in EVAL_TABLES) or split is None:
        return f" WHERE {mine}"
    if is_partition:
        return f" WHERE {mine} AND t.split = {_quote(split)}"
    return (
        f" WHERE {mine} AND t.image_id IN (SELECT m.image_id FROM split_members m"
        f" WHERE m.dataset = {dataset} AND m.split = {_quote(split)} AND m.stored_in = t.split)"
    )


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def connect(root: Path):
    """A connection over the current version of the store at ``root`` (held until the
    process ends), or None when a table has no files yet."""
    import duckdb

    snap = snapshots.current(Path(root))
    if snap.seq == 0 and has_hive_tables(root):
        return None  # written before versions existed: ``posestore.open`` adopts it first
    _HELD.append(snap)
    con = duckdb.connect()
    return con if create_views(con, snap) else None
