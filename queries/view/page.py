"""A view page: the template (``page.html`` with ``page.css`` and ``page.js``) filled with the
page's data, and the object a notebook displays.

The page loads nothing: its Content-Security-Policy forbids every fetch (``default-src
'none'``), admits pictures only as ``data:`` URIs and runs only the script whose hash it
names, so the file opens from disk, offline, and can be mailed.
"""

from __future__ import annotations

import base64
import hashlib
import html
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path

import orjson


def content_security_policy(script: str) -> str:
    """The page's policy: nothing from outside, pictures as ``data:``, this script alone."""
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    return (
        "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
        f"script-src 'sha256-{digest}'; base-uri 'none'; form-action 'none'"
    )


@cache
def _template() -> tuple[bytes, bytes]:
    """The page before and after its data, read once from the package's files."""
    folder = resources.files(__package__)
    text = {name: folder.joinpath(name).read_text(encoding="utf-8") for name in PAGE_FILES}
    script = text["page.js"]
    page = (
        text["page.html"]
        .replace("@@CSP@@", content_security_policy(script))
        .replace("@@STYLE@@", text["page.css"])
        .replace("@@SCRIPT@@", script)
    )
    before, after = page.split("@@DATA@@")
    return before.encode("utf-8"), after.encode("utf-8")


PAGE_FILES = ("page.html", "page.css", "page.js")
"""The package data a page is made of."""


def page_bytes(content: dict) -> bytes:
    """The whole page with ``content`` embedded once as JSON (NumPy arrays written by orjson).

    ``<`` appears in JSON only inside strings, so writing it ``\\u003c`` keeps a file name
    such as ``</script>`` from ending the data block."""
    data = orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)
    before, after = _template()
    return before + data.replace(b"<", b"\\u003c") + after


@dataclass
class PoseView:
    """A view page and what it shows; a notebook displays it inline (``_repr_html_``)."""

    page: bytes
    dataset: str
    selected: int
    """Images (or clips) the selection holds."""
    shown: int
    """Images drawn on this page (``limit`` at most, from ``offset``)."""
    offset: int
    instances: int
    """Instances drawn (predictions too)."""
    joints: int
    """Joints drawn: labelled ones (every frame of a clip) and every joint of a prediction."""
    kind: str = "images"
    """``images`` (a card each) or ``clips`` (a player each)."""
    missing: dict[str, int] = field(default_factory=dict)
    """Shown images without a picture, by reason (``not found``, ``unreadable``, …)."""
    path: Path | None = None
    """Where the page was written, if it was."""

    @property
    def html(self) -> str:
        return self.page.decode("utf-8")

    def save(self, path: str | Path) -> Path:
        """Write the page to ``path``, whole or not at all (staged beside it, as an export
        is); returns it. A target that cannot be written is one ``StoreError`` line."""
        from posestore.errors import StoreError
        from posestore.output import staged

        target = Path(path)
        if target.is_dir():
            raise StoreError(f"{target} is a folder; the view is one HTML file: name it")
        with staged(target) as staging:
            staging.path.write_bytes(self.page)
        self.path = target
        return target

    def _repr_html_(self) -> str:
        """The page in a sandboxed frame: its script runs, its policy still holds."""
        return (
            '<iframe sandbox="allow-scripts" title="posestore view" '
            'style="width:100%;height:680px;border:1px solid #ddd" '
            f'srcdoc="{html.escape(self.html, quote=True)}"></iframe>'
        )

    def __repr__(self) -> str:
        where = f" at {self.path}" if self.path else ""
        missing = sum(self.missing.values())
        return (
            f"<PoseView of {self.dataset}{where}: {self.shown:,} of {self.selected:,} selected "
            f"shown, {self.instances:,} instances, {self.joints:,} joints"
            + (f", {missing:,} images without a picture" if missing else "")
            + ">"
        )
