-- Attribution: explain_attribution timelines, and reattribute after
-- corrections (late receptions, merges): new versions, never overwrites.
\set pname 'Reattribute'
\i sql/attribution_setup.psql
-- report ids come from a sequence: mask them in timelines
CREATE FUNCTION pg_temp.explain(id bigint) RETURNS SETOF text LANGUAGE sql AS $$
	SELECT regexp_replace(t, 'report \d+', 'report #', 'g')
	FROM firstsight.explain_attribution((SELECT max(project_id) FROM firstsight.project), id) t $$;

-- a flying order explained for the dispute meeting
SELECT pg_temp.person(701, '13800000701');
SELECT pg_temp.visit(7001, 701, '2024-03-01 10:00', 1);
SELECT pg_temp.report(21, '13800000701', '2024-03-02 09:00');
SELECT pg_temp.visit(7002, 701, '2024-03-02 10:00', 2, 21);
SELECT pg_temp.deal(1, 701, '2024-03-10 15:00', 11, 21, 2, price => 2500000);
SELECT * FROM pg_temp.explain(1);
-- an agency deal with a conflict
SELECT pg_temp.person(702, '13800000702');
SELECT pg_temp.report(22, '138****0702', '2024-03-01 09:00');
SELECT pg_temp.visit(7003, 702, '2024-03-01 10:00', 1, 22);
SELECT pg_temp.report(21, '13800000702', '2024-03-05 09:00');
SELECT pg_temp.visit(7004, 702, '2024-03-05 10:00', 1, 21);
SELECT pg_temp.deal(2, 702, '2024-03-10 15:00', 11, 21, 1);
SELECT * FROM pg_temp.explain(2);

-- a late reception: the first visit was entered without its agent; receive() decides
-- the deal again at once (version 2, late_change: the money moved), reattribute has nothing left
SELECT pg_temp.person(703, '13800000703');
SELECT pg_temp.report(21, '13800000703', '2024-03-01 09:00');
SELECT pg_temp.visit(7005, 703, '2024-03-01 10:00', 1);
SELECT pg_temp.deal(3, 703, '2024-03-10 15:00', 11, 21, 1);
SELECT * FROM pg_temp.decision(3);
SELECT receive(:p, 7005, 1, 21);
SELECT r.deal_id, r.version, channel_label(:p, r.entitled_channel_id) AS channel,
       channel_label(:p, r.previous_channel_id) AS previous_channel, r.changed
FROM reattribute(:p, '2024-03-01 00:00+08', '2024-04-01 00:00+08') r ORDER BY deal_id;
-- the old decision is kept as version 1; version 2 is current, and says which change made it
SELECT deal_id, version, channel_label(:p, entitled_channel_id) AS channel, rule, flags, is_current, reason
FROM attribution WHERE project_id = :p AND deal_id = 3 ORDER BY version;
SELECT * FROM pg_temp.decision(3);
-- nothing changed: a second run adds no version
SELECT count(*) FILTER (WHERE changed) AS changed FROM reattribute(:p, '2024-03-01 00:00+08', '2024-04-01 00:00+08');
SELECT count(*) AS versions FROM attribution WHERE project_id = :p;
-- the range is half-open and only covers deals signed in it
SELECT count(*) AS deals_in_range FROM reattribute(:p, '2024-03-10 15:00+08', '2024-03-10 15:00+08');
\set VERBOSITY sqlstate
SELECT * FROM reattribute(-1, '2024-03-01', '2024-04-01');
SELECT * FROM explain_attribution(:p, 999);
\set VERBOSITY default
-- the history of a deal: every version with its rule
SELECT version, rule, reason FROM attribution WHERE project_id = :p AND deal_id = 3 ORDER BY version;
-- notifications: deal.attributed for every stored version, deal.flagged when flags are non-empty
SELECT event, count(*) FROM outbox WHERE project_id = :p AND event LIKE 'deal.%' GROUP BY event ORDER BY event;
SELECT subject, payload->>'version' AS version, payload->'flags' AS flags, payload->>'rule' AS rule
FROM outbox WHERE project_id = :p AND event = 'deal.attributed' AND subject = '3' ORDER BY event_id;
