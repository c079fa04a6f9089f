"""The demo `make demo` runs: synthetic sources of every format → one store → SQL → a subset
export → predictions evaluated → pages drawing the poses.

    python scripts/demo.py --out demo

Everything it makes lands under OUT (sources/, store/, export/, view/); run it again to rebuild.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import shutil
import sys
import time
from pathlib import Path

from posestore.queries.subset import arrow_table
from rich.console import Console
from rich.table import Table

import posestore
from posestore import synthetic

console = Console(width=None if sys.stdout.isatty() else 120)

QUERIES = {
    "Every dataset at once: images and persons per split": """
        SELECT dataset, split, count(*) AS images, sum(n) AS instances,
               round(sum(labelled) / sum(n), 2) AS mean_labelled_joints
        FROM images
        LEFT JOIN (SELECT dataset, split, image_id, count(*) AS n, sum(num_keypoints) AS labelled
                   FROM instances GROUP BY ALL) USING (dataset, split, image_id)
        GROUP BY ALL ORDER BY ALL""",
    "Per-joint visibility in COCO (the joints view: one row per joint, named)": """
        SELECT any_value(joint_name) AS joint,
               round(avg((visibility = 2)::INT), 3) AS visible,
               round(avg((visibility = 1)::INT), 3) AS occluded
        FROM joints WHERE dataset = 'coco'
        GROUP BY joint ORDER BY joint LIMIT 8""",
    "PoseSOR: saliency rank (visiting_order) against person size": """
        SELECT (attributes::JSON->>'visiting_order')::INT AS rank,
               count(*) AS persons, round(avg(bbox_w * bbox_h)) AS mean_box_area
        FROM instances WHERE dataset = 'posesor-assr'
        GROUP BY rank ORDER BY rank LIMIT 5""",
    "FashionAI: labelled joints per garment (visibility mapped to COCO's 0/1/2)": """
        SELECT category AS garment, count(DISTINCT instance_id) AS garments,
               round(avg((visibility = 2)::INT), 3) AS visible,
               round(avg((visibility = 1)::INT), 3) AS occluded
        FROM joints WHERE dataset = 'fashionai' GROUP BY 1 ORDER BY 1""",
    "PYSKL: clips, frames and mean joint score per action label": """
        SELECT i.label, count(*) AS clips, sum(i.num_frames) AS frames,
               round(avg(s.score), 3) AS mean_clip_score
        FROM images i
        JOIN (SELECT dataset, split, image_id, avg(score) AS score FROM joints
              WHERE visibility > 0 GROUP BY ALL) s
          USING (dataset, split, image_id)
        WHERE i.dataset = 'ntu' GROUP BY 1 ORDER BY 1""",
    "Kinetics: skeletons per clip, from the kpfiles": """
        SELECT dataset, count(DISTINCT image_id) AS clips, count(*) AS skeletons,
               round(count(*) / count(DISTINCT image_id), 1) AS per_clip, round(avg(score), 3) AS box_score
        FROM instances WHERE dataset = 'k400' GROUP BY 1""",
    "CVAT: occluded flag from the per-annotation attributes": """
        SELECT (attributes::JSON->'$.attributes.occluded')::BOOLEAN AS occluded, count(*) AS n,
               round(avg(score), 3) AS mean_score
        FROM instances WHERE dataset = 'cvat' GROUP BY 1 ORDER BY 1""",
}

CROWDED = """
    SELECT image_id FROM instances
    WHERE dataset = 'coco' AND iscrowd = 0 AND num_keypoints >= 10
    GROUP BY image_id HAVING count(*) >= 3"""


def show(title: str, table) -> None:
    t = Table(*table.column_names, title=title, title_justify="left", title_style="bold")
    for row in table.to_pylist():
        t.add_row(*("" if v is None else str(v) for v in row.values()))
    console.print(t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("demo"))
    args = ap.parse_args()
    shutil.rmtree(args.out, ignore_errors=True)

    console.rule("[bold]1. synthetic sources, one per format")
    sources = synthetic.demo_sources(args.out / "sources")
    for name, path in sources.items():
        console.print(f"  {name:13} {path}")

    console.rule("[bold]2. ingest into one store")
    store = posestore.open(args.out / "store")
    for name, path in sources.items():
        start = time.perf_counter()
        for d in store.ingest(path, dataset=name):
            c = d.counts
            console.print(
                f"  [green]{d.dataset:13}[/] {c.get('images', 0):5} images {c.get('instances', 0):5} instances "
                f"{c.get('keypoints', 0):6} keypoints  splits: {', '.join(d.splits)}"
            )
        console.print(f"  {'':13} {time.perf_counter() - start:.2f} s", style="dim")
    console.print(f"  tables under {store.root}/<table>/dataset=<name>/split=<split>/*.parquet")

    console.rule("[bold]3. SQL across all of them (DuckDB)")
    for title, sql in QUERIES.items():
        show(title, arrow_table(store.sql(sql)))

    console.rule("[bold]4. a subset: images with ≥ 3 non-crowd persons with ≥ 10 labelled joints")
    out = args.out / "export" / "crowded_val2017.json"
    (written,) = store.export("coco", out, split="val2017", query=CROWDED)
    doc = json.loads(written.read_bytes())
    from pycocotools.coco import COCO

    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(written))
    console.print(
        f"  wrote {written}: {len(doc['images'])} images, {len(doc['annotations'])} annotations; "
        f"pycocotools loads it: {len(coco.getImgIds())} images, {len(coco.getAnnIds())} annotations"
    )
    whole = store.export("coco", args.out / "export" / "coco_full")
    same = all(
        json.loads(p.read_bytes())
        == json.loads((sources["coco"] / "annotations" / p.name).read_bytes())
        for p in whole
    )
    console.print(
        f"  whole dataset exported to {args.out / 'export' / 'coco_full'}: identical to the source: {same}"
    )

    (csv_coco,) = store.export(
        "fashionai", args.out / "export" / "fashionai_as_coco.json", format="coco"
    )
    with contextlib.redirect_stdout(io.StringIO()):
        fcoco = COCO(str(csv_coco))
    console.print(
        f"  FashionAI as COCO keypoints: {csv_coco} ({len(fcoco.getAnnIds())} annotations, "
        f"{len(fcoco.getCatIds())} garment categories with their joint names)"
    )
    picked = store.export(
        "ntu", args.out / "export" / "ntu_labels_1_2.pkl", where="label IN (1, 2)"
    )
    console.print(f"  PYSKL clips with labels 1 and 2: {picked[0]} (split lists filtered to them)")
    kin = store.export("k400", args.out / "export" / "k400")
    console.print(
        f"  Kinetics index and its kpfiles: {len(kin)} files under {args.out / 'export' / 'k400'}"
    )

    console.rule("[bold]5. a model's predictions next to the ground truth")
    val = json.loads(
        (sources["coco"] / "annotations" / "person_keypoints_val2017.json").read_bytes()
    )
    results = args.out / "sources" / "coco_val2017_results.json"
    results.write_bytes(json.dumps(synthetic.coco_predictions(val, seed=1)).encode())
    (pred,) = store.ingest(results, format="coco-results", ground_truth="coco", dataset="model")
    console.print(f"  ingested {pred.counts['instances']} predictions of {results.name} as 'model'")
    report = store.eval("model")
    stats = report["splits"]["val2017"]["stats"]
    console.print(
        "  COCO keypoint evaluation (the numbers pycocotools gives): "
        + ", ".join(f"{k} {v:.3f}" for k, v in list(stats.items())[:5])
    )
    show(
        "Per-joint error of the matched persons (eval_joints)",
        arrow_table(
            store.sql(
                """SELECT g.joint_name AS joint, round(avg(e.normalised), 4) AS mean_error,
                          count(*) FILTER (WHERE e.error = 'inversion') AS inversions,
                          count(*) FILTER (WHERE e.error = 'miss') AS misses
                   FROM eval_joints e JOIN joints g
                     ON g.dataset = 'coco' AND g.split = e.split
                    AND g.instance_id = e.gt_instance_id AND g.joint = e.joint
                   WHERE e.dataset = 'model' AND e.error IS NOT NULL
                   GROUP BY g.joint, g.joint_name ORDER BY g.joint LIMIT 11"""
            )
        ),
    )
    swapped = store.export(
        "coco",
        args.out / "export" / "left_right_swaps.json",
        split="val2017",
        query="SELECT image_id FROM eval_joints WHERE error = 'inversion'",
    )
    n = len(json.loads(swapped[0].read_bytes())["images"])
    console.print(f"  the {n} images where the model swapped left and right: {swapped[0]}")

    console.rule("[bold]6. see the poses: one offline HTML page per selection")
    pages = {
        "crowded_val2017.html": store.view("coco", split="val2017", query=CROWDED),
        "ntu_labels_1_2.html": store.view("ntu", where="label IN (1, 2)"),
        "model_swaps.html": store.view(
            "model", query="SELECT image_id FROM eval_joints WHERE error = 'inversion'"
        ),
    }
    for name, page in pages.items():
        written = page.save(args.out / "view" / name)
        missing = sum(page.missing.values())
        console.print(
            f"  {written}: {page.shown} of {page.selected} {page.kind}, {page.instances} "
            f"instances, {page.joints} joints"
            + (f" ({missing} images not on disk: blank canvases of their size)" if missing else "")
        )

    console.rule("[bold]try it yourself")
    console.print(f"  export POSESTORE_STORE={store.root}")
    console.print("  .venv/bin/posestore ls")
    console.print(
        '  .venv/bin/posestore sql "SELECT dataset, count(*) FROM joints WHERE visibility = 2 GROUP BY 1"'
    )
    console.print(
        '  .venv/bin/posestore export coco even.json --split val2017 --where "image_id % 2 = 0"'
    )
    console.print('  .venv/bin/posestore view coco wide.html --where "width > 600"')


if __name__ == "__main__":
    main()
