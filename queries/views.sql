-- Convenience views over the tables, created on every store connection.
-- Each is documented in README ("Views"); plain SQL, so copy them anywhere.

-- joints: the per-joint form of keypoints (one row per joint of a pose), with the joint's
-- name, canonical name and part from its category. Each pose row meets its category once,
-- then is unnested by joint index alone, and every value is read by index: a query that
-- needs visibility only reads the visibility lists (unnesting all five lists side by side,
-- or joining categories per joint, made the per-joint questions 3-5x slower).
CREATE OR REPLACE VIEW joints AS
SELECT k.dataset, k.split, k.image_id, k.instance_id, k.frame, k.category_id, k.joint,
       k.x[k.joint + 1] AS x, k.y[k.joint + 1] AS y, k.z[k.joint + 1] AS z,
       k.visibility[k.joint + 1] AS visibility, k.score[k.joint + 1] AS score,
       k._names[k.joint + 1] AS joint_name, k.category,
       k._canonical[k.joint + 1] AS canonical, k._part[k.joint + 1] AS part
FROM (
  SELECT p.*, c.keypoints AS _names, c.name AS category, c.canonical AS _canonical,
         c.part AS _part, unnest(range(len(p.visibility)))::SMALLINT AS joint
  FROM keypoints p
  LEFT JOIN categories c
    ON c.dataset = p.dataset AND c.category_id = p.category_id AND c.kind = 'object'
) k;

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
