"""A DuckDB connection with a view per table and the convenience views, without PyArrow.

``posestore sql`` runs on this alone, so a cold query pays for DuckDB's import and the
query, not for PyArrow, NumPy or Polars.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from posestore.layout import TABLES, has_files, table_glob


def create_views(con, root: Path, empty_table: Callable | None = None) -> bool:
    """Create the table views and the convenience views on ``con``.

    A table without files needs ``empty_table(con, name)`` to give it a typed empty view;
    without one, nothing is created and False is returned (the caller takes the long way).
    """
    missing = [t for t in TABLES if not has_files(root, t)]
    if missing and empty_table is None:
        return False
    for table in TABLES:
        if table in missing:
            empty_table(con, table)
        else:
            pattern = table_glob(root, table).replace("'", "''")
            con.execute(
                f"CREATE OR REPLACE VIEW {table} AS SELECT * FROM read_parquet("
                f"'{pattern}', hive_partitioning = false, union_by_name = true)"
            )
    from posestore.queries import VIEWS_SQL

    con.execute(VIEWS_SQL)
    return True


def connect(root: Path):
    """A connection over the store at ``root``, or None when a table has no files yet."""
    import duckdb

    con = duckdb.connect()
    return con if create_views(con, Path(root)) else None
