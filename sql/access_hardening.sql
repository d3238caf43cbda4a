-- issue 14 items 7 and 9, each performed as the role that would try it:
-- a camera limited to its granted projects (INSERT and COPY), COPY working for
-- it; an analyst's cheap leaky function over flagged_deals; a manager reading
-- another project's person ids in attribution evidence; the analyst's
-- protection_expiring; a 3000-dimension project refused up front.
SET search_path = firstsight, public;
\set SHOW_CONTEXT never
-- all of it is rolled back at the end, and the sequences it advances are put
-- back, so that the tests after this one see the ids they expect
CREATE TEMP TABLE hs_seq AS
	SELECT format('%I.%I', schemaname, sequencename) AS seq, last_value FROM pg_sequences WHERE schemaname = 'firstsight';
SELECT count(setval(seq::regclass, 100000)) > 0 AS moved FROM hs_seq;
\set ON_ERROR_ROLLBACK on
BEGIN;
SELECT setup_roles();
CREATE ROLE regress_hs_cam LOGIN IN ROLE firstsight_camera;
CREATE ROLE regress_hs_analyst LOGIN IN ROLE firstsight_analyst;
CREATE ROLE regress_hs_mgr LOGIN;

-- two projects of one group; the buyer was seen at the sister project first
SELECT create_project('hardening', 'Asia/Shanghai', 4) AS p \gset
SELECT create_project('hardening sister', 'Asia/Shanghai', 4) AS sister \gset
UPDATE project SET group_name = 'hardening group' WHERE project_id IN (:p, :sister);
INSERT INTO camera VALUES (:p, 'gate', 'entrance'), (:sister, 'gate', 'entrance');
SELECT grant_camera('regress_hs_cam', :p) AS granted;
SELECT grant_project('regress_hs_mgr', :p) AS granted;
SELECT grant_analyst('regress_hs_analyst', :p) AS granted;	-- analysts read their granted projects (issue 16)

-- the camera: INSERT and COPY into its project work
SET ROLE regress_hs_cam;
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
VALUES (:p, 'gate', '2024-03-01 10:00+08', '[0,1,0,0.01]', 0.9, false);
COPY capture (project_id, camera_id, captured_at, face, quality, masked) FROM STDIN;
100001	gate	2024-03-01 11:00:00+08	[1,0,0,0]	0.9	f
100001	gate	2024-03-01 11:00:05+08	[1,0,0,0.01]	0.8	f
\.
-- ... but neither into a project not granted to it, nor a batch that mixes one in
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
VALUES (:sister, 'gate', '2024-01-05 10:00+08', '[0,1,0,0]', 0.9, false);
COPY capture (project_id, camera_id, captured_at, face, quality, masked) FROM STDIN;
100002	gate	2024-01-05 10:00:00+08	[0,1,0,0]	0.9	f
\.
COPY capture (project_id, camera_id, captured_at, face, quality, masked) FROM STDIN;
100001	gate	2024-03-01 12:00:00+08	[0,0,1,0]	0.9	f
100002	gate	2024-01-05 10:00:00+08	[0,1,0,0]	0.9	f
\.
-- and it still reads nothing back
SELECT count(*) FROM capture;
RESET ROLE;
-- (the COPY above named projects 100001 and 100002: they must be :p and :sister here)
SELECT :p = 100001 AND :sister = 100002 AS ids_as_in_copy;
SELECT project_id, count(*) AS captures, count(person_id) AS matched FROM capture
WHERE project_id IN (:p, :sister) GROUP BY 1 ORDER BY 1;
-- the sister's capture, by the owner; revoking the grant stops the camera
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
VALUES (:sister, 'gate', '2024-01-05 10:00+08', '[0,1,0,0]', 0.9, false);
SELECT revoke_camera('regress_hs_cam', :p) AS revoked;
SET ROLE regress_hs_cam;
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
VALUES (:p, 'gate', '2024-03-01 13:00+08', '[0,0,0,1]', 0.9, false);
RESET ROLE;
-- a grant to firstsight_camera is for every camera
SELECT grant_camera('firstsight_camera', :p) AS granted;
SET ROLE regress_hs_cam;
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
VALUES (:p, 'gate', '2024-03-01 13:00+08', '[0,0,0,1]', 0.9, false);
RESET ROLE;
SELECT revoke_camera('firstsight_camera', :p) AS revoked;

-- deals: one flagged (flying order: came alone, claimed by an agency), one not
INSERT INTO channel (project_id, channel_id, kind, name, commission_rate, protection_days)
VALUES (:p, 9011, 'agency', 'Lianjia', 0.03, 90);
INSERT INTO agent VALUES (:p, 9021, 9011, 'Zhao');
INSERT INTO deal (project_id, deal_id, person_id, signed_at, price, channel_id, agent_id)
SELECT :p, 9001, person_id, '2024-03-20 10:00+08', 1111111, 9011, 9021 FROM capture
WHERE project_id = :p AND captured_at = '2024-03-01 10:00+08';
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
VALUES (:p, 'gate', '2024-03-01 09:00+08', '[0,0,1,1]', 0.9, false);
INSERT INTO deal (project_id, deal_id, person_id, signed_at, price)
SELECT :p, 9002, person_id, '2024-03-21 10:00+08', 2222222 FROM capture
WHERE project_id = :p AND captured_at = '2024-03-01 09:00+08';
SELECT deal_id, flags FROM attribution WHERE project_id = :p ORDER BY deal_id;

-- the analyst's attack: a leaky function cheaper than the view's own filter
SET ROLE regress_hs_analyst;
-- (it prints only this test's two prices, so that other deals do not make the output vary)
CREATE FUNCTION pg_temp.leak(price numeric) RETURNS boolean
	LANGUAGE plpgsql COST 0.0000001 AS $$
BEGIN
	IF price IN (1111111, 2222222) THEN
		RAISE NOTICE 'leaked price %', price;
	END IF;
	RETURN true;
END $$;
SELECT deal_id, price FROM firstsight.flagged_deals WHERE pg_temp.leak(price) AND price IN (1111111, 2222222);
-- every analyst view reads (protection_expiring needed channel before)
SELECT count(*) >= 0 AS reads FROM firstsight.protection_expiring;
SELECT count(*) >= 0 AS reads FROM firstsight.daily_traffic;
SELECT count(*) >= 0 AS reads FROM firstsight.channel_share;
SELECT count(*) >= 0 AS reads FROM firstsight.conversion_funnel;
SELECT count(*) >= 0 AS reads FROM firstsight.commission_ledger;
SELECT count(*) >= 0 AS reads FROM firstsight.consultant_board;
SELECT count(*) >= 0 AS reads FROM firstsight.project_settings;
RESET ROLE;
SELECT c.relname, c.reloptions FROM pg_class c
WHERE c.relnamespace = 'firstsight'::regnamespace AND c.relkind = 'v'
  AND has_table_privilege('firstsight_analyst', c.oid, 'SELECT') ORDER BY 1;

-- the manager of :p and the buyer seen first at the sister project
SELECT e->>'by' AS seen_by, (e->>'project_id')::bigint = :sister AS at_sister, e->'person_id' IS NOT NULL AS stored_person
FROM attribution a, jsonb_array_elements(a.evidence->'seen_elsewhere') e WHERE a.project_id = :p AND a.deal_id = 9001;
SET ROLE regress_hs_mgr;
SELECT evidence->'seen_elsewhere' FROM firstsight.attribution WHERE project_id = :p;
SELECT deal_id, flags FROM firstsight.attribution WHERE project_id = :p ORDER BY deal_id;
SELECT e->>'by' AS seen_by, (e->>'project_id')::bigint = :sister AS at_sister, e->'person_id' AS person_id, e->'redacted' AS redacted
FROM firstsight.attribution_evidence a, jsonb_array_elements(a.evidence->'seen_elsewhere') e WHERE a.deal_id = 9001;
SELECT count(*) AS other_projects_evidence FROM firstsight.attribution_evidence WHERE project_id <> :p;
-- captures: their project's, without biometric columns
SELECT project_id = :p AS own, count(*) FROM firstsight.capture_log GROUP BY 1;
SELECT count(*) FROM firstsight.capture;
SELECT face FROM firstsight.capture_log;
RESET ROLE;
-- the owner reads the evidence in full
SELECT e->'person_id' IS NOT NULL AND e->'redacted' IS NULL AS full_evidence
FROM firstsight.attribution_evidence a, jsonb_array_elements(a.evidence->'seen_elsewhere') e WHERE a.project_id = :p;

-- a project the gallery index cannot serve is refused before anything is made
SELECT count(*) AS projects_before FROM project \gset
SELECT create_project('too wide', dims => 3000);
SELECT count(*) = :projects_before AS nothing_made FROM project;
SELECT create_project('just too wide', dims => 1938);
SELECT count(*) = :projects_before AS nothing_made FROM project;
SELECT create_project('widest', 'Asia/Shanghai', 1937) > 0 AS made;

ROLLBACK;
SELECT count(setval(seq::regclass, coalesce(last_value, 1), last_value IS NOT NULL)) > 0 AS restored FROM hs_seq;
DROP TABLE hs_seq;
