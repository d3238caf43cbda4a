-- Attribution in a dispute: a report gets its verdict at filing (报备判重),
-- from file_report_verdict: accepted; duplicate of a report by the same agency
-- (not stored twice: the first report's id comes back); protected by another
-- channel until a date (stored: it is evidence); already visited, as a
-- natural visitor or with another agency (stored).  The reason names no other
-- agency and no personal data.  file_report keeps returning the report id.
\set pname 'Verdicts'
\i sql/attribution_setup.psql
SELECT to_char((now() - interval '3 days') AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI') AS d3,
       to_char((now() - interval '200 days') AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI') AS d200 \gset
-- verdicts with local dates masked (they depend on today)
CREATE FUNCTION pg_temp.file(ag bigint, phone text) RETURNS TABLE (stored boolean, verdict text, reason text) LANGUAGE sql AS $$
	SELECT v.report_id IS NOT NULL, v.verdict, regexp_replace(v.reason, '\d{4}-\d\d-\d\d \d\d:\d\d', 'YYYY-MM-DD hh:mm', 'g')
	FROM firstsight.file_report_verdict((SELECT max(project_id) FROM firstsight.project), ag, phone) v $$;
CREATE FUNCTION pg_temp.reports(phone text) RETURNS TABLE (agent bigint, verdict text, until_set boolean) LANGUAGE sql AS $$
	SELECT r.agent_id, r.verdict, r.verdict_until IS NOT NULL FROM firstsight.report r
	WHERE r.project_id = (SELECT max(project_id) FROM firstsight.project)
	  AND r.phone_masked_hash = firstsight.identity_hash('phone_masked', firstsight.phone_mask(phone))
	ORDER BY r.report_id $$;

-- a customer nobody knows: accepted
SELECT * FROM pg_temp.file(21, '13800000601');
-- the same agency again (another agent of Lianjia): a duplicate, not stored twice, the same id
SELECT (file_report_verdict(:p, 23, '138 0000 0601')).report_id = (file_report_verdict(:p, 21, '13800000601')).report_id AS same_report;
SELECT * FROM pg_temp.file(23, '13800000601');
SELECT file_report(:p, 21, '+86 138-0000-0601') = min(report_id) AS file_report_returns_it FROM report WHERE project_id = :p;
SELECT * FROM pg_temp.reports('13800000601');
-- another agency (撞单): protected by another channel until Lianjia's report expires; stored, naming nobody
SELECT * FROM pg_temp.file(22, '13800000601');
SELECT * FROM pg_temp.reports('13800000601');
-- a masked report of the same digits by the same agency duplicates its full report
SELECT * FROM pg_temp.file(21, '138****0601');
-- Woai's report came while Lianjia held the customer: it protects nobody, so Fang is told about Lianjia's hold only
SELECT * FROM pg_temp.file(24, '13800000601');
SELECT (SELECT verdict_until FROM report WHERE project_id = :p AND agent_id = 24)
       = (SELECT report_expiry(created_at, NULL, '72 hours', 'Asia/Shanghai') FROM report WHERE project_id = :p AND agent_id = 21 ORDER BY report_id LIMIT 1)
       AS until_lianjia_report_expires;

-- already visited as a natural visitor (已到访): stored with its verdict
SELECT pg_temp.person(602, '13800000602');
SELECT pg_temp.visit(6002, 602, :'d3', 1);
SELECT * FROM pg_temp.file(21, '13800000602');
-- already visited with another agency whose protection has lapsed (Woai, 30 days, 200 days ago)
SELECT pg_temp.person(603, '13800000603');
SELECT pg_temp.visit(6003, 603, :'d200', 1, 22);
SELECT * FROM pg_temp.file(21, '13800000603');
-- brought by another agency 3 days ago: protected until that agency's window ends
SELECT pg_temp.person(604, '13800000604');
SELECT pg_temp.visit(6004, 604, :'d3', 1, 22);
SELECT * FROM pg_temp.file(21, '13800000604');
SELECT (SELECT verdict_until FROM report WHERE project_id = :p AND agent_id = 21 ORDER BY report_id DESC LIMIT 1)
       = local_days_end(now() - interval '3 days', 30, 'Asia/Shanghai') AS until_woai_window_end;
-- brought by the same agency before, with no report: not "visited with
-- another agency", but that visit counted as a natural one (report_protection
-- mode), so a report now covers nothing earlier: visited (it used to say
-- accepted, and the agency believed its customer protected)
SELECT pg_temp.person(605, '13800000605');
SELECT pg_temp.visit(6005, 605, :'d3', 1, 23);
SELECT * FROM pg_temp.file(21, '13800000605');
-- brought by the same agency under its report (since lapsed): the agency holds
-- the customer, a new report is accepted
SELECT pg_temp.person(606, '13800000606');
SELECT pg_temp.report(23, '13800000606', to_char((now() - interval '3 days 1 hour') AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI'));
SELECT pg_temp.visit(6006, 606, :'d3', 1, 23);
SELECT * FROM pg_temp.file(21, '13800000606');
-- in first_visit mode (到访为王) the agency's own visit counts without a report
SELECT pg_temp.person(607, '13800000607');
SELECT pg_temp.visit(6007, 607, :'d3', 1, 23);
SELECT configure(:p, 'attribution_mode', 'first_visit');
SELECT * FROM pg_temp.file(21, '13800000607');
SELECT reset_setting(:p, 'attribution_mode');

-- no reason names another agency, an agent or a phone digit
SELECT count(*) AS reasons_with_names
FROM report r, LATERAL (SELECT (report_verdict(r.project_id, 21, r.phone_hash, r.phone_masked_hash)).reason) v(reason)
WHERE r.project_id = :p AND (v.reason ~ '(Lianjia|Woai|Fang|agent [0-9]|060)');
-- verdicts only hashes: no phone number is stored
SELECT count(*) AS reports, count(*) FILTER (WHERE length(phone_masked_hash) = 32) AS hashed FROM report WHERE project_id = :p;
