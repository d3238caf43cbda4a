-- The compliance view (issue 6): what biometric data is held, by project,
-- category and age; what is overdue for erasure; erasure requests and how
-- long they took; and distinct persons with biometric data per operator
-- against the regulatory filing threshold.  No biometric column.

CREATE OR REPLACE VIEW compliance AS
WITH held AS (
	SELECT c.project_id, c.person_id, c.captured_at, c.expires_at, c.photo_expires_at,
	       c.face IS NOT NULL AS has_face, c.photo IS NOT NULL AS has_photo, false AS gallery
	FROM capture c WHERE c.face IS NOT NULL OR c.photo IS NOT NULL
	UNION ALL
	SELECT f.project_id, f.person_id, f.captured_at, f.expires_at, NULL, true, false, true
	FROM face f
), bio AS (
	SELECT h.project_id, coalesce(p.category, 'unmatched') AS category,
	       CASE WHEN now() - h.captured_at < interval '1 day' THEN '1: under 1 day'
	            WHEN now() - h.captured_at < interval '7 days' THEN '2: 1 to 7 days'
	            WHEN now() - h.captured_at < interval '30 days' THEN '3: 7 to 30 days'
	            WHEN now() - h.captured_at < interval '90 days' THEN '4: 30 to 90 days'
	            WHEN now() - h.captured_at < interval '180 days' THEN '5: 90 to 180 days'
	            ELSE '6: over 180 days' END AS age,
	       count(*) FILTER (WHERE h.has_face AND NOT h.gallery) AS embeddings,
	       count(*) FILTER (WHERE h.has_photo) AS photos,
	       count(*) FILTER (WHERE h.gallery) AS gallery_faces,
	       count(*) FILTER (WHERE h.expires_at <= now() OR h.photo_expires_at <= now()
	                        OR (h.expires_at IS NULL AND h.has_face) OR (h.photo_expires_at IS NULL AND h.has_photo)) AS overdue,
	       count(DISTINCT h.person_id) AS persons
	FROM held h LEFT JOIN person p ON p.project_id = h.project_id AND p.person_id = h.person_id
	GROUP BY 1, 2, 3
), operators AS (
	SELECT coalesce(pr.group_name, pr.name) AS operator, count(DISTINCT (h.project_id, h.person_id)) AS persons,
	       min(project_setting_value(pr.project_id, 'filing_threshold')::bigint) AS threshold
	FROM held h JOIN project pr ON pr.project_id = h.project_id
	GROUP BY 1
), erasures AS (
	SELECT e.project_id, count(*) AS requests,
	       count(*) FILTER (WHERE e.kind = 'consent_withdrawn') AS withdrawals,
	       max(e.completed_at - e.requested_at) AS longest,
	       avg(e.completed_at - e.requested_at) AS average
	FROM erasure_log e GROUP BY 1
)
SELECT 'biometric data'::text AS section, b.project_id, coalesce(pr.group_name, pr.name) AS operator, b.category, b.age,
       b.embeddings, b.photos, b.gallery_faces, b.overdue, b.persons,
       NULL::bigint AS erasure_requests, NULL::interval AS longest_erasure, NULL::interval AS average_erasure,
       NULL::text AS warning
FROM bio b JOIN project pr ON pr.project_id = b.project_id
UNION ALL
SELECT 'erasure requests', e.project_id, coalesce(pr.group_name, pr.name), NULL, NULL,
       NULL, NULL, NULL, NULL, NULL, e.requests, e.longest, e.average,
       CASE WHEN e.longest > interval '1 hour' THEN 'an erasure took over an hour' END
FROM erasures e JOIN project pr ON pr.project_id = e.project_id
UNION ALL
SELECT 'operator persons', NULL, o.operator, NULL, NULL,
       NULL, NULL, NULL, NULL, o.persons, NULL, NULL, NULL,
       CASE WHEN o.persons >= o.threshold
            THEN format('%s persons with biometric data: at or over the filing threshold of %s; file with the regulator', o.persons, o.threshold)
            WHEN o.persons >= o.threshold * 0.9
            THEN format('%s persons with biometric data: within 10%% of the filing threshold of %s', o.persons, o.threshold) END
FROM operators o
UNION ALL
SELECT 'attribution hold', pr.project_id, coalesce(pr.group_name, pr.name), NULL, NULL,
       NULL, NULL, h.held, NULL, h.persons, NULL, NULL, NULL,
       coalesce(retention_window_warning(pr.project_id),
                format('%s gallery exemplar%s kept past retention while an ownership or protection window is open (purpose: attribution)',
                       h.held, CASE WHEN h.held = 1 THEN '' ELSE 's' END))
FROM project pr
LEFT JOIN LATERAL (SELECT count(*) AS held, count(DISTINCT f.person_id) AS persons FROM face f
                   WHERE f.project_id = pr.project_id AND f.held_until > now()) h ON true
WHERE h.held > 0 OR retention_window_warning(pr.project_id) IS NOT NULL;
COMMENT ON VIEW compliance IS 'biometric rows by project, category and age with overdue expirations; erasure requests and their duration; persons with biometric data per operator against the filing threshold; gallery exemplars held for attribution windows and retention settings that erase faces those windows need';
