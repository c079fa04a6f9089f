"""What is wrong or suspicious in a dataset: checks declared as SQL, counted and sampled by DuckDB.

An *error* is data that contradicts itself (a reference to nothing, a duplicate id, a
bone to a joint that does not exist); a *warning* is data that is legal but suspicious
(joints outside the image, ``num_keypoints`` that disagrees with the joints).
"""

from __future__ import annotations

from dataclasses import dataclass

EXAMPLES = 5


@dataclass(frozen=True)
class Check:
    name: str
    severity: str  # error | warning
    what: str
    sql: str  # rows of the offending records for dataset $1


CHECKS = (
    Check(
        "duplicate_image_id",
        "error",
        "images that share an id",
        "SELECT split, image_id, count(*) AS copies FROM images WHERE dataset = $1 GROUP BY ALL HAVING count(*) > 1",
    ),
    Check(
        "duplicate_instance_id",
        "error",
        "instances that share an id",
        "SELECT split, instance_id, count(*) AS copies FROM instances WHERE dataset = $1 GROUP BY ALL HAVING count(*) > 1",
    ),
    Check(
        "instance_without_image",
        "error",
        "instances whose image_id names no image",
        """SELECT n.split, n.instance_id, n.image_id FROM instances n
           ANTI JOIN images i ON i.dataset = n.dataset AND i.split = n.split AND i.image_id = n.image_id
           WHERE n.dataset = $1""",
    ),
    Check(
        "unknown_category",
        "error",
        "instances whose category_id names no category",
        """SELECT n.split, n.instance_id, n.category_id FROM instances n
           ANTI JOIN categories c ON c.dataset = n.dataset AND c.category_id = n.category_id AND c.kind = 'object'
           WHERE n.dataset = $1""",
    ),
    Check(
        "skeleton_beyond_joints",
        "error",
        "skeleton bones that name a joint the category does not have",
        """WITH bones AS (
               SELECT category_id, name, len(keypoints) AS joints, unnest(skeleton) AS bone,
                      list_min(flatten(skeleton)) AS lowest
               FROM categories WHERE dataset = $1 AND len(keypoints) > 0 AND len(skeleton) > 0)
           SELECT category_id, name, joints, bone,
                  CASE WHEN lowest = 0 THEN '0-based' ELSE '1-based' END AS numbering
           FROM bones
           WHERE list_max(bone) >= joints + CASE WHEN lowest = 0 THEN 0 ELSE 1 END OR list_min(bone) < 0""",
    ),
    Check(
        "joint_count_differs_from_names",
        "warning",
        "instances carrying another number of joints than their category names",
        """SELECT n.split, n.instance_id, n.category_id, n.num_joints, len(c.keypoints) AS names
           FROM instances n JOIN categories c
             ON c.dataset = n.dataset AND c.category_id = n.category_id AND c.kind = 'object'
           WHERE n.dataset = $1 AND len(c.keypoints) > 0 AND n.num_joints > 0
             AND n.num_joints <> len(c.keypoints)""",
    ),
    Check(
        "joint_outside_image",
        "warning",
        "labelled joints outside their image",
        """SELECT k.split, k.image_id, k.instance_id, k.frame, k.joint, k.x, k.y, i.width, i.height
           FROM joints k JOIN images i USING (dataset, split, image_id)
           WHERE k.dataset = $1 AND k.visibility > 0
             AND (k.x < 0 OR k.y < 0 OR k.x >= i.width OR k.y >= i.height)""",
    ),
    Check(
        "num_keypoints_disagrees",
        "warning",
        "instances whose num_keypoints is not the count of labelled joints",
        """SELECT n.split, n.instance_id, n.num_keypoints, coalesce(j.labelled, 0) AS labelled
           FROM instances n LEFT JOIN (
               SELECT dataset, split, instance_id, labelled
               FROM instance_joints WHERE dataset = $1 AND frame = 0) j
             USING (dataset, split, instance_id)
           WHERE n.dataset = $1 AND n.num_keypoints IS NOT NULL AND n.num_keypoints <> coalesce(j.labelled, 0)""",
    ),
    Check(
        "no_annotations",
        "warning",
        "splits with images but no annotations (CVAT's COCO exporter drops point labels that "
        "are not skeletons)",
        """SELECT i.split, count(*) AS images FROM images i
           WHERE i.dataset = $1 AND NOT EXISTS (
               SELECT 1 FROM instances n WHERE n.dataset = $1 AND n.split = i.split)
           GROUP BY 1""",
    ),
    Check(
        "joint_outside_box",
        "warning",
        "labelled joints outside their instance's box (by more than a pixel)",
        """SELECT k.split, k.image_id, k.instance_id, k.joint, k.joint_name, k.x, k.y,
                  n.bbox_x, n.bbox_y, n.bbox_w, n.bbox_h
           FROM joints k JOIN instances n USING (dataset, split, instance_id)
           WHERE k.dataset = $1 AND k.visibility > 0 AND k.frame = 0 AND n.bbox_w > 0
             AND (k.x < n.bbox_x - 1 OR k.y < n.bbox_y - 1
               OR k.x > n.bbox_x + n.bbox_w + 1 OR k.y > n.bbox_y + n.bbox_h + 1)""",
    ),
    Check(
        "unknown_skeleton",
        "warning",
        "categories with joints whose skeleton the registry does not know (joint meaning, "
        "sigmas and mirror joints unknown; set one with posestore skeleton DATASET --set NAME)",
        """SELECT c.category_id, c.name, len(c.keypoints) AS names, c.keypoints[1:4] AS first_names
           FROM categories c
           WHERE c.dataset = $1 AND c.kind = 'object' AND c.registry IS NULL
             AND c.category_id IN (SELECT category_id FROM instances
                                   WHERE dataset = $1 AND num_joints > 0)""",
    ),
    Check(
        "box_outside_image",
        "warning",
        "boxes reaching outside their image (by more than a pixel)",
        """SELECT n.split, n.instance_id, n.bbox_x, n.bbox_y, n.bbox_w, n.bbox_h, i.width, i.height
           FROM instances n JOIN images i USING (dataset, split, image_id)
           WHERE n.dataset = $1 AND (n.bbox_x < -1 OR n.bbox_y < -1
              OR n.bbox_x + n.bbox_w > i.width + 1 OR n.bbox_y + n.bbox_h > i.height + 1)""",
    ),
    Check(
        "empty_box",
        "warning",
        "boxes with no width or height",
        "SELECT split, instance_id, bbox_w, bbox_h FROM instances WHERE dataset = $1 AND (bbox_w <= 0 OR bbox_h <= 0)",
    ),
    Check(
        "empty_segmentation",
        "warning",
        "polygon segmentations that are empty or degenerate (< 3 points)",
        """SELECT split, instance_id, len(polygons) AS rings,
                  list_min([len(p) FOR p IN polygons]) AS shortest
           FROM instances WHERE dataset = $1 AND segmentation_type = 'polygons'
             AND (len(polygons) = 0 OR list_min([len(p) FOR p IN polygons]) < 6)""",
    ),
    Check(
        "frames_disagree_with_total_frames",
        "warning",
        "clips whose arrays have another length than total_frames",
        """SELECT i.split, i.image_id, i.file_name, i.num_frames AS total_frames, f.frames
           FROM images i JOIN (SELECT dataset, split, image_id, count(*) AS frames FROM frames
                               WHERE dataset = $1 GROUP BY ALL) f USING (dataset, split, image_id)
           WHERE i.dataset = $1 AND i.num_frames IS NOT NULL AND i.num_frames <> f.frames""",
    ),
    Check(
        "skeleton_frame_beyond_clip",
        "warning",
        "per-frame skeletons whose frame is outside the clip",
        """SELECT n.split, n.image_id, n.instance_id, n.frame, i.num_frames
           FROM instances n JOIN images i USING (dataset, split, image_id)
           WHERE n.dataset = $1 AND n.frame IS NOT NULL AND (n.frame < 0 OR n.frame >= i.num_frames)""",
    ),
)


def validate_dataset(store, dataset: str) -> list[dict]:
    """Every check: its count and first examples (only checks that found something)."""
    store.dataset_info(dataset)
    found = []
    swaps = _swap_finding(store, dataset)
    if swaps is not None:
        found.append(swaps)
    for check in CHECKS:
        rel = store.sql(check.sql, params=[dataset])
        count = store.sql(f"SELECT count(*) FROM ({check.sql})", params=[dataset]).fetchall()[0][0]
        if not count:
            continue
        rows = rel.limit(EXAMPLES).fetchall()
        found.append(
            {
                "check": check.name,
                "severity": check.severity,
                "what": check.what,
                "count": count,
                "examples": [dict(zip(rel.columns, r)) for r in rows],
            }
        )
    return found


def _swap_finding(store, dataset: str) -> dict | None:
    """Persons whose left and right joints look mirrored against their own pose
    (``posestore.queries.swaps``; measured in ``benchmarks/swaps.py``), per category whose
    joints' meaning is known."""
    import numpy as np
    from posestore.queries.subset import arrow_table
    from posestore.queries.swaps import suspected_swaps

    from posestore import poses

    categories = store.sql(
        "SELECT category_id, canonical, flip FROM categories WHERE dataset = $1 "
        "AND kind = 'object' AND canonical IS NOT NULL",
        params=[dataset],
    ).fetchall()
    count, examples = 0, []
    for category, canonical, flip in categories:
        rel = store.sql(
            "SELECT split, image_id, instance_id, frame, x, y, visibility FROM keypoints "
            "WHERE dataset = $1 AND category_id = $2 AND len(x) = $3",
            params=[dataset, category, len(canonical)],
        )
        rows = arrow_table(rel)
        if not len(rows):
            continue
        n, v = len(rows), len(canonical)
        lengths = np.full(n, v)
        x, y, vis = (
            poses.joint_values(rows[c], lengths).to_numpy(zero_copy_only=False).reshape(n, v)
            for c in ("x", "y", "visibility")
        )
        found = suspected_swaps(x, y, np.nan_to_num(vis), canonical, flip)
        hits = np.flatnonzero(found.suspected)
        count += len(hits)
        for k in hits[np.argsort(-found.score[hits], kind="stable")][:EXAMPLES].tolist():
            examples.append(
                {
                    "split": rows["split"][k].as_py(),
                    "image_id": rows["image_id"][k].as_py(),
                    "instance_id": rows["instance_id"][k].as_py(),
                    "frame": rows["frame"][k].as_py(),
                    "reason": found.reason[k],
                    "score": round(float(found.score[k]), 2),
                }
            )
    if not count:
        return None
    return {
        "check": "suspected_left_right_swap",
        "severity": "warning",
        "what": "persons whose left and right joints look mirrored against their own pose",
        "count": count,
        "examples": sorted(examples, key=lambda e: -e["score"])[:EXAMPLES],
    }
