-- Rollups behind the BI views.  daily_traffic, channel_share,
-- conversion_funnel and consultant_board would otherwise read and group every
-- visit of the period; they read these counters instead, kept current by
-- statement triggers on visit, person and deal (so late facts are counted:
-- merges, late receptions, recomputed visit chains, a deal making an old
-- visitor a buyer).  The counters are additive and every trigger adds a delta
-- computed from its statement's transition tables, so concurrent writers
-- commute.  The counters many captures share (per project and day, per
-- project, month and agent, per consultant and month) take their deltas as
-- appended rows (rollup_*_delta), read with the folded rows by the
-- rollup_*_current views and folded by rollup_fold(); the per-person ones are
-- upserted (an upsert locks the counter row it adds to, a person's own).
-- Distinct-person counts
-- are not additive: they come from a per-(key, person) level whose rows report,
-- through RETURNING, whether a person started or stopped counting for the key.
-- No biometric column anywhere; erasure touches none of the inputs.
-- rollup_check() compares every counter with the facts and rebuild_rollups()
-- recomputes them (after loading data with triggers off, or a restore).

-- visits per project, local day and person (the distinct-person level of daily_traffic)
CREATE TABLE rollup_person_day (
	project_id bigint NOT NULL,
	day date NOT NULL,
	person_id bigint NOT NULL,
	visits bigint NOT NULL,
	new_visits bigint NOT NULL,
	returning_visits bigint NOT NULL,
	PRIMARY KEY (project_id, day, person_id)
);

CREATE TABLE rollup_day (
	project_id bigint NOT NULL,
	day date NOT NULL,
	visits bigint NOT NULL,
	unique_persons bigint NOT NULL,
	new_persons bigint NOT NULL,
	returning_persons bigint NOT NULL,
	accompanied_visits bigint NOT NULL,
	received_visits bigint NOT NULL,
	PRIMARY KEY (project_id, day)
);

-- per project, local month and accompanying agent (NULL: came alone): all visits,
-- and first visits (not seen_before, of an existing person) with how many of those
-- persons returned (person.visits > 1) and bought (buyer or co-buyer of a deal)
CREATE TABLE rollup_month_agent (
	project_id bigint NOT NULL,
	month date NOT NULL,
	agent_id bigint,
	visits bigint NOT NULL,
	first_visits bigint NOT NULL,
	returned bigint NOT NULL,
	bought bigint NOT NULL,
	UNIQUE NULLS NOT DISTINCT (project_id, month, agent_id)
);

-- receptions per project, local month, consultant and person (the distinct level of consultant_board)
CREATE TABLE rollup_consultant_person (
	project_id bigint NOT NULL,
	month date NOT NULL,
	consultant_id bigint NOT NULL,
	person_id bigint NOT NULL,
	receptions bigint NOT NULL,
	new_receptions bigint NOT NULL,
	PRIMARY KEY (project_id, month, consultant_id, person_id)
);

CREATE TABLE rollup_consultant (
	project_id bigint NOT NULL,
	month date NOT NULL,
	consultant_id bigint NOT NULL,
	receptions bigint NOT NULL,
	persons_received bigint NOT NULL,
	new_persons_received bigint NOT NULL,
	PRIMARY KEY (project_id, month, consultant_id)
);

-- how many deals name a person as buyer or co-buyer (> 0: the person bought)
CREATE TABLE rollup_buyer (
	project_id bigint NOT NULL,
	person_id bigint NOT NULL,
	deals bigint NOT NULL,
	PRIMARY KEY (project_id, person_id)
);

-- conversion_funnel's first visits depend on their person: it exists, has more
-- than one visit (returned), is named by a deal (bought).  Those counters are
-- not additive over single-table changes (ingestion changes visits and persons
-- in one statement, and both triggers see both changes), so each person's share
-- is kept in rollup_funnel_person and recomputed from the facts whenever a
-- trigger sees the person's first visit, visit count or buyer status change;
-- the difference to the stored share goes to rollup_month_agent.  Recomputing
-- twice changes nothing; the person row is locked first so concurrent
-- recomputations of one person run one after the other.
CREATE TABLE rollup_funnel_person (
	project_id bigint NOT NULL,
	person_id bigint NOT NULL,
	month date NOT NULL,
	agent_id bigint,
	first_visits bigint NOT NULL,
	returned bigint NOT NULL,
	bought bigint NOT NULL,
	UNIQUE NULLS NOT DISTINCT (project_id, person_id, month, agent_id)
);

-- the rollups are kept by triggers that a restore does not fire: dumped
SELECT pg_catalog.pg_extension_config_dump('rollup_person_day', '');
SELECT pg_catalog.pg_extension_config_dump('rollup_day', '');
SELECT pg_catalog.pg_extension_config_dump('rollup_month_agent', '');
SELECT pg_catalog.pg_extension_config_dump('rollup_consultant_person', '');
SELECT pg_catalog.pg_extension_config_dump('rollup_consultant', '');
SELECT pg_catalog.pg_extension_config_dump('rollup_buyer', '');
SELECT pg_catalog.pg_extension_config_dump('rollup_funnel_person', '');

CREATE TYPE rollup_person_key AS (project_id bigint, person_id bigint);
-- a visit row as the visit triggers count it, with its sign (+1 now, -1 before)
CREATE TYPE rollup_visit_delta AS (project_id bigint, person_id bigint, started_at timestamptz,
                                   seen_before boolean, agent_id bigint, consultant_id bigint, s integer);

-- Append-only deltas (issue 21): the counters that many captures add to (one
-- rollup_day row per project and day, one rollup_month_agent row per project,
-- month and agent) are not updated in place on the camera path, where every
-- camera's transaction would wait for the previous one's commit on that row.
-- Each writer inserts its delta here instead; nobody updates a shared row.
-- The views read the folded counters plus the deltas (rollup_*_current), so
-- they are exact at every commit; rollup_fold() moves committed deltas into
-- the folded tables (the background worker calls it, see docs/attribution.md).
CREATE SEQUENCE rollup_delta_id_seq CACHE 64;
CREATE TABLE rollup_day_delta (
	project_id bigint NOT NULL,
	delta_id bigint NOT NULL DEFAULT nextval('rollup_delta_id_seq'),
	day date NOT NULL,
	visits bigint NOT NULL,
	unique_persons bigint NOT NULL,
	new_persons bigint NOT NULL,
	returning_persons bigint NOT NULL,
	accompanied_visits bigint NOT NULL,
	received_visits bigint NOT NULL,
	PRIMARY KEY (project_id, delta_id)
);
CREATE TABLE rollup_month_agent_delta (
	project_id bigint NOT NULL,
	delta_id bigint NOT NULL DEFAULT nextval('rollup_delta_id_seq'),
	month date NOT NULL,
	agent_id bigint,
	visits bigint NOT NULL,
	first_visits bigint NOT NULL,
	returned bigint NOT NULL,
	bought bigint NOT NULL,
	PRIMARY KEY (project_id, delta_id)
);
CREATE TABLE rollup_consultant_delta (
	project_id bigint NOT NULL,
	delta_id bigint NOT NULL DEFAULT nextval('rollup_delta_id_seq'),
	month date NOT NULL,
	consultant_id bigint NOT NULL,
	receptions bigint NOT NULL,
	persons_received bigint NOT NULL,
	new_persons_received bigint NOT NULL,
	PRIMARY KEY (project_id, delta_id)
);
SELECT pg_catalog.pg_extension_config_dump('rollup_day_delta', '');
SELECT pg_catalog.pg_extension_config_dump('rollup_month_agent_delta', '');
SELECT pg_catalog.pg_extension_config_dump('rollup_consultant_delta', '');
SELECT pg_catalog.pg_extension_config_dump('rollup_delta_id_seq', '');
