"""Dataset statistics, computed by DuckDB over the store's views.

``dataset_stats`` returns plain dicts (what ``posestore stats --json`` prints);
``render`` draws them as terminal tables and ``html_report`` as a page with plots.
"""

from __future__ import annotations

import base64
import html
import io

from posestore.errors import StoreError

HEATMAP_BINS = 48


def _rows(store, sql: str, params: list) -> list[dict]:
    rel = store.sql(sql, params=params)
    names = rel.columns
    return [dict(zip(names, r)) for r in rel.fetchall()]


def dataset_stats(store, datasets: list[str] | None = None) -> dict:
    """Per dataset: counts per split, instances per image, per-joint labelled and visible
    rates, size classes, joints outside their image, labels and categories."""
    if datasets:
        return {d: _one(store, d) for d in datasets}
    out = {}
    for d in store.dataset_names():
        try:
            out[d] = _one(store, d)
        except StoreError:
            if d not in store.snapshot.damaged:
                raise  # found damaged while read: left out, as the warning says
    return out


def _one(store, d: str) -> dict:
    info = store.dataset_info(d)
    p = [d]
    splits = _rows(
        store,
        """SELECT i.split, count(*) AS images, sum(i.num_frames) AS frames_declared,
                  coalesce(any_value(n.instances), 0) AS instances,
                  coalesce(any_value(f.frames), 0) AS frames,
                  coalesce(any_value(k.keypoints), 0) AS keypoints
           FROM images i
           LEFT JOIN (SELECT split, count(*) AS instances FROM instances WHERE dataset = $1 GROUP BY 1) n USING (split)
           LEFT JOIN (SELECT split, count(*) AS frames FROM frames WHERE dataset = $1 GROUP BY 1) f USING (split)
           LEFT JOIN (SELECT split, count(*) AS keypoints FROM keypoints WHERE dataset = $1 GROUP BY 1) k USING (split)
           WHERE i.dataset = $1 GROUP BY 1 ORDER BY 1""",
        p,
    )
    per_image = _rows(
        store,
        """SELECT i.split, coalesce(n, 0) AS instances, count(*) AS images
           FROM images i LEFT JOIN (
               SELECT split, image_id, count(*) AS n FROM instances WHERE dataset = $1 GROUP BY 1, 2)
             USING (split, image_id)
           WHERE i.dataset = $1 GROUP BY 1, 2 ORDER BY 1, 2""",
        p,
    )
    joints = _rows(
        store,
        """SELECT split, category, joint, any_value(joint_name) AS name, count(*) AS rows,
                  count(*) FILTER (WHERE visibility > 0) AS labelled,
                  count(*) FILTER (WHERE visibility = 2) AS visible,
                  round(count(*) FILTER (WHERE visibility > 0) / count(*), 4) AS labelled_rate,
                  round(count(*) FILTER (WHERE visibility = 2) / count(*), 4) AS visible_rate
           FROM joints WHERE dataset = $1 GROUP BY 1, 2, 3 ORDER BY 1, 2, 3""",
        p,
    )
    sizes = _rows(
        store,
        """SELECT split, count(*) FILTER (WHERE size_class = 'small') AS small,
                  count(*) FILTER (WHERE size_class = 'medium') AS medium,
                  count(*) FILTER (WHERE size_class = 'large') AS large,
                  count(*) FILTER (WHERE size_class IS NULL) AS unknown
           FROM instance_sizes WHERE dataset = $1 GROUP BY 1 ORDER BY 1""",
        p,
    )
    outside = _rows(
        store,
        """SELECT k.split,
                  count(*) FILTER (WHERE k.x < 0 OR k.y < 0 OR k.x >= i.width OR k.y >= i.height) AS outside,
                  count(*) AS labelled, count(*) FILTER (WHERE i.width IS NULL) AS without_size
           FROM joints k JOIN images i USING (dataset, split, image_id)
           WHERE k.dataset = $1 AND k.visibility > 0 GROUP BY 1 ORDER BY 1""",
        p,
    )
    labels = _rows(
        store,
        """SELECT split, label, any_value(action) AS action, count(*) AS clips
           FROM clip_labels WHERE dataset = $1 GROUP BY 1, 2 ORDER BY 1, 2""",
        p,
    )
    categories = _rows(
        store,
        """SELECT c.category_id, c.name, c.kind, coalesce(n, 0) AS instances
           FROM categories c LEFT JOIN (
               SELECT category_id, count(*) AS n FROM instances WHERE dataset = $1 GROUP BY 1) USING (category_id)
           WHERE c.dataset = $1 AND c.kind = 'object' ORDER BY 1""",
        p,
    )
    canonical = _rows(
        store,
        """SELECT canonical, count(*) AS rows,
                  round(count(*) FILTER (WHERE visibility > 0) / count(*), 4) AS labelled_rate,
                  round(count(*) FILTER (WHERE visibility = 2) / count(*), 4) AS visible_rate
           FROM joints WHERE dataset = $1 AND canonical IS NOT NULL GROUP BY 1 ORDER BY 1""",
        p,
    )
    errors = _rows(
        store,
        """SELECT e.split, e.category_id AS category, e.joint, any_value(c.keypoints[e.joint + 1]) AS name,
                  count(*) AS joints, round(avg(e.normalised), 4) AS mean_error,
                  count(*) FILTER (WHERE e.error = 'good') AS good,
                  count(*) FILTER (WHERE e.error = 'jitter') AS jitter,
                  count(*) FILTER (WHERE e.error = 'inversion') AS inversion,
                  count(*) FILTER (WHERE e.error = 'swap') AS swap,
                  count(*) FILTER (WHERE e.error = 'miss') AS miss
           FROM eval_joints e LEFT JOIN categories c
             ON c.dataset = e.dataset AND c.category_id = e.category_id AND c.kind = 'object'
           WHERE e.dataset = $1 AND e.error IS NOT NULL GROUP BY 1, 2, 3 ORDER BY 1, 2, 3""",
        p,
    )
    return {
        "format": info["format"],
        "source": info["source"],
        "splits": splits,
        "canonical_joints": canonical,
        "joint_errors": errors,
        "instances_per_image": per_image,
        "joints": joints,
        "size_classes": sizes,
        "keypoints_outside_image": outside,
        "labels": labels,
        "categories": categories,
    }


def render(stats: dict, console) -> None:
    """The statistics as terminal tables."""
    from rich.table import Table

    def table(
        title: str, rows: list[dict], columns: list[str] | None = None, limit: int = 40
    ) -> None:
        if not rows:
            return
        columns = columns or list(rows[0])
        t = Table(*columns, title=title, title_justify="left", title_style="bold")
        for r in rows[:limit]:
            t.add_row(*(_fmt(r.get(c)) for c in columns))
        console.print(t)
        if len(rows) > limit:
            console.print(f"  … {len(rows) - limit} more rows (--json for all)", style="dim")

    for name, s in stats.items():
        console.rule(f"[bold]{name}[/] ({s['format']})")
        table("splits", s["splits"], ["split", "images", "instances", "frames", "keypoints"])
        table("instances per image", s["instances_per_image"])
        table(
            "joints: labelled and visible rates",
            s["joints"],
            ["split", "category", "joint", "name", "labelled_rate", "visible_rate", "rows"],
            limit=60,
        )
        table("size classes (COCO area ranges)", s["size_classes"])
        table("labelled joints outside their image", s["keypoints_outside_image"])
        table("labels", s["labels"], limit=20)
        table("categories", s["categories"])
        table(
            "per-joint error of the matched predictions (posestore eval; Ronchi & Perona classes)",
            s.get("joint_errors", []),
            limit=60,
        )
    if len(stats) > 1:  # several datasets: one row per canonical joint, a column per dataset
        rows: dict = {}
        for name, s in stats.items():
            for r in s.get("canonical_joints", []):
                rows.setdefault(r["canonical"], {"canonical": r["canonical"]})[name] = r[
                    "labelled_rate"
                ]
        if rows:
            table(
                "labelled rate per canonical joint, dataset by dataset",
                [rows[k] for k in sorted(rows)],
                ["canonical", *stats],
                limit=140,
            )


def _fmt(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def html_report(stats: dict, store) -> str:
    """A self-contained HTML page: the tables, and per dataset a per-joint visibility chart,
    a joint-position heatmap and an instances-per-image histogram (matplotlib, inline PNG)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise StoreError("--html draws plots with matplotlib: pip install 'posestore[html]'") from e
    parts = [
        "<!doctype html><meta charset='utf-8'><title>posestore stats</title>",
        "<style>body{font:14px system-ui;margin:2em}table{border-collapse:collapse;margin:1em 0}"
        "td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}img{max-width:900px}</style>",
        "<h1>posestore statistics</h1>",
    ]
    for name, s in stats.items():
        parts.append(f"<h2>{html.escape(name)} <small>({html.escape(s['format'])})</small></h2>")
        parts.append(_html_table(s["splits"]))
        joints = _over_splits(s["joints"])
        if joints:
            fig, ax = plt.subplots(figsize=(max(6, len(joints) * 0.28), 3.6))
            labels = [f"{j['category'] or ''}:{j['name'] or j['joint']}" for j in joints]
            xs = range(len(joints))
            ax.bar(xs, [j["visible_rate"] for j in joints], label="visible (v=2)")
            ax.bar(
                xs,
                [j["labelled_rate"] - j["visible_rate"] for j in joints],
                bottom=[j["visible_rate"] for j in joints],
                label="occluded (v=1)",
            )
            ax.set_xticks(list(xs), labels, rotation=90, fontsize=7)
            ax.set_ylim(0, 1)
            ax.set_ylabel("share of joint rows")
            ax.set_title(f"{name}: per-joint visibility")
            ax.legend(fontsize=8)
            parts.append(_png(fig, plt))
            heat = _heatmap(store, name)
            if heat is not None:
                fig, ax = plt.subplots(figsize=(4.5, 4))
                im = ax.imshow(heat, extent=(0, 1, 1, 0), cmap="magma", interpolation="nearest")
                ax.set_xlabel("x / image width")
                ax.set_ylabel("y / image height")
                ax.set_title(f"{name}: where labelled joints are")
                fig.colorbar(im, ax=ax, label="joints")
                parts.append(_png(fig, plt))
        per_image = _sum_by(s["instances_per_image"], "instances", "images")
        if per_image:
            fig, ax = plt.subplots(figsize=(6, 3))
            ax.bar([r["instances"] for r in per_image], [r["images"] for r in per_image])
            ax.set_xlabel("instances in the image (or clip)")
            ax.set_ylabel("images")
            ax.set_title(f"{name}: instances per image")
            parts.append(_png(fig, plt))
        errors = s.get("joint_errors", [])
        if errors:
            fig, ax = plt.subplots(figsize=(max(6, len(errors) * 0.28), 3.6))
            xs = range(len(errors))
            bottom = [0] * len(errors)
            for kind in ("good", "jitter", "inversion", "swap", "miss"):
                share = [r[kind] / r["joints"] for r in errors]
                ax.bar(xs, share, bottom=bottom, label=kind)
                bottom = [b + v for b, v in zip(bottom, share)]
            ax.set_xticks(
                list(xs), [r["name"] or str(r["joint"]) for r in errors], rotation=90, fontsize=7
            )
            ax.set_ylabel("share of matched joints")
            ax.set_title(f"{name}: per-joint error classes (Ronchi & Perona)")
            ax.legend(fontsize=8)
            parts.append(_png(fig, plt))
            parts.append("<h3>per-joint error</h3>" + _html_table(errors))
        parts.append("<h3>joints</h3>" + _html_table(joints))
        parts.append("<h3>categories</h3>" + _html_table(s["categories"]))
        if s["labels"]:
            parts.append("<h3>labels</h3>" + _html_table(s["labels"]))
    return "\n".join(parts)


def _over_splits(joints: list[dict]) -> list[dict]:
    """Per-joint rates over all splits (for the chart)."""
    merged: dict = {}
    for j in joints:
        m = merged.setdefault(
            (j["category"], j["joint"]),
            {**j, "split": "all splits", "rows": 0, "labelled": 0, "visible": 0},
        )
        for k in ("rows", "labelled", "visible"):
            m[k] += j[k]
    for m in merged.values():
        m["labelled_rate"] = m["labelled"] / m["rows"] if m["rows"] else 0
        m["visible_rate"] = m["visible"] / m["rows"] if m["rows"] else 0
    return [merged[k] for k in sorted(merged, key=lambda k: (str(k[0]), k[1]))]


def _sum_by(rows: list[dict], key: str, value: str) -> list[dict]:
    total: dict = {}
    for r in rows:
        total[r[key]] = total.get(r[key], 0) + r[value]
    return [{key: k, value: total[k]} for k in sorted(total)]


def _heatmap(store, dataset: str):
    import numpy as np

    rows = store.sql(
        f"""SELECT least(floor(k.x / i.width * {HEATMAP_BINS}), {HEATMAP_BINS - 1})::INT AS bx,
                   least(floor(k.y / i.height * {HEATMAP_BINS}), {HEATMAP_BINS - 1})::INT AS by,
                   count(*) AS n
            FROM joints k JOIN images i USING (dataset, split, image_id)
            WHERE k.dataset = $1 AND k.visibility > 0 AND i.width > 0 AND i.height > 0
              AND k.x >= 0 AND k.y >= 0 AND k.x < i.width AND k.y < i.height
            GROUP BY ALL""",
        params=[dataset],
    ).fetchall()
    if not rows:
        return None
    grid = np.zeros((HEATMAP_BINS, HEATMAP_BINS))
    for bx, by, n in rows:
        grid[by, bx] = n
    return grid


def _png(fig, plt) -> str:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return f"<img src='data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}'>"


def _html_table(rows: list[dict]) -> str:
    if not rows:
        return "<p>none</p>"
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in rows[0])
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_fmt(v))}</td>" for v in r.values()) + "</tr>"
        for r in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"
