-- Attribution in a dispute: a back-dated deal.  deal.signed_at is the sales
-- app's claim and the cut-off the rules use; the database's own time for a
-- deal is its entry (deal.created_at, set by the database).  A deal entered
-- more than deal_backdate_tolerance (default 2 days) after the signing it
-- claims is decided as at its entry too: when the money would differ, it is
-- flagged backdated_deal and the timeline says what lies between.  Written
-- as the people who would try it: a consultant who enters a deal claiming a
-- signing before the agency's visit (the agency loses its commission), one
-- who claims a signing inside an agency's lapsed protection (the agency is
-- paid), a DBA who writes created_at by hand, a manager who moves signed_at
-- back; and the honest sales office entering a deal a day late.
-- All of it is rolled back at the end, and the sequences it advances are
-- put back, so that the tests after this one see the ids they expect; in one
-- transaction, every deal is entered at the same now().
CREATE TEMP TABLE bd_seq AS
	SELECT format('%I.%I', schemaname, sequencename) AS seq, last_value FROM pg_sequences WHERE schemaname = 'firstsight';
\set ON_ERROR_ROLLBACK on
BEGIN;
\set pname 'Backdated deal'
\i sql/attribution_setup.psql
-- this file checks deals entered today: the default tolerance (2 days)
SELECT reset_setting(:p, 'deal_backdate_tolerance');
SELECT value FROM project_settings WHERE project_id = :p AND setting = 'deal_backdate_tolerance';
SELECT to_char((now() - interval '45 days') AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI') AS d45,
       to_char((now() - interval '44 days') AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI') AS d44,
       to_char((now() - interval '20 days') AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI') AS d20,
       to_char((now() - interval '15 days') AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI') AS d15,
       to_char((now() - interval '11 days') AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI') AS d11,
       to_char((now() - interval '10 days') AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI') AS d10,
       to_char((now() - interval '6 days') AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI') AS d6,
       to_char((now() - interval '5 days') AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI') AS d5,
       to_char((now() - interval '4 days') AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI') AS d4,
       to_char((now() - interval '3 days') AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI') AS d3,
       to_char((now() - interval '36 hours') AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI') AS d1h12,
       to_char((now() - interval '1 day') AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI') AS d1,
       to_char((now() - interval '12 hours') AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI') AS d0h12 \gset
-- timelines with local times masked (they depend on today)
CREATE FUNCTION pg_temp.explain(id bigint) RETURNS SETOF text LANGUAGE sql AS $$
	SELECT regexp_replace(regexp_replace(regexp_replace(t, '\d{4}-\d\d-\d\dT[0-9:.+-]+', 'ISO-TIME', 'g'),
	                                     '\d{4}-\d\d-\d\d \d\d:\d\d', 'YYYY-MM-DD hh:mm', 'g'), 'report \d+', 'report #', 'g')
	FROM firstsight.explain_attribution((SELECT max(project_id) FROM firstsight.project), id) t $$;
-- a deal as the sales app enters it now (record_deal), at an exact signing time
CREATE FUNCTION pg_temp.enter(id bigint, who bigint, signed timestamptz, ch bigint DEFAULT NULL, ag bigint DEFAULT NULL,
                              price numeric DEFAULT 1000000) RETURNS void LANGUAGE sql AS $$
	INSERT INTO firstsight.deal (project_id, deal_id, person_id, signed_at, price, channel_id, agent_id, consultant_id)
	SELECT max(project_id), id, who, signed, price, ch, ag, 1 FROM firstsight.project $$;

-- 1. Taking an agency's commission away.  Lianjia reported person 701
-- eleven days ago and brought them ten days ago (the cameras saw it).  Today
-- a consultant enters the deal claiming it was signed fifteen days ago,
-- before Lianjia's visit, with no channel: by the claimed time nobody had
-- brought the buyer, so the deal is natural and nobody is paid
SELECT pg_temp.person(701, '13800000701');
SELECT pg_temp.report(21, '13800000701', :'d11');
SELECT pg_temp.visit(7001, 701, :'d10', 1, 21);
SET application_name = 'sales-app';
SET firstsight.actor = 'consultant Wang';
SELECT pg_temp.enter(1, 701, (:'d15' || '+08')::timestamptz, price => 3000000);
RESET firstsight.actor;
RESET application_name;
-- the rules still use the claimed signing (natural, 0), but as entered today
-- the deal is Lianjia's (90000): flagged, and listed for the dispute
SELECT * FROM pg_temp.decision(1);
SELECT deal_id, claimed_channel, entitled_channel, commission, flags FROM flagged_deals WHERE project_id = :p AND deal_id = 1;
SELECT * FROM pg_temp.explain(1) t WHERE t ~ 'back-dated|backdated|deal 1 of';
SELECT evidence->'backdated'->'as_entered' AS as_entered, jsonb_array_length(evidence->'backdated'->'between') AS facts_between
FROM attribution WHERE project_id = :p AND deal_id = 1 AND is_current;
-- the evidence names only this project's agent and visit (the timeline's
-- usual facts), no phone, no other project
SELECT count(*) AS lines_with_phone FROM pg_temp.explain(1) t WHERE t ~ '1380000';

-- 2. Paying an agency whose protection lapsed.  Woai (30 days of
-- protection) reported person 702 45 days ago and brought them 44 days ago;
-- its protection ended two weeks ago.  Today the deal is entered claiming a
-- signing 20 days ago, inside the protection, for Woai: paid by the claimed
-- time, nothing as entered today
SELECT pg_temp.person(702, '13800000702');
SELECT pg_temp.report(22, '13800000702', :'d45');
SELECT pg_temp.visit(7002, 702, :'d44', 1, 22);
SELECT pg_temp.enter(2, 702, (:'d20' || '+08')::timestamptz, 12, 22, price => 2500000);
SELECT * FROM pg_temp.decision(2);
SELECT * FROM pg_temp.explain(2) t WHERE t ~ 'back-dated|backdated';

-- 3. An honest late entry: Lianjia reported 703 six days ago, brought them
-- five days ago, the deal was signed yesterday and is entered today; the
-- buyer came back twelve hours ago to sign papers.  One day late, within the
-- tolerance: no check, no flag
SELECT pg_temp.person(703, '13800000703');
SELECT pg_temp.report(21, '13800000703', :'d6');
SELECT pg_temp.visit(7003, 703, :'d5', 1, 21);
SELECT pg_temp.visit(7004, 703, :'d0h12', 1);
SELECT pg_temp.enter(3, 703, (:'d1' || '+08')::timestamptz, 11, 21);
SELECT * FROM pg_temp.decision(3);
-- a late entry beyond the tolerance where nothing between matters (no
-- visit between, the protection still open) is not flagged either
SELECT pg_temp.person(704, '13800000704');
SELECT pg_temp.report(21, '13800000704', :'d11');
SELECT pg_temp.visit(7005, 704, :'d10', 1, 21);
SELECT pg_temp.enter(4, 704, (:'d6' || '+08')::timestamptz, 11, 21);
SELECT * FROM pg_temp.decision(4);

-- 4. Exactly at the tolerance.  Lianjia reported 705 and 706 36 hours ago
-- and brought them a day ago; deals claiming signings before those visits
-- are entered now.  Signed exactly 2 days before the entry: within the
-- tolerance, no flag; 2 days and 1 second before: flagged
SELECT pg_temp.person(705, '13800000705');
SELECT pg_temp.person(706, '13800000706');
SELECT pg_temp.report(21, '13800000705', :'d1h12');
SELECT pg_temp.report(21, '13800000706', :'d1h12');
SELECT pg_temp.visit(7006, 705, :'d1', 1, 21);
SELECT pg_temp.visit(7007, 706, :'d1', 1, 21);
SELECT pg_temp.enter(5, 705, now() - interval '2 days');
SELECT pg_temp.enter(6, 706, now() - interval '2 days 1 second');
SELECT deal_id, created_at - signed_at AS entered_after FROM deal WHERE project_id = :p AND deal_id IN (5, 6) ORDER BY deal_id;
SELECT * FROM pg_temp.decision(5);
SELECT * FROM pg_temp.decision(6);

-- 5. The DBA writes the entry time too: created_at is the database's,
-- whatever the INSERT says, and an UPDATE cannot move it
SELECT pg_temp.person(707, '13800000707');
SELECT pg_temp.report(21, '13800000707', :'d11');
SELECT pg_temp.visit(7008, 707, :'d10', 1, 21);
INSERT INTO deal (project_id, deal_id, person_id, signed_at, price, consultant_id, created_at)
VALUES (:p, 7, 707, (:'d15' || '+08')::timestamptz, 1000000, 1, (:'d15' || '+08')::timestamptz);
SELECT created_at = now() AS entered_now FROM deal WHERE project_id = :p AND deal_id = 7;
SELECT * FROM pg_temp.decision(7);
UPDATE deal SET created_at = (:'d15' || '+08')::timestamptz WHERE project_id = :p AND deal_id = 7;
SELECT created_at = now() AS still_entered_now FROM deal WHERE project_id = :p AND deal_id = 7;

-- 6. A manager moves signed_at back by hand.  Lianjia reported 708 four
-- days ago and brought them three days ago; the deal, signed and entered
-- today, pays Lianjia.  The manager sets signed_at to six days ago, before
-- the visit: the update is recorded and decided again at once: natural by
-- the claimed time (late_change), and back-dated against the first entry
SELECT pg_temp.person(708, '13800000708');
SELECT pg_temp.report(21, '13800000708', :'d4');
SELECT pg_temp.visit(7009, 708, :'d3', 1, 21);
SELECT pg_temp.enter(8, 708, now(), 11, 21, price => 2000000);
SELECT * FROM pg_temp.decision(8);
SET application_name = 'admin-console';
SET firstsight.actor = 'manager Zhou';
UPDATE deal SET signed_at = (:'d6' || '+08')::timestamptz WHERE project_id = :p AND deal_id = 8;
RESET firstsight.actor;
RESET application_name;
SELECT * FROM pg_temp.decision(8);
SELECT version, reason, commission, flags FROM attribution WHERE project_id = :p AND deal_id = 8 ORDER BY version;
SELECT * FROM pg_temp.explain(8) t WHERE t ~ 'back-dated|backdated|deal 8 changed';

-- 7. The tolerance is a project setting; widening it is recorded and
-- decides the deals again: deal 1 is no longer flagged
SELECT configure(:p, 'deal_backdate_tolerance', '30 days');
SELECT * FROM pg_temp.decision(1);
SELECT configure(:p, 'deal_backdate_tolerance', '0 days');
SELECT reset_setting(:p, 'deal_backdate_tolerance');
SELECT * FROM pg_temp.decision(1);

ROLLBACK;
SELECT count(setval(seq::regclass, coalesce(last_value, 1), last_value IS NOT NULL)) > 0 AS restored FROM bd_seq;
DROP TABLE bd_seq;
\set ON_ERROR_ROLLBACK off
