-- Attribution in a dispute: a report counts from when the database received
-- it (report.created_at); the time the caller claims (reported_at) is stored
-- and shown, never trusted; a report dated in the future is refused.  Written
-- as the colluding agency and consultant of issue 15 would act (挂单): a
-- natural visitor buys, the agency files a back-dated report after the deal,
-- someone re-enters the old visit's reception with the agency's agent.
\set pname 'Filing time'
\i sql/attribution_setup.psql
-- times relative to now, local to the project
SELECT to_char((now() - interval '10 days') AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI') AS d10,
       to_char((now() - interval '5 days') AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI') AS d5,
       to_char((now() - interval '2 days') AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI') AS d2 \gset
-- timelines with local times and report ids masked (they depend on today and a sequence)
CREATE FUNCTION pg_temp.explain(id bigint) RETURNS SETOF text LANGUAGE sql AS $$
	SELECT regexp_replace(regexp_replace(t, '\d{4}-\d\d-\d\d \d\d:\d\d', 'YYYY-MM-DD hh:mm', 'g'), 'report \d+', 'report #', 'g')
	FROM firstsight.explain_attribution((SELECT max(project_id) FROM firstsight.project), id) t $$;

-- a natural visitor 10 days ago; 5 days ago Lianjia's agent came along (no report)
SELECT pg_temp.person(501, '13800000501');
SELECT pg_temp.visit(5001, 501, :'d10', 1);
SELECT pg_temp.visit(5002, 501, :'d5', 1, 21);
-- the deal, signed 2 days ago, claims Lianjia: natural, a flying order
SELECT pg_temp.deal(1, 501, :'d2', 11, 21, 1, price => 2500000);
SELECT * FROM pg_temp.decision(1);

-- after the deal the agency files a report claiming it was made an hour before the first visit
SELECT file_report(:p, 21, '13800000501', now() - interval '10 days 1 hour') IS NOT NULL AS filed;
-- the claim is stored; the filing time is the database's
SELECT created_at - reported_at = interval '10 days 1 hour' AS claim_10_days_1_hour_before_filing, created_at > now() - interval '1 minute' AS filed_just_now
FROM report WHERE project_id = :p;
-- and someone re-enters the first visit's reception with the agency's agent
SELECT receive(:p, 5001, 1, 21);
-- the deal was decided again at once: still natural, nothing paid; the report
-- came after the natural first visit (hanging_order_suspect)
SELECT * FROM pg_temp.decision(1);
SELECT version, reason, commission FROM attribution WHERE project_id = :p AND deal_id = 1 ORDER BY version;
-- reattribute cannot buy the commission either
SELECT deal_id, version, changed FROM reattribute(:p, now() - interval '30 days', now());
-- the timeline shows the real filing time beside the claim, and the late reception with who made it
SELECT * FROM pg_temp.explain(1);

-- a caller writing the row itself is judged like file_report: the same
-- agency's second report of the customer is a duplicate, refused (the
-- detail says until when the first is valid: today's date, left out) ...
\set VERBOSITY terse
INSERT INTO report (project_id, agent_id, phone_hash, phone_masked_hash, reported_at, created_at)
VALUES (:p, 21, identity_hash('phone', '13800000501'), identity_hash('phone_masked', '1380501'),
        now() - interval '10 days 1 hour', now() - interval '10 days 1 hour');
\set VERBOSITY default
-- ... another agency's row gets the database's verdict, whatever it says, and
-- cannot set the filing time ...
INSERT INTO report (project_id, agent_id, phone_hash, phone_masked_hash, reported_at, created_at, verdict)
VALUES (:p, 24, identity_hash('phone', '13800000501'), identity_hash('phone_masked', '1380501'),
        now() - interval '10 days 1 hour', now() - interval '10 days 1 hour', 'accepted');
SELECT agent_id, verdict, created_at > now() - interval '1 minute' AS filed_now FROM report WHERE project_id = :p ORDER BY report_id;
-- ... nor claim a time in the future
INSERT INTO report (project_id, agent_id, phone_hash, phone_masked_hash, reported_at)
VALUES (:p, 24, identity_hash('phone', '13800000503'), identity_hash('phone_masked', '1380503'), now() + interval '1 day');
SELECT count(*) AS reports, count(*) FILTER (WHERE created_at < now()) AS dated_before_filing FROM report WHERE project_id = :p;
-- ... nor move it later
UPDATE report SET created_at = now() - interval '10 days 1 hour' WHERE project_id = :p;
SELECT count(*) FILTER (WHERE created_at < now()) AS dated_before_filing FROM report WHERE project_id = :p;
-- (the row written by hand is evidence too: a new version lists it, still nothing paid)
SELECT * FROM pg_temp.decision(1);

-- a report dated in the future is refused (beyond max_clock_skew, 5 minutes)
SELECT file_report(:p, 22, '13800000502', now() + interval '1 day');
SELECT file_report_verdict(:p, 22, '13800000502', now() + interval '10 minutes');
-- within the skew it is accepted, and still counts from its filing
SELECT verdict FROM file_report_verdict(:p, 22, '13800000502', now() + interval '1 minute');
SELECT reported_at > created_at AS claim_ahead, created_at > now() - interval '1 minute' AS filed_just_now FROM report
WHERE project_id = :p AND agent_id = 22;
