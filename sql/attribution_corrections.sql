-- Attribution in a dispute: corrections keep data.  split_person moves
-- captures to a new person whose visits keep their reception (consultant,
-- agent); a manager's split records "not the same person", so merge_persons
-- never joins them again; merges and splits decide the affected deals again.
\set pname 'Corrections'
\i sql/attribution_setup.psql
CREATE FUNCTION pg_temp.cam(at text, OUT person bigint, OUT visit bigint, OUT capture bigint) LANGUAGE sql AS $$
	SELECT c.person_id, c.visit_id, c.capture_id FROM firstsight.capture c
	WHERE c.project_id = (SELECT max(project_id) FROM firstsight.project) AND c.captured_at = (at || '+08')::timestamptz $$;

-- A came alone on 03-01; B, whose face the camera took for A's (cosine 0.04),
-- came with Lianjia's agent on 03-05 under a report
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
VALUES (:p, 'gate', '2024-03-01 10:00+08', '[1,0,0,0]', 0.9, false),
       (:p, 'gate', '2024-03-05 10:00+08', '[1,0.3,0,0]', 0.9, false),
       (:p, 'sand', '2024-03-05 10:20+08', '[1,0.3,0,0.01]', 0.8, false);
SELECT person AS a, visit AS a_visit FROM pg_temp.cam('2024-03-01 10:00') \gset
SELECT person = :a AS one_person, visit AS b_visit, capture AS b_capture FROM pg_temp.cam('2024-03-05 10:00') \gset
SELECT capture AS b_capture2 FROM pg_temp.cam('2024-03-05 10:20') \gset
SELECT :'one_person' AS camera_took_b_for_a;
SELECT receive(:p, :a_visit, 1);
SELECT receive(:p, :b_visit, 2, 21);
-- A's deal, entered as natural, is decided from both visits
SELECT pg_temp.deal(1, :a, '2024-03-10 15:00', NULL, NULL, 1);
SELECT * FROM pg_temp.decision(1);

-- the manager splits B's captures off
SELECT split_person(:p, :a, ARRAY[:b_capture, :b_capture2]::bigint[]) AS b \gset
-- B's visit kept its reception: received by consultant 2, brought by agent 21
SELECT v.person_id = :b AS b_visit, v.started_at = '2024-03-05 10:00+08' AS started, v.captures, v.consultant_id, v.agent_id,
       v.first_camera_id, v.received_at IS NOT NULL AS received
FROM visit v WHERE v.project_id = :p AND v.person_id IN (:a, :b) ORDER BY v.started_at;
-- and the split is recorded as "not the same person"
SELECT person_id = least(:a, :b) AND other_person_id = greatest(:a, :b) AS recorded, recorded_by = session_user AS by_me
FROM person_distinct WHERE project_id = :p;
-- A's deal was decided again: its evidence no longer holds B's visit
SELECT version, reason ~ 'split' AS by_split, jsonb_array_length(evidence->'visits') AS visits
FROM attribution WHERE project_id = :p AND deal_id = 1 ORDER BY version;
-- B binds a phone and buys through Lianjia, who reported B before the visit: Lianjia's, thanks to the kept reception
SELECT bind_identity(:p, :b_capture, NULL, '13800000901') = :b AS bound;
SELECT pg_temp.report(21, '13800000901', '2024-03-04 09:00');
SELECT pg_temp.deal(2, :b, '2024-03-12 15:00', 11, 21, 2);
SELECT * FROM pg_temp.decision(2);

-- automatic merging never undoes the manager's split, though the faces are close
SELECT * FROM merge_persons(:p);
SELECT count(*) FILTER (WHERE merged_into IS NULL) AS persons FROM person WHERE project_id = :p;
-- nor does an ID card bound to both (and the decision does not link them either)
SELECT bind_identity(:p, c.capture_id, '11010519491231002X', NULL) = :a AS bound_to_a FROM capture c
WHERE c.project_id = :p AND c.captured_at = '2024-03-01 10:00+08';
SELECT bind_identity(:p, :b_capture, '11010519491231002X', NULL) = :b AS bound_to_b;
SELECT count(*) FILTER (WHERE merged_into IS NULL) AS persons FROM person WHERE project_id = :p;

-- a merge by hand (the manager's decision) joins them and decides both deals again
SELECT merge_person(:p, :a, :b) = :a AS kept_a;
SELECT deal_id, version, reason ~ 'merged' AS by_merge, channel_label(:p, entitled_channel_id) AS channel, flags
FROM attribution WHERE project_id = :p AND is_current ORDER BY deal_id;
-- the history names the corrections
SELECT subject, action, new ? 'split_from' OR new ? 'merged' AS described, changed_by = session_user AS by_me
FROM change_log WHERE project_id = :p AND subject = 'person' ORDER BY change_id;
