-- Attribution: several buyers on one deal (a couple, parents) and merged
-- persons.  The earliest first visit of any buyer decides.
\set pname 'Co-buyers'
\i sql/attribution_setup.psql

-- the husband came alone before the agent brought the wife: a self-visit, flying order
SELECT pg_temp.person(601);
SELECT pg_temp.person(602, '13800000602');
SELECT pg_temp.visit(6001, 601, '2024-03-01 10:00', 1);
SELECT pg_temp.report(21, '13800000602', '2024-03-04 09:00');
SELECT pg_temp.visit(6002, 602, '2024-03-04 10:00', 1, 21);
SELECT pg_temp.deal(1, 602, '2024-03-10 15:00', 11, 21, 1, co => '{601}');
SELECT * FROM pg_temp.decision(1);
SELECT evidence->'buyers' AS buyers, evidence->'first_sighting'->>'person_id' AS first_seen_person
FROM attribution WHERE project_id = :p AND deal_id = 1;
-- negative: the husband came only after the agency brought the wife
SELECT pg_temp.person(603);
SELECT pg_temp.person(604, '13800000604');
SELECT pg_temp.report(21, '13800000604', '2024-03-04 09:00');
SELECT pg_temp.visit(6003, 604, '2024-03-04 10:00', 1, 21);
SELECT pg_temp.visit(6004, 603, '2024-03-05 10:00', 1);
SELECT pg_temp.deal(2, 604, '2024-03-10 15:00', 11, 21, 1, co => '{603}');
SELECT * FROM pg_temp.decision(2);
-- the co-buyer came with another agency first: that agency holds the deal
SELECT pg_temp.person(605, '13800000605');
SELECT pg_temp.person(606, '13800000606');
SELECT pg_temp.report(22, '13800000605', '2024-03-01 09:00');
SELECT pg_temp.visit(6005, 605, '2024-03-01 10:00', 2, 22);
SELECT pg_temp.report(21, '13800000606', '2024-03-04 09:00');
SELECT pg_temp.visit(6006, 606, '2024-03-04 10:00', 1, 21);
SELECT pg_temp.deal(3, 606, '2024-03-10 15:00', 11, 21, 1, co => '{605}');
SELECT * FROM pg_temp.decision(3);
-- the co-buyer's reported phone counts too: the agency reported the wife, brought the husband
SELECT pg_temp.person(607);
SELECT pg_temp.person(608, '13800000608');
SELECT pg_temp.report(21, '13800000608', '2024-03-04 09:00');
SELECT pg_temp.visit(6007, 607, '2024-03-04 10:00', 1, 21);
SELECT pg_temp.deal(4, 607, '2024-03-10 15:00', 11, 21, 1, co => '{608}');
SELECT * FROM pg_temp.decision(4);

-- merged persons (camera path: merging rebuilds visits from captures).  The same
-- buyer was recorded as two persons; the agency brought the second one
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked)
VALUES (:p, 'gate', '2024-03-01 10:00+08', '[0,0,1,0]', 0.9, false),
       (:p, 'gate', '2024-03-04 10:00+08', '[0,0,0,1]', 0.9, false);
CREATE FUNCTION pg_temp.cam(at text, OUT person bigint, OUT visit bigint, OUT capture bigint) LANGUAGE sql AS $$
	SELECT c.person_id, c.visit_id, c.capture_id FROM firstsight.capture c
	WHERE c.project_id = (SELECT max(project_id) FROM firstsight.project) AND c.captured_at = (at || '+08')::timestamptz $$;
SELECT person AS first_person, visit AS first_visit FROM pg_temp.cam('2024-03-01 10:00') \gset
SELECT person AS second_person, visit AS second_visit, capture AS second_capture FROM pg_temp.cam('2024-03-04 10:00') \gset
SELECT receive(:p, :first_visit, 1);
SELECT bind_identity(:p, :second_capture, NULL, '13800000610') = :second_person AS bound;
SELECT pg_temp.report(21, '13800000610', '2024-03-04 09:00');
SELECT receive(:p, :second_visit, 1, 21);
-- before the merge the agency wins
SELECT pg_temp.deal(5, :second_person, '2024-03-10 15:00', 11, 21, 1);
SELECT * FROM pg_temp.decision(5);
SELECT merge_person(:p, :first_person, :second_person) = :first_person AS kept_first;
SELECT merged_into = :first_person AS followed FROM person WHERE project_id = :p AND person_id = :second_person;
-- a deal entered under the merged-away id is the kept person's: the natural first visit decides
SELECT pg_temp.deal(6, :second_person, '2024-03-11 15:00', 11, 21, 1);
SELECT * FROM pg_temp.decision(6);
-- a co-buyer given by a merged-away id is followed too
SELECT pg_temp.person(611);
SELECT pg_temp.deal(7, 611, '2024-03-12 15:00', 11, 21, 1, co => ARRAY[:second_person]::bigint[]);
SELECT * FROM pg_temp.decision(7);
SELECT jsonb_array_length(evidence->'buyers') AS buyers, evidence->'buyers' @> to_jsonb(:first_person) AS has_kept_person
FROM attribution WHERE project_id = :p AND deal_id = 7;
-- deal 5 was decided before the merge; the merge decided it again from the merged history
-- (version 2, late_change: the money moved), so reattribute finds nothing more to change
SELECT r.deal_id, r.version, channel_label(:p, r.entitled_channel_id) AS channel, r.changed
FROM reattribute(:p, '2024-03-10 00:00+08', '2024-03-11 00:00+08') r WHERE r.deal_id = 5;
SELECT version, rule, flags FROM attribution WHERE project_id = :p AND deal_id = 5 ORDER BY version;
