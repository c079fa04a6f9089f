"""Pictures of poses: a selection drawn in one self-contained HTML page (``posestore view``).

Still images become a grid of cards, each image's instances drawn over its thumbnail;
PYSKL clips become players; predictions are drawn over their ground truth with each
joint's error class. The page's data is built in bulk (``data``), its pictures with Pillow
(``pictures``), and it is drawn in the browser by a small script (``page``).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .data import ViewPart, page_data
from .page import PoseView, page_bytes
from .pictures import THUMBNAIL_PX

__all__ = ["DEFAULT_LIMITS", "PoseView", "ViewPart", "in_page_order", "render_view"]

DEFAULT_LIMITS = {"images": 200, "clips": 24}
"""Images (or clips: a player each, every frame's joints) a page shows unless told: a page
of 200 thumbnails is a few megabytes and opens in a second or two."""


def in_page_order(selected: pa.Table, splits: list[str]) -> pa.Table:
    """``(split, image_id)`` rows of a selection in the order a page shows them: by split (in
    the dataset's order), then by id."""
    if not len(selected):
        return selected
    known = pa.array(splits, pa.string())
    rank = pc.fill_null(pc.index_in(selected["split"].cast(pa.string()), known), len(splits))
    order = np.lexsort((selected["image_id"].to_numpy(), rank.to_numpy()))
    return selected.take(pa.array(order))


def render_view(
    parts: list[ViewPart],
    categories: pa.Table,
    about: dict,
    clips: bool = False,
    thumbnail: int = THUMBNAIL_PX,
) -> PoseView:
    """The page for the shown images of ``parts`` (in page order). ``about`` says what the
    header shows: ``dataset``, ``format``, ``split``, ``selection`` (the predicate or query),
    ``selected``, ``shown``, ``offset``, ``limit``, ``image_root``, ``ground_truth`` and
    ``evaluated`` (predictions)."""
    data = page_data(parts, categories, about, clips=clips, thumbnail=thumbnail)
    data.content["about"].update(
        kind="clips" if clips else "images", instances=data.instances, joints=data.joints
    )
    return PoseView(
        page_bytes(data.content),
        about["dataset"],
        about["selected"],
        about["shown"],
        about["offset"],
        data.instances,
        data.joints,
        "clips" if clips else "images",
        data.missing,
    )
