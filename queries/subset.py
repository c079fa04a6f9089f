"""The selection: the images a predicate, a query or a frame picks, and the rows that hang
off them read back from the store's parts as the same Tables shape a reader yields.

Queries run on a DuckDB connection the caller scopes to one dataset (and split), so the
ids a query gives mean that dataset's images, whatever tables it reads.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from posestore import schema
from posestore.connect import reading_failed
from posestore.errors import SelectionError


def select_images(
    con, where: str | None = None, query: str | None = None, selection: object | None = None
) -> pa.Table:
    """``(split, image_id)`` of the images (of a connection scoped to one dataset and split)
    that a predicate over ``images``, a query, or a ``selection`` frame (Polars, PyArrow or
    pandas) picks. A query or selection gives ``image_id`` alone, or with ``dataset`` and
    ``split``."""
    if sum(x is not None for x in (where, query, selection)) > 1:
        raise SelectionError("give one of --where, --query or a selection, not several")
    sql = "SELECT dataset, split, image_id FROM images" + (f" WHERE ({where})" if where else "")
    try:
        if selection is not None:
            con.register("_selection", as_arrow(selection))
            query = "SELECT * FROM _selection"
        if query:
            columns = set(con.sql(query).columns)
            if "image_id" not in columns:
                raise SelectionError(
                    f"the query gives {', '.join(sorted(columns))}; it must give image_id "
                    "(and may give dataset and split)"
                )
            if "split" not in columns:
                _ids_name_one_image(con)
            keys = ["image_id", *(k for k in ("dataset", "split") if k in columns)]
            on = " AND ".join(f"q.{k} = s.{k}" for k in keys)
            sql = (
                f"SELECT * FROM ({sql}) s "
                f"SEMI JOIN (SELECT DISTINCT {', '.join(keys)} FROM ({query})) q ON {on}"
            )
        return arrow_table(con.sql(f"SELECT split, image_id FROM ({sql})"))
    except SelectionError:
        raise
    except Exception as e:  # noqa: BLE001 - DuckDB's errors carry the useful message
        if reading_failed(e):
            raise  # a damaged file, not the selection: the store names it
        raise SelectionError(f"the selection failed: {str(e).splitlines()[0]}") from e
    finally:
        if selection is not None:
            con.unregister("_selection")


def _ids_name_one_image(con) -> None:
    """A query giving ``image_id`` alone selects by id across the scope's splits: refused
    where two splits number their images alike (Roboflow's train/valid/test from 0)."""
    splits, unique = con.sql(
        "SELECT count(DISTINCT split), count(*) = count(DISTINCT image_id) FROM images"
    ).fetchall()[0]
    if splits > 1 and not unique:
        raise SelectionError(
            "the splits of this dataset reuse image ids, so an image_id alone names several "
            "images: give --split, or have the query return split beside image_id"
        )


def read_selected(
    con, files: list[Path], table: str, image_ids: pa.Array, known: dict[str, str]
) -> pa.Table:
    """The rows of ``files`` (one split's parts of ``table``) whose ``image_id`` is selected,
    in stored order; ``known`` columns (``dataset``, ``split``) come back as coded constants,
    not as a string per row.

    DuckDB scans the parts (a row group per thread) and keeps only the selected rows, so
    memory follows the selection, not the split; each row carries its place in the store
    (file, then row) to be put back in stored order."""
    con.register("_selected_images", pa.table({"image_id": image_ids.cast(pa.int64())}))
    listing = ", ".join("'" + str(f).replace("'", "''") + "'" for f in files)
    try:
        rows = arrow_table(
            con.sql(
                f"SELECT * EXCLUDE (filename, file_row_number{''.join(', ' + k for k in known)}), "
                f"list_position([{listing}], filename) * {1 << 40} + file_row_number AS _place "
                f"FROM read_parquet([{listing}], filename = true, file_row_number = true) "
                "WHERE image_id IN (SELECT image_id FROM _selected_images)"
            )
        )
    finally:
        con.unregister("_selected_images")
    rows = in_stored_order(rows)
    for name, value in known.items():
        rows = rows.append_column(name, schema.constant(value, len(rows)))
    return schema.conform(table, rows)


def as_arrow(frame: object) -> pa.Table:
    """A selection frame (PyArrow, Polars or pandas) as an Arrow table DuckDB can scan."""
    if isinstance(frame, pa.Table):
        return frame
    if hasattr(frame, "to_arrow"):  # Polars
        return frame.to_arrow()
    try:
        return pa.Table.from_pandas(frame)  # type: ignore[arg-type]
    except Exception as e:  # noqa: BLE001 - anything else is not a frame of ids
        raise SelectionError(
            f"a selection must be a PyArrow, Polars or pandas frame, not {type(frame).__name__}"
        ) from e


def in_stored_order(rows: pa.Table) -> pa.Table:
    """Selected rows back in stored order (by their ``_place``), without ``_place``.

    DuckDB's parallel join interleaves its threads' chunks, each in order: a stable sort
    of the places (quick on such runs) gives a permutation made of a few long ranges,
    put back as zero-copy slices. An ORDER BY on a PYSKL selection of 8M rows took 2.5 s
    and 1 GiB more; ``take`` copies every column, strings included."""
    place = rows["_place"].to_numpy()
    rows = rows.drop_columns(["_place"])
    if (place[1:] >= place[:-1]).all():
        return rows
    order = np.argsort(place, kind="stable")
    cuts = np.flatnonzero(np.diff(order) != 1) + 1
    if len(cuts) > max(64, len(order) // 256):  # scattered: one copy beats many slices
        return rows.take(pa.array(order))
    starts = order[np.concatenate(([0], cuts))].tolist()
    lengths = np.diff(np.concatenate(([0], cuts, [len(order)]))).tolist()
    return pa.concat_tables([rows.slice(s, n) for s, n in zip(starts, lengths)])


def arrow_table(relation) -> pa.Table:
    """A DuckDB relation's result as an Arrow table (``.arrow()`` is a reader in DuckDB 2)."""
    result = relation.arrow()
    return result.read_all() if hasattr(result, "read_all") else result
