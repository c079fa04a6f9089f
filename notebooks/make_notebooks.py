"""Write the notebooks in this folder from the cells below: ``python notebooks/make_notebooks.py``.

The notebooks are kept without outputs; ``tests/test_notebooks.py`` runs each top to bottom.
Cells use the public API only (``posestore.open``, ``store.ingest``, ``store.sql``,
``store.scan``, ``store.stats``, ``store.export``, ``store.view``) — the same the README shows.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

HERE = Path(__file__).parent

SETUP = """\
import atexit
import os
import shutil
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import polars as pl

import posestore
from posestore import synthetic

# A store of your own (POSESTORE_STORE), or one built here from posestore's synthetic data
# (one small dataset of each format). Dataset names used below: coco, posesor-assr, ntu, fashionai.
# What this notebook makes (that store, its exports) goes into `work`, a temporary folder
# removed by the last cell, or when the kernel stops if the notebook does not get there.
work = Path(tempfile.mkdtemp(prefix="posestore-notebook-"))
atexit.register(shutil.rmtree, work, ignore_errors=True)
if os.environ.get("POSESTORE_STORE"):
    store = posestore.open(os.environ["POSESTORE_STORE"])
else:
    store = posestore.open(work / "store")
    for name, source in synthetic.demo_sources(work / "sources").items():
        store.ingest(source, dataset=name)
store.dataset_names()"""

TOUR = [
    (
        "md",
        "# A tour of a posestore store\n\nOpen a store, look at its tables as Polars LazyFrames, "
        "ask one question in SQL and in Polars, and plot joints with their skeleton.",
    ),
    ("code", SETUP),
    ("md", "## What is in it\n\n`store.datasets()` is the `datasets` table: one row per dataset."),
    (
        "code",
        'pl.from_arrow(store.datasets()).select("dataset", "format", "num_images", "num_instances", "num_keypoints")',
    ),
    (
        "md",
        "## Tables are LazyFrames\n\n`store.scan(table)` reads the Parquet files lazily; nothing is loaded "
        "until `.collect()`, and filters are pushed down to the files. `keypoints` holds one row per "
        "pose: its joints' `x`, `y`, `visibility` and `score` are lists in the category's joint order.",
    ),
    ("code", 'keypoints = store.scan("keypoints")\nkeypoints.collect_schema()'),
    (
        "md",
        "## One question, two ways\n\nThe share of visible joints (`visibility = 2`) per joint in COCO, "
        "in SQL through DuckDB (the `joints` view: one row per joint) and in Polars (exploding the "
        "pose lists) — the same numbers.",
    ),
    (
        "code",
        '''\
by_sql = store.sql("""
    SELECT joint, avg((visibility = 2)::INT) AS visible
    FROM joints WHERE dataset = 'coco' GROUP BY joint ORDER BY joint
""").pl()
by_polars = (
    keypoints.filter(pl.col("dataset") == "coco")
    .select(pl.col("visibility").list.eval(pl.int_range(pl.len())).alias("joint"), "visibility")
    .explode("joint", "visibility")
    .group_by("joint")
    .agg((pl.col("visibility") == 2).mean().alias("visible"))
    .sort("joint")
    .collect()
)
assert by_sql["visible"].round(9).to_list() == by_polars["visible"].round(9).to_list()
by_polars.head()''',
    ),
    (
        "code",
        """\
names, skeleton = store.sql(
    "SELECT keypoints, skeleton FROM categories WHERE dataset = 'coco' AND kind = 'object'"
).fetchall()[0]
fig, ax = plt.subplots(figsize=(9, 3.5))
ax.bar(names, by_polars["visible"].to_list())
ax.set_ylabel("share of persons with the joint visible")
ax.set_title("COCO: per-joint visibility")
ax.tick_params(axis="x", rotation=75)
fig.tight_layout()
plt.show()""",
    ),
    (
        "md",
        "## Joints in the person's box, with the skeleton\n\nEvery labelled joint placed relative to "
        "its person's box, and the mean position of each joint joined by COCO's (1-based) skeleton.",
    ),
    (
        "code",
        '''\
joints = store.sql("""
    SELECT k.joint, (k.x - i.bbox_x) / i.bbox_w AS u, (k.y - i.bbox_y) / i.bbox_h AS v
    FROM joints k JOIN instances i USING (dataset, split, instance_id)
    WHERE k.dataset = 'coco' AND k.visibility > 0 AND i.bbox_w > 0 AND i.bbox_h > 0
""").pl()
means = joints.group_by("joint").agg(pl.col("u").mean(), pl.col("v").mean()).sort("joint")
fig, ax = plt.subplots(figsize=(5, 6))
ax.scatter(joints["u"], joints["v"], c=joints["joint"], s=2, alpha=0.25, cmap="tab20")
mu = dict(zip(means["joint"], zip(means["u"], means["v"])))
for a, b in skeleton:
    (x0, y0), (x1, y1) = mu[a - 1], mu[b - 1]
    ax.plot([x0, x1], [y0, y1], color="black", linewidth=2)
for j, (x, y) in mu.items():
    ax.annotate(names[j], (x, y), fontsize=7)
ax.invert_yaxis()
ax.set_xlabel("x within the box")
ax.set_ylabel("y within the box")
ax.set_title("COCO: labelled joints and the mean skeleton")
plt.show()''',
    ),
    (
        "md",
        "## Seeing the poses\n\n`store.view(...)` draws a selection (chosen as `export` chooses: "
        "`split`, `where`, `query`, `selection`) with every instance's skeleton, box and crowd "
        "region over its image; images not on disk are drawn on blank canvases of their size. "
        "A notebook shows it inline; `store.view(..., out)` or `.save(path)` writes the same "
        "page as one HTML file that opens offline. Hover over a joint for its name, "
        "coordinates, visibility and score.",
    ),
    (
        "code",
        """\
crowded = store.view(
    "coco",
    split="val2017",
    query="SELECT image_id FROM instances WHERE num_keypoints >= 10 GROUP BY image_id HAVING count(*) >= 2",
    limit=6,
)
print(crowded)
crowded""",
    ),
    (
        "md",
        "Skeleton clips (PYSKL) are players: play, pause, or drag the slider; each person track "
        "has its own colour and the caption names the action.",
    ),
    ("code", 'store.view("ntu", limit=2)'),
]

CROSS = [
    (
        "md",
        "# Across datasets\n\nCOCO, PoseSOR, PYSKL and FashionAI side by side in one dataframe, "
        "PoseSOR's saliency rank against person size, and images shared between datasets.",
    ),
    ("code", SETUP),
    (
        "md",
        "## One dataframe of every dataset\n\nPolars over the `images`, `instances` and `keypoints` "
        "tables: instances per image, joint coverage (share of joint rows labelled) and box sizes.",
    ),
    (
        "code",
        """\
images = store.scan("images").group_by("dataset").agg(pl.len().alias("images"))
instances = store.scan("instances").group_by("dataset").agg(
    pl.len().alias("instances"),
    (pl.col("bbox_w") * pl.col("bbox_h")).sqrt().median().alias("median_box_side"),
)
coverage = store.scan("keypoints").explode("visibility").group_by("dataset").agg(
    (pl.col("visibility") > 0).mean().alias("joint_coverage")
)
side_by_side = (
    images.join(instances, on="dataset", how="left")
    .join(coverage, on="dataset", how="left")
    .with_columns((pl.col("instances") / pl.col("images")).alias("instances_per_image"))
    .sort("dataset")
    .collect()
)
side_by_side""",
    ),
    (
        "code",
        """\
shown = side_by_side.filter(pl.col("joint_coverage").is_not_null())
fig, ax = plt.subplots(figsize=(8, 3.5))
ax.bar(shown["dataset"], shown["joint_coverage"])
ax.set_ylabel("share of joint rows labelled")
ax.set_title("Joint coverage per dataset")
ax.tick_params(axis="x", rotation=30)
fig.tight_layout()
plt.show()""",
    ),
    (
        "md",
        "## PoseSOR: saliency rank against person size\n\nThe `posesor_ranks` view gives "
        "`visiting_order` as a typed `saliency_rank`.",
    ),
    (
        "code",
        """\
ranks = store.sql("SELECT saliency_rank, sqrt(bbox_w * bbox_h) AS box_side FROM posesor_ranks").pl()
if ranks.is_empty():
    print("no PoseSOR dataset in this store")
else:
    groups = sorted(ranks["saliency_rank"].unique().to_list())
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.boxplot([ranks.filter(pl.col("saliency_rank") == r)["box_side"].to_list() for r in groups])
    ax.set_xticks(range(1, len(groups) + 1), groups)
    ax.set_xlabel("saliency rank (1 = looked at first)")
    ax.set_ylabel("person box side (pixels)")
    ax.set_title("PoseSOR: rank against size")
    plt.show()""",
    ),
    (
        "md",
        "## Images two datasets share\n\nPoseSOR is built on COCO images: join them by `coco_url` "
        "and compare how many persons each dataset annotates on the same image.",
    ),
    (
        "code",
        '''\
shared = store.sql("""
    WITH persons AS (SELECT dataset, image_id, count(*) AS n FROM instances GROUP BY ALL)
    SELECT p.dataset AS posesor, p.split, count(*) AS shared_images,
           avg(coalesce(pc.n, 0)) AS posesor_persons, avg(coalesce(cc.n, 0)) AS coco_persons
    FROM images p
    JOIN images c ON c.coco_url = p.coco_url AND c.dataset = 'coco'
    LEFT JOIN persons pc ON pc.dataset = p.dataset AND pc.image_id = p.image_id
    LEFT JOIN persons cc ON cc.dataset = c.dataset AND cc.image_id = c.image_id
    WHERE p.dataset LIKE 'posesor%'
    GROUP BY ALL ORDER BY ALL
""").pl()
if shared.is_empty():
    print("no PoseSOR image shared with a coco dataset in this store")
else:
    display(shared)  # noqa: F821 - Jupyter's own''',
    ),
]

SUBSET = [
    (
        "md",
        "# A subset for an experiment\n\nPick crowded scenes and occluded wrists, compare the subset "
        "with the whole, export it to COCO, PYSKL and YOLO pose, and load the COCO export back with "
        "pycocotools.",
    ),
    ("code", SETUP),
    (
        "md",
        "## Crowded scenes, with Polars\n\nImages with at least three non-crowd persons that have at "
        "least ten labelled joints.",
    ),
    (
        "code",
        """\
crowded = (
    store.scan("instances")
    .filter((pl.col("dataset") == "coco") & (pl.col("iscrowd") == 0) & (pl.col("num_keypoints") >= 10))
    .group_by("image_id")
    .agg(pl.len().alias("persons"))
    .filter(pl.col("persons") >= 3)
    .collect()
)
len(crowded)""",
    ),
    ("md", "## Occluded wrists, with SQL\n\nThe `joints` view carries joint names."),
    (
        "code",
        '''\
wrists = store.sql("""
    SELECT DISTINCT image_id FROM joints
    WHERE dataset = 'coco' AND joint_name IN ('left_wrist', 'right_wrist') AND visibility = 1
""").pl()
len(wrists)''',
    ),
    ("md", "## The subset against the whole"),
    (
        "code",
        '''\
per_image = store.sql("""
    SELECT i.image_id, count(n.instance_id) AS persons
    FROM images i LEFT JOIN instances n USING (dataset, split, image_id)
    WHERE i.dataset = 'coco' GROUP BY 1
""").pl()
subset = per_image.filter(pl.col("image_id").is_in(crowded["image_id"].implode()))
fig, ax = plt.subplots(figsize=(6, 3.5))
bins = range(0, int(per_image["persons"].max()) + 2)
ax.hist(per_image["persons"], bins=bins, alpha=0.6, label="all images", density=True)
ax.hist(subset["persons"], bins=bins, alpha=0.6, label="crowded subset", density=True)
ax.set_xlabel("persons in the image")
ax.set_ylabel("share of images")
ax.set_title("COCO: crowded subset against the whole")
ax.legend()
plt.show()''',
    ),
    (
        "md",
        "## Export it\n\nThe same selection as a query returning `image_id`s; COCO keeps the source's "
        "`info`, `licenses` and every field of the images and annotations kept.",
    ),
    (
        "code",
        '''\
import contextlib
import io

from pycocotools.coco import COCO

query = """
    SELECT image_id FROM instances
    WHERE dataset = 'coco' AND iscrowd = 0 AND num_keypoints >= 10
    GROUP BY image_id HAVING count(*) >= 3
"""
written = store.export("coco", work / "export" / "crowded", query=query)
with contextlib.redirect_stdout(io.StringIO()):
    loaded = [COCO(str(p)) for p in written]
assert sum(len(c.getImgIds()) for c in loaded) == len(crowded)
[(p.name, len(c.getImgIds()), len(c.getAnnIds())) for p, c in zip(written, loaded)]''',
    ),
    (
        "code",
        """\
(yaml, *labels) = store.export("coco", work / "export" / "crowded_yolo", format="yolo-pose", query=query)
print(yaml.read_text())
print(next(p for p in labels if p.stat().st_size).read_text().splitlines()[0][:120], "…")""",
    ),
    ("md", "## Skeleton clips: a set of action labels, back to a PYSKL pickle"),
    (
        "code",
        """\
import pickle

(ntu,) = store.export("ntu", work / "export" / "ntu_actions_1_2.pkl", where="label IN (1, 2)")
with open(ntu, "rb") as fh:
    clips = pickle.load(fh)  # our own file; for files of others posestore reads with an allow-list
labels = sorted({a["label"] for a in clips["annotations"]})
print(labels, len(clips["annotations"]), {k: len(v) for k, v in clips["split"].items()})
clips["annotations"][0]["keypoint"].shape, clips["annotations"][0]["keypoint"].dtype""",
    ),
]


CLEAN_UP = [
    ("md", "## Clean up\n\nThe temporary folder this notebook made (its store, its exports) goes."),
    ("code", "shutil.rmtree(work, ignore_errors=True)\nwork.exists()"),
]


def write(name: str, cells: list[tuple[str, str]]) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [
        nbformat.v4.new_markdown_cell(text) if kind == "md" else nbformat.v4.new_code_cell(text)
        for kind, text in cells + CLEAN_UP
    ]
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"{name[:2]}-{i:02d}"
    nbformat.write(nb, HERE / f"{name}.ipynb")


def main() -> None:
    write("01_tour", TOUR)
    write("02_cross_dataset", CROSS)
    write("03_subset_for_an_experiment", SUBSET)


if __name__ == "__main__":
    main()
