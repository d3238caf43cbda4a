-- The privacy officer's data-subject requests (issue 16): find a person by
-- phone or ID card (hashed on the way in, nothing raw stored or logged),
-- export everything held about them (PIPL art. 45) without anyone else's
-- data, erase them; every step audited.
SET search_path = firstsight, public;
\set SHOW_CONTEXT never
\set VERBOSITY terse
SET TimeZone = 'Asia/Shanghai';

SELECT setup_roles();
CREATE ROLE regress_fs_po IN ROLE firstsight_privacy_officer;
CREATE ROLE regress_fs_po_mgr;
CREATE ROLE regress_fs_po_analyst IN ROLE firstsight_analyst;
SELECT create_project('Subject A', 'Asia/Shanghai', 4) AS a \gset
SELECT create_project('Subject B', 'Asia/Shanghai', 4) AS b \gset
SELECT grant_project('regress_fs_po_mgr', :a);
INSERT INTO camera VALUES (:a, 'gate', 'entrance'), (:a, 'sand', 'sand_table'), (:b, 'gate', 'entrance');
INSERT INTO channel (project_id, kind, name, commission_rate) VALUES (:a, 'agency', 'Subject agency', 0.02) RETURNING channel_id AS ch \gset
INSERT INTO agent (project_id, channel_id, name) VALUES (:a, :ch, 'Subject agent') RETURNING agent_id AS ag \gset
-- the subject and her husband come in together (a party); she comes back
-- alone; the husband is seen again; a stranger at project B
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked, photo) VALUES
	(:a, 'gate', '2024-08-01 10:00:00', '[0.1,0.2,0.3,0.9]', 0.9, false, '\xcafe01'),
	(:a, 'gate', '2024-08-01 10:00:03', '[0.9,0.1,0.2,0.3]', 0.9, false, '\xbeef02'),
	(:a, 'sand', '2024-08-01 10:10:00', '[0.1,0.2,0.3,0.9]', 0.9, false, NULL);
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked) VALUES
	(:a, 'gate', '2024-08-05 11:00:00', '[0.1,0.2,0.3,0.9]', 0.8, false),
	(:a, 'gate', '2024-08-06 11:00:00', '[0.9,0.1,0.2,0.3]', 0.8, false);
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked) VALUES
	(:b, 'gate', '2024-08-01 10:00:00', '[0.3,0.9,0.1,0.2]', 0.8, false);
SELECT capture_id AS her_cap, person_id AS her FROM capture WHERE project_id = :a AND captured_at = '2024-08-01 10:00:00' \gset
SELECT capture_id AS his_cap, person_id AS him, visit_id AS his_visit FROM capture WHERE project_id = :a AND captured_at = '2024-08-01 10:00:03' \gset
SELECT capture_id AS b_cap FROM capture WHERE project_id = :b \gset
SELECT bind_identity(:a, :her_cap, '440300199003071234', '135 6116 0016') = :her AS bound;
SELECT bind_identity(:a, :his_cap, NULL, '13561160017') = :him AS bound;
SELECT bind_identity(:b, :b_cap, NULL, '13561160018') IS NOT NULL AS bound;
SELECT file_report(:a, :ag, '13561160016', '2024-07-30 09:00+08') IS NOT NULL AS reported;
SELECT record_consent(:a, :her, true, 'kiosk', 'face,photo', 'form 17') IS NOT NULL AS consented;
-- the husband buys, naming her as co-buyer
INSERT INTO deal (project_id, person_id, co_buyer_ids, signed_at, price, channel_id, agent_id)
VALUES (:a, :him, ARRAY[:her]::bigint[], '2024-08-10 15:00+08', 3000000, :ch, :ag);

-- find: by phone (any spelling), by ID card, by both; nobody for a stranger's number
SET SESSION AUTHORIZATION regress_fs_po;
SELECT project, person_id = :her AS her, matched_by, category FROM find_subject('+86 135-6116-0016', NULL, 'request 2024-051');
SELECT project, person_id = :her AS her, matched_by FROM find_subject(NULL, '440300199003071234', 'request 2024-051');
SELECT project, person_id = :her AS her, matched_by FROM find_subject('13561160016', '440300199003071234', 'request 2024-051');
SELECT count(*) AS found FROM find_subject('13561160019', NULL, 'request 2024-052');
SELECT count(*) FROM find_subject('13561160016', NULL, NULL);
SELECT count(*) FROM find_subject('not a phone', NULL, 'request 2024-053');
SELECT count(*) FROM find_subject(NULL, NULL, 'request 2024-053');
RESET SESSION AUTHORIZATION;
-- the log: who looked up whom and why, never the number nor its hash
SELECT action, looked_up_by, person_id = :her AS her, persons_found, purpose, requested_by
FROM subject_request_log ORDER BY request_id;
SELECT count(*) AS raw_or_hash_in_log FROM subject_request_log l
WHERE to_jsonb(l)::text ~ '13561160016|6116|4403001990|\\x';

-- export: everything held about her, as JSON
SET SESSION AUTHORIZATION regress_fs_po;
SELECT export_subject(:a, :her, 'request 2024-051') AS doc \gset
RESET SESSION AUTHORIZATION;
SELECT jsonb_object_keys(:'doc'::jsonb) AS section ORDER BY 1;
SELECT (:'doc'::jsonb)->'person'->>'person_id' = :'her' AS her,
       (:'doc'::jsonb)->'person'->>'category' AS category,
       jsonb_array_length((:'doc'::jsonb)->'visits') AS visits,
       jsonb_array_length((:'doc'::jsonb)->'captures') AS captures,
       jsonb_array_length((:'doc'::jsonb)->'gallery') > 0 AS gallery,
       jsonb_array_length((:'doc'::jsonb)->'reports') AS reports,
       (:'doc'::jsonb)->'deals'->0->>'role' AS deal_role,
       (:'doc'::jsonb)->'identity_bindings'->0->'kinds' AS bound_kinds,
       (:'doc'::jsonb)->'consents'->0->>'scope' AS consent_scope;
-- her own embedding and photo, encoded
SELECT c->'embedding' AS embedding, c->>'photo_base64' AS photo, c->>'zone' AS zone
FROM jsonb_array_elements((:'doc'::jsonb)->'captures') c ORDER BY c->>'captured_at';
SELECT v->'route' AS route, v->>'came_in_party' AS came_in_party FROM jsonb_array_elements((:'doc'::jsonb)->'visits') v
ORDER BY v->>'started_at';
-- nobody else's data: no capture, visit, person id, embedding or photo of the husband
SELECT count(*) AS others_captures FROM jsonb_array_elements((:'doc'::jsonb)->'captures') c
WHERE (c->>'capture_id')::bigint IN (SELECT capture_id FROM capture WHERE person_id IS DISTINCT FROM :her OR project_id <> :a);
SELECT count(*) AS others_visits FROM jsonb_array_elements((:'doc'::jsonb)->'visits') v
WHERE (v->>'visit_id')::bigint IN (SELECT visit_id FROM visit WHERE project_id = :a AND person_id <> :her);
SELECT position('0.9, 0.1, 0.2, 0.3' IN :'doc') AS his_embedding, position('vu8C' IN :'doc') AS his_photo,
       position('co_buyer_ids' IN :'doc') AS co_buyer_ids, position('evidence' IN :'doc') AS evidence,
       position('Subject agent' IN :'doc') AS agent_name, position('hash' IN :'doc') AS hashes;
-- every person id anywhere in it is hers
SELECT count(*) AS person_ids, count(*) FILTER (WHERE x <> to_jsonb(:her)) AS others
FROM jsonb_path_query(:'doc'::jsonb, 'strict $.**.person_id') x;
-- every embedding and photo it returned is a logged read
SELECT what, purpose, returned, count(*) FROM biometric_access_log
WHERE project_id = :a AND person_id = :her GROUP BY 1, 2, 3 ORDER BY 1, 2;
SELECT action, person_id = :her AS her, purpose FROM subject_request_log WHERE action = 'export';

-- nobody else may look up or export: a manager of the project, an analyst
SET SESSION AUTHORIZATION regress_fs_po_mgr;
SELECT count(*) FROM firstsight.find_subject('13561160016', NULL, 'curious');
SELECT firstsight.export_subject(:a, :her, 'curious') IS NOT NULL;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_fs_po_analyst;
SELECT count(*) FROM firstsight.find_subject('13561160016', NULL, 'curious');
SELECT count(*) FROM firstsight.subject_request_log;
RESET SESSION AUTHORIZATION;
-- the log is append-only
DELETE FROM subject_request_log;
UPDATE subject_request_log SET purpose = 'nothing';

-- erase: her biometric data goes, the facts stay; a new export shows it
SET SESSION AUTHORIZATION regress_fs_po;
SELECT captures_erased, photos_erased, faces_erased FROM erase_person(:a, :her, 'request 2024-051');
SELECT export_subject(:a, :her, 'request 2024-051 check') AS doc2 \gset
RESET SESSION AUTHORIZATION;
SELECT count(*) FILTER (WHERE c->'embedding' <> 'null') AS embeddings, count(*) FILTER (WHERE c->>'erased_at' IS NOT NULL) AS erased,
       jsonb_array_length((:'doc2'::jsonb)->'gallery') AS gallery, jsonb_array_length((:'doc2'::jsonb)->'erasures') AS erasures,
       jsonb_array_length((:'doc2'::jsonb)->'visits') AS visits
FROM jsonb_array_elements((:'doc2'::jsonb)->'captures') c;
DROP OWNED BY regress_fs_po, regress_fs_po_mgr, regress_fs_po_analyst;
DROP ROLE regress_fs_po, regress_fs_po_mgr, regress_fs_po_analyst;
