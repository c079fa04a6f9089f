-- Convenience views over the tables, created on every store connection.
-- Each is documented in README ("Views"); plain SQL, so copy them anywhere.

-- joints: the per-joint form of keypoints (one row per joint of a pose), with the joint's
-- name from its category. The lists of a pose row are unnested side by side.
CREATE OR REPLACE VIEW joints AS
SELECT k.dataset, k.split, k.image_id, k.instance_id, k.frame, k.category_id,
       k.joint, k.x, k.y, k.z, k.visibility, k.score,
       c.keypoints[k.joint + 1] AS joint_name, c.name AS category,
       c.canonical[k.joint + 1] AS canonical, c.part[k.joint + 1] AS part
FROM (
  SELECT dataset, split, image_id, instance_id, frame, category_id,
         unnest(range(len(x)))::SMALLINT AS joint,
         unnest(x) AS x, unnest(y) AS y, unnest(z) AS z,
         unnest(visibility) AS visibility, unnest(score) AS score
  FROM keypoints
) k
LEFT JOIN categories c
  ON c.dataset = k.dataset AND c.category_id = k.category_id AND c.kind = 'object';

-- per instance (and frame): joints carried, labelled (v > 0), visible (v = 2), occluded (v = 1)
CREATE OR REPLACE VIEW instance_joints AS
SELECT dataset, split, image_id, instance_id, frame,
       len(visibility) AS joints,
       len(list_filter(visibility, lambda v: v > 0)) AS labelled,
       len(list_filter(visibility, lambda v: v = 2)) AS visible,
       len(list_filter(visibility, lambda v: v = 1)) AS occluded
FROM keypoints;

-- COCO's size classes: area (segment area, else box area) below 32², below 96², or above
CREATE OR REPLACE VIEW instance_sizes AS
SELECT dataset, split, image_id, instance_id, category_id, iscrowd,
       coalesce(area, bbox_w * bbox_h) AS size_area,
       CASE
         WHEN coalesce(area, bbox_w * bbox_h) IS NULL THEN NULL
         WHEN coalesce(area, bbox_w * bbox_h) < 32 * 32 THEN 'small'
         WHEN coalesce(area, bbox_w * bbox_h) < 96 * 96 THEN 'medium'
         ELSE 'large'
       END AS size_class
FROM instances;

-- PoseSOR: the saliency rank (visiting_order) and class_id as typed columns
CREATE OR REPLACE VIEW posesor_ranks AS
SELECT dataset, split, image_id, instance_id, category_id,
       TRY_CAST(json_extract_string(attributes, '$.visiting_order') AS INTEGER) AS saliency_rank,
       TRY_CAST(json_extract_string(attributes, '$.class_id') AS INTEGER) AS class_id,
       bbox_x, bbox_y, bbox_w, bbox_h, area, num_keypoints
FROM instances
WHERE json_extract(attributes, '$.visiting_order') IS NOT NULL;

-- clips with their action's name (PYSKL): images with a label, joined to kind = 'action'
CREATE OR REPLACE VIEW clip_labels AS
SELECT i.dataset, i.split, i.image_id, i.file_name AS frame_dir, i.num_frames, i.label,
       c.name AS action
FROM images i
LEFT JOIN categories c ON c.dataset = i.dataset AND c.kind = 'action' AND c.category_id = i.label
WHERE i.label IS NOT NULL;
