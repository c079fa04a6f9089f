"""The path guard every join of a name read from a file goes through (posestore/paths.py)."""

from pathlib import Path, PurePosixPath

import pytest

from posestore.paths import relative_inside, relative_path


@pytest.mark.parametrize(
    "name",
    ["../x.jpg", "a/../../x.jpg", "a/..", "/etc/passwd", "..\\x.jpg", "a\\..\\..\\x", "\\x", ""],
)
def test_absolute_climbing_or_empty_names_are_refused(name):
    assert relative_path(name) is None
    assert relative_inside(name, Path("/root")) is None


def test_backslashes_are_separators_and_names_join_below_the_root():
    assert relative_path("images\\val\\a.jpg") == PurePosixPath("images/val/a.jpg")
    assert relative_inside("images\\val\\a.jpg", Path("/r")) == Path("/r/images/val/a.jpg")
    assert relative_inside("./a/b.jpg", Path("/r")) == Path("/r/a/b.jpg")
    assert relative_inside("a..b/c.jpg", Path("/r")) == Path("/r/a..b/c.jpg")  # not a climb
