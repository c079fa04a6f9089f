"""Store → answers and files: views, statistics, validation, subsets and writers."""

from importlib.resources import files

VIEWS_SQL = files(__package__).joinpath("views.sql").read_text(encoding="utf-8")
"""The convenience views (``queries/views.sql``), run on every store connection."""
