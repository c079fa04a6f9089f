"""Pages rendered by a real headless browser (Debian's ``chromium``), read back as a DOM.

Without chromium the tests that need it are skipped with a reason, except under CI=true
where its absence fails (``.ci/run`` installs it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}


def chromium() -> str:
    """The chromium executable; skipped (or, under CI=true, failed) when there is none."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.environ.get("CI") == "true":
        pytest.fail("CI=true but chromium is not installed (.ci/run installs it)")
    pytest.skip("chromium is not installed (apt-get install chromium) to render the page")


def _run(args: list[str], page: Path) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="posestore-chromium-") as profile:
        return subprocess.run(
            [
                chromium(), "--headless", "--no-sandbox", "--disable-gpu",
                "--disable-dev-shm-usage", "--no-first-run", "--hide-scrollbars",
                f"--user-data-dir={profile}", *args, page.resolve().as_uri(),
            ],
            capture_output=True,
            timeout=180,
            check=True,
        )  # fmt: skip


def rendered_dom(page: Path) -> Dom:
    """The page's DOM after its scripts ran (``--dump-dom``), parsed."""
    result = _run(["--virtual-time-budget=10000", "--dump-dom"], page)
    dom = Dom()
    dom.feed(result.stdout.decode("utf-8"))
    return dom


def screenshot(page: Path, out: Path, size: tuple[int, int] = (1280, 1000)) -> Path:
    """A PNG of the page's first screen (``--screenshot``)."""
    _run([f"--screenshot={out.resolve()}", f"--window-size={size[0]},{size[1]}"], page)
    return out


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    parent: Element | None = None
    children: list[Element] = field(default_factory=list)
    text: str = ""

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def find(self, tag: str | None = None, cls: str | None = None, attr: str | None = None):
        """Descendants (depth first, document order) by tag, class and attribute present."""
        for child in self.children:
            if (
                (tag is None or child.tag == tag)
                and (cls is None or cls in child.classes)
                and (attr is None or attr in child.attrs)
            ):
                yield child
            yield from child.find(tag, cls, attr)

    def all_text(self) -> str:
        return self.text + "".join(c.all_text() for c in self.children)


class Dom(HTMLParser):
    """A parsed DOM dump: ``root`` holds the elements as a tree."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {})
        self._open = [self.root]

    def handle_starttag(self, tag, attrs):
        element = Element(tag, {k: v or "" for k, v in attrs}, self._open[-1])
        self._open[-1].children.append(element)
        if tag not in VOID:
            self._open.append(element)

    def handle_startendtag(self, tag, attrs):
        element = Element(tag, {k: v or "" for k, v in attrs}, self._open[-1])
        self._open[-1].children.append(element)

    def handle_endtag(self, tag):
        for k in range(len(self._open) - 1, 0, -1):
            if self._open[k].tag == tag:
                del self._open[k:]
                return

    def handle_data(self, data):
        self._open[-1].text += data

    def by_id(self, name: str) -> Element:
        for element in self.root.find():
            if element.attrs.get("id") == name:
                return element
        raise KeyError(name)

    @property
    def grid(self) -> Element:
        """The drawings (the header's legend aside)."""
        return self.by_id("grid")

    def scenes(self) -> list[Element]:
        """The drawn images and clips (one ``svg.scene`` each), in page order."""
        return list(self.grid.find("svg", cls="scene"))

    def instances(self, scene: Element | None = None) -> list[Element]:
        return list((scene or self.grid).find("g", cls="inst"))

    def joints(self, scene: Element | None = None) -> list[Element]:
        return list((scene or self.grid).find("circle", attr="data-joint"))
