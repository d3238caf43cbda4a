-- Rollups behind the BI views.  daily_traffic, channel_share,
-- conversion_funnel and consultant_board would otherwise read and group every
-- visit of the period; they read these counters instead, kept current by
-- triggers on visit, person and deal (so late facts are counted: merges, late
-- receptions, recomputed visit chains, a deal making an old visitor a buyer).
-- The counters are additive and every trigger adds a delta computed from its
-- statement's transition tables (inserts, deletes, deals) or from the row it
-- fires for (visit and person updates: row triggers whose WHEN skips the
-- camera's updates, which change nothing counted), so concurrent writers
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

COMMENT ON TABLE rollup_person_day IS 'BI rollup: visits per project, local day and person (first visits, returning visits); rows at 0 are harmless';
COMMENT ON TABLE rollup_day IS 'BI rollup behind daily_traffic: per project and local day';
COMMENT ON TABLE rollup_month_agent IS 'BI rollup behind channel_share and conversion_funnel: per project, local month and accompanying agent';
COMMENT ON TABLE rollup_consultant_person IS 'BI rollup: receptions per project, local month, consultant and person; rows at 0 are harmless';
COMMENT ON TABLE rollup_consultant IS 'BI rollup behind consultant_board: per project, local month and consultant';
COMMENT ON TABLE rollup_buyer IS 'BI rollup: deals naming each person as buyer or co-buyer (as entered, merges not followed)';

-- The counters the camera path adds to are written as append-only deltas
-- (rollup_day_delta, rollup_month_agent_delta, rollup_consultant_delta: every
-- writer inserts, nobody updates a shared row, so concurrent cameras never
-- wait for each other's commit on a counter).  These views are the counters
-- as of the reader's snapshot: the folded rows plus the deltas not yet folded.
-- The BI views and rollup_check read them, so the BI views are exact at every
-- commit; rollup_fold() only keeps the deltas few.
CREATE OR REPLACE VIEW rollup_day_current AS
	SELECT project_id, day, sum(visits)::bigint AS visits, sum(unique_persons)::bigint AS unique_persons,
	       sum(new_persons)::bigint AS new_persons, sum(returning_persons)::bigint AS returning_persons,
	       sum(accompanied_visits)::bigint AS accompanied_visits, sum(received_visits)::bigint AS received_visits
	FROM (SELECT project_id, day, visits, unique_persons, new_persons, returning_persons, accompanied_visits, received_visits
	      FROM rollup_day
	      UNION ALL
	      SELECT project_id, day, visits, unique_persons, new_persons, returning_persons, accompanied_visits, received_visits
	      FROM rollup_day_delta) u
	GROUP BY project_id, day;
COMMENT ON VIEW rollup_day_current IS 'rollup_day with the deltas not yet folded (rollup_fold)';

CREATE OR REPLACE VIEW rollup_month_agent_current AS
	SELECT project_id, month, agent_id, sum(visits)::bigint AS visits, sum(first_visits)::bigint AS first_visits,
	       sum(returned)::bigint AS returned, sum(bought)::bigint AS bought
	FROM (SELECT project_id, month, agent_id, visits, first_visits, returned, bought FROM rollup_month_agent
	      UNION ALL
	      SELECT project_id, month, agent_id, visits, first_visits, returned, bought FROM rollup_month_agent_delta) u
	GROUP BY project_id, month, agent_id;
COMMENT ON VIEW rollup_month_agent_current IS 'rollup_month_agent with the deltas not yet folded (rollup_fold)';

CREATE OR REPLACE VIEW rollup_consultant_current AS
	SELECT project_id, month, consultant_id, sum(receptions)::bigint AS receptions,
	       sum(persons_received)::bigint AS persons_received, sum(new_persons_received)::bigint AS new_persons_received
	FROM (SELECT project_id, month, consultant_id, receptions, persons_received, new_persons_received FROM rollup_consultant
	      UNION ALL
	      SELECT project_id, month, consultant_id, receptions, persons_received, new_persons_received
	      FROM rollup_consultant_delta) u
	GROUP BY project_id, month, consultant_id;
COMMENT ON VIEW rollup_consultant_current IS 'rollup_consultant with the deltas not yet folded (rollup_fold)';

COMMENT ON TABLE rollup_day_delta IS 'BI rollup deltas for rollup_day, appended by the visit triggers, folded by rollup_fold';
COMMENT ON TABLE rollup_month_agent_delta IS 'BI rollup deltas for rollup_month_agent, appended by the visit, person and deal triggers, folded by rollup_fold';
COMMENT ON TABLE rollup_consultant_delta IS 'BI rollup deltas for rollup_consultant, appended by the visit triggers, folded by rollup_fold';

-- move the committed deltas into the folded counters, one fold at a time (a
-- second caller returns 0 at once); deltas of transactions still running are
-- left for the next fold.  Returns the delta rows folded.
CREATE OR REPLACE FUNCTION rollup_fold() RETURNS bigint
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	n bigint := 0;
	k bigint;
BEGIN
	IF NOT pg_try_advisory_xact_lock(hashtextextended('firstsight.rollup_fold', 0)) THEN
		RETURN 0;
	END IF;
	WITH d AS (DELETE FROM rollup_day_delta RETURNING *),
	g AS (SELECT project_id, day, sum(visits)::bigint AS visits, sum(unique_persons)::bigint AS unique_persons,
	             sum(new_persons)::bigint AS new_persons, sum(returning_persons)::bigint AS returning_persons,
	             sum(accompanied_visits)::bigint AS accompanied_visits, sum(received_visits)::bigint AS received_visits,
	             count(*) AS n
	      FROM d GROUP BY 1, 2),
	u AS (INSERT INTO rollup_day AS r
	      SELECT project_id, day, visits, unique_persons, new_persons, returning_persons, accompanied_visits, received_visits FROM g
	      ON CONFLICT (project_id, day) DO UPDATE
	      SET visits = r.visits + excluded.visits, unique_persons = r.unique_persons + excluded.unique_persons,
	          new_persons = r.new_persons + excluded.new_persons,
	          returning_persons = r.returning_persons + excluded.returning_persons,
	          accompanied_visits = r.accompanied_visits + excluded.accompanied_visits,
	          received_visits = r.received_visits + excluded.received_visits)
	SELECT coalesce(sum(g.n), 0) INTO k FROM g;
	n := n + k;
	WITH d AS (DELETE FROM rollup_month_agent_delta RETURNING *),
	g AS (SELECT project_id, month, agent_id, sum(visits)::bigint AS visits, sum(first_visits)::bigint AS first_visits,
	             sum(returned)::bigint AS returned, sum(bought)::bigint AS bought, count(*) AS n
	      FROM d GROUP BY 1, 2, 3),
	u AS (INSERT INTO rollup_month_agent AS r
	      SELECT project_id, month, agent_id, visits, first_visits, returned, bought FROM g
	      ON CONFLICT (project_id, month, agent_id) DO UPDATE
	      SET visits = r.visits + excluded.visits, first_visits = r.first_visits + excluded.first_visits,
	          returned = r.returned + excluded.returned, bought = r.bought + excluded.bought)
	SELECT coalesce(sum(g.n), 0) INTO k FROM g;
	n := n + k;
	WITH d AS (DELETE FROM rollup_consultant_delta RETURNING *),
	g AS (SELECT project_id, month, consultant_id, sum(receptions)::bigint AS receptions,
	             sum(persons_received)::bigint AS persons_received, sum(new_persons_received)::bigint AS new_persons_received,
	             count(*) AS n
	      FROM d GROUP BY 1, 2, 3),
	u AS (INSERT INTO rollup_consultant AS r
	      SELECT project_id, month, consultant_id, receptions, persons_received, new_persons_received FROM g
	      ON CONFLICT (project_id, month, consultant_id) DO UPDATE
	      SET receptions = r.receptions + excluded.receptions, persons_received = r.persons_received + excluded.persons_received,
	          new_persons_received = r.new_persons_received + excluded.new_persons_received)
	SELECT coalesce(sum(g.n), 0) INTO k FROM g;
	RETURN n + k;
END
$$;
COMMENT ON FUNCTION rollup_fold() IS
	'fold the committed BI rollup deltas into rollup_day, rollup_month_agent and rollup_consultant (the background worker calls it; the views are exact either way)';
REVOKE ALL ON FUNCTION rollup_fold() FROM PUBLIC;

-- The counters from the facts, for rebuild_rollups and rollup_check
-- (p_project_id NULL: every project).  Plain SQL without SET, names qualified,
-- so that they are inlined and a given project_id reaches the index scans.
CREATE OR REPLACE FUNCTION rollup_facts_person_day(p_project_id bigint)
	RETURNS SETOF rollup_person_day
	LANGUAGE sql STABLE
	AS $$
	SELECT v.project_id, (v.started_at AT TIME ZONE p.time_zone)::pg_catalog.date, v.person_id,
	       pg_catalog.count(*), pg_catalog.count(*) FILTER (WHERE NOT v.seen_before), pg_catalog.count(*) FILTER (WHERE v.seen_before)
	FROM firstsight.visit v JOIN firstsight.project p ON p.project_id OPERATOR(pg_catalog.=) v.project_id
	WHERE p_project_id IS NULL OR v.project_id OPERATOR(pg_catalog.=) p_project_id
	GROUP BY 1, 2, 3
	$$;

CREATE OR REPLACE FUNCTION rollup_facts_day(p_project_id bigint)
	RETURNS SETOF rollup_day
	LANGUAGE sql STABLE
	AS $$
	SELECT v.project_id, (v.started_at AT TIME ZONE p.time_zone)::pg_catalog.date,
	       pg_catalog.count(*), pg_catalog.count(DISTINCT v.person_id),
	       pg_catalog.count(DISTINCT v.person_id) FILTER (WHERE NOT v.seen_before),
	       pg_catalog.count(DISTINCT v.person_id) FILTER (WHERE v.seen_before),
	       pg_catalog.count(*) FILTER (WHERE v.agent_id IS NOT NULL), pg_catalog.count(*) FILTER (WHERE v.consultant_id IS NOT NULL)
	FROM firstsight.visit v JOIN firstsight.project p ON p.project_id OPERATOR(pg_catalog.=) v.project_id
	WHERE p_project_id IS NULL OR v.project_id OPERATOR(pg_catalog.=) p_project_id
	GROUP BY 1, 2
	$$;

CREATE OR REPLACE FUNCTION rollup_facts_buyer(p_project_id bigint)
	RETURNS SETOF rollup_buyer
	LANGUAGE sql STABLE
	AS $$
	SELECT x.project_id, b.person_id, pg_catalog.count(*)
	FROM firstsight.deal x CROSS JOIN LATERAL pg_catalog.unnest(x.person_id OPERATOR(pg_catalog.||) x.co_buyer_ids) AS b(person_id)
	WHERE p_project_id IS NULL OR x.project_id OPERATOR(pg_catalog.=) p_project_id
	GROUP BY 1, 2
	$$;

CREATE OR REPLACE FUNCTION rollup_facts_month_agent(p_project_id bigint)
	RETURNS SETOF rollup_month_agent
	LANGUAGE sql STABLE
	AS $$
	SELECT v.project_id, pg_catalog.date_trunc('month', v.started_at AT TIME ZONE p.time_zone)::pg_catalog.date, v.agent_id,
	       pg_catalog.count(*),
	       pg_catalog.count(pe.person_id) FILTER (WHERE NOT v.seen_before),
	       pg_catalog.count(*) FILTER (WHERE NOT v.seen_before AND pe.visits OPERATOR(pg_catalog.>) 1),
	       pg_catalog.count(b.person_id) FILTER (WHERE NOT v.seen_before AND pe.person_id IS NOT NULL)
	FROM firstsight.visit v
	JOIN firstsight.project p ON p.project_id OPERATOR(pg_catalog.=) v.project_id
	LEFT JOIN firstsight.person pe ON pe.project_id OPERATOR(pg_catalog.=) v.project_id AND pe.person_id OPERATOR(pg_catalog.=) v.person_id
	LEFT JOIN (SELECT DISTINCT x.project_id, u.person_id
	           FROM firstsight.deal x CROSS JOIN LATERAL pg_catalog.unnest(x.person_id OPERATOR(pg_catalog.||) x.co_buyer_ids) AS u(person_id)
	           WHERE p_project_id IS NULL OR x.project_id OPERATOR(pg_catalog.=) p_project_id) b
	       ON b.project_id OPERATOR(pg_catalog.=) v.project_id AND b.person_id OPERATOR(pg_catalog.=) v.person_id
	WHERE p_project_id IS NULL OR v.project_id OPERATOR(pg_catalog.=) p_project_id
	GROUP BY 1, 2, 3
	$$;

CREATE OR REPLACE FUNCTION rollup_facts_consultant_person(p_project_id bigint)
	RETURNS SETOF rollup_consultant_person
	LANGUAGE sql STABLE
	AS $$
	SELECT v.project_id, pg_catalog.date_trunc('month', v.started_at AT TIME ZONE p.time_zone)::pg_catalog.date, v.consultant_id, v.person_id,
	       pg_catalog.count(*), pg_catalog.count(*) FILTER (WHERE NOT v.seen_before)
	FROM firstsight.visit v JOIN firstsight.project p ON p.project_id OPERATOR(pg_catalog.=) v.project_id
	WHERE v.consultant_id IS NOT NULL AND (p_project_id IS NULL OR v.project_id OPERATOR(pg_catalog.=) p_project_id)
	GROUP BY 1, 2, 3, 4
	$$;

CREATE OR REPLACE FUNCTION rollup_facts_consultant(p_project_id bigint)
	RETURNS SETOF rollup_consultant
	LANGUAGE sql STABLE
	AS $$
	SELECT project_id, month, consultant_id, pg_catalog.sum(receptions)::bigint, pg_catalog.count(*), pg_catalog.sum(new_receptions)::bigint
	FROM firstsight.rollup_facts_consultant_person(p_project_id)
	GROUP BY 1, 2, 3
	$$;

-- recompute the rollups of one project (NULL: all) from the facts
CREATE OR REPLACE FUNCTION rebuild_rollups(project_id bigint DEFAULT NULL) RETURNS void
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	pid bigint := rebuild_rollups.project_id;
	t text;
	lit text := coalesce(rebuild_rollups.project_id::text, 'NULL') || '::bigint';
	body text;
	on_citus boolean := to_regclass('pg_catalog.pg_dist_partition') IS NOT NULL;
BEGIN
	-- not while rollup_fold moves deltas into the tables rebuilt here
	PERFORM pg_advisory_xact_lock(hashtextextended('firstsight.rollup_fold', 0));
	FOREACH t IN ARRAY ARRAY['day', 'month_agent', 'consultant'] LOOP
		EXECUTE format('DELETE FROM rollup_%s_delta r WHERE $1 IS NULL OR r.project_id = $1', t) USING pid;
	END LOOP;

	IF on_citus THEN
		EXECUTE 'SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_dist_partition d WHERE d.logicalrelid = $1)'
			INTO on_citus USING 'firstsight.rollup_day'::regclass;
	END IF;
	FOREACH t IN ARRAY ARRAY['person_day', 'day', 'buyer', 'funnel_person', 'month_agent', 'consultant_person', 'consultant'] LOOP
		IF on_citus THEN
			-- Citus plans no SQL function over distributed tables: the body of
			-- rollup_facts_* with the project id written in, one INSERT ... SELECT
			-- that each worker runs on its own shards (docs/scale-out.md)
			SELECT f.prosrc INTO body FROM pg_proc f
			WHERE f.proname = 'rollup_facts_' || t AND f.pronamespace = 'firstsight'::regnamespace;
			-- (rollup_facts_consultant reads rollup_facts_consultant_person: the rollup, rebuilt just before)
			body := regexp_replace(body, 'firstsight\.rollup_facts_(\w+)\(p_project_id\)',
			                       '(SELECT * FROM firstsight.rollup_\1 WHERE p_project_id IS NULL OR project_id OPERATOR(pg_catalog.=) p_project_id) AS rollup_\1', 'g');
			body := regexp_replace(regexp_replace(body, '\mp_project_id\M', lit, 'g'), '\mp_person_ids\M', 'NULL::bigint[]', 'g');
			EXECUTE format('DELETE FROM rollup_%s r WHERE %s IS NULL OR r.project_id = %2$s', t, lit);
			EXECUTE format('INSERT INTO rollup_%s %s', t, body);
		ELSE
			EXECUTE format('DELETE FROM rollup_%s r WHERE $1 IS NULL OR r.project_id = $1', t) USING pid;
			EXECUTE format('INSERT INTO rollup_%s SELECT * FROM rollup_facts_%s($1)', t, t) USING pid;
		END IF;
	END LOOP;
END
$$;
COMMENT ON FUNCTION rebuild_rollups(bigint) IS
	'recompute the BI rollups of a project (NULL: every project) from the facts: after loading visits, persons or deals with triggers disabled, or a restore';

-- one row per rollup row that differs from the facts (no rows: the BI views are exact);
-- rows whose counters are all zero are ignored
CREATE OR REPLACE FUNCTION rollup_check(project_id bigint DEFAULT NULL)
	RETURNS TABLE (rollup text, problem text, row_text text)
	LANGUAGE plpgsql STABLE SECURITY DEFINER
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	pid bigint := rollup_check.project_id;
	t text;
	nz text;
BEGIN
	FOREACH t IN ARRAY ARRAY['person_day', 'day', 'buyer', 'funnel_person', 'month_agent', 'consultant_person', 'consultant'] LOOP
		nz := CASE t WHEN 'person_day' THEN 'visits <> 0 OR new_visits <> 0 OR returning_visits <> 0'
		             WHEN 'day' THEN 'visits <> 0 OR unique_persons <> 0 OR new_persons <> 0 OR returning_persons <> 0 OR accompanied_visits <> 0 OR received_visits <> 0'
		             WHEN 'buyer' THEN 'deals <> 0'
		             WHEN 'funnel_person' THEN 'first_visits <> 0 OR returned <> 0 OR bought <> 0'
		             WHEN 'month_agent' THEN 'visits <> 0 OR first_visits <> 0 OR returned <> 0 OR bought <> 0'
		             WHEN 'consultant_person' THEN 'receptions <> 0 OR new_receptions <> 0'
		             ELSE 'receptions <> 0 OR persons_received <> 0 OR new_persons_received <> 0' END;
		RETURN QUERY EXECUTE format(
			'SELECT %1$L, ''missing or different'', f::text FROM (SELECT * FROM rollup_facts_%1$s($1)
			   EXCEPT ALL SELECT * FROM %3$I r WHERE ($1 IS NULL OR r.project_id = $1) AND (%2$s)) f
			 UNION ALL
			 SELECT %1$L, ''not in the facts'', r::text FROM (SELECT * FROM %3$I r WHERE ($1 IS NULL OR r.project_id = $1) AND (%2$s)
			   EXCEPT ALL SELECT * FROM rollup_facts_%1$s($1)) r', t, nz,
			-- the counters written as deltas: as folded plus the deltas not yet folded
			CASE WHEN t IN ('day', 'month_agent', 'consultant') THEN 'rollup_' || t || '_current' ELSE 'rollup_' || t END) USING pid;
	END LOOP;
END
$$;
COMMENT ON FUNCTION rollup_check(bigint) IS
	'BI rollup rows that differ from the facts (no rows: the views are exact); rebuild_rollups repairs';

-- The visit triggers: signed visit rows (+1 a row as it is now, -1 as it was)
-- applied to every visit-keyed rollup in one statement.  Transition tables are
-- visible only inside the trigger's own function, so each trigger collects its
-- rows into an array for the one function that applies them.
CREATE OR REPLACE FUNCTION rollup_visit_apply(deltas rollup_visit_delta[]) RETURNS void
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
BEGIN
	WITH d AS (SELECT * FROM unnest(deltas)),
	sv AS (
		SELECT d.project_id, (d.started_at AT TIME ZONE p.time_zone)::date AS day, d.person_id, d.seen_before,
		       d.agent_id, d.consultant_id, sum(d.s)::bigint AS s
		FROM d JOIN project p ON p.project_id = d.project_id
		GROUP BY 1, 2, 3, 4, 5, 6 HAVING sum(d.s) <> 0),
	pd AS (
		SELECT project_id, day, person_id, sum(s)::bigint AS visits,
		       coalesce(sum(s) FILTER (WHERE NOT seen_before), 0)::bigint AS new_visits,
		       coalesce(sum(s) FILTER (WHERE seen_before), 0)::bigint AS returning_visits,
		       coalesce(sum(s) FILTER (WHERE agent_id IS NOT NULL), 0)::bigint AS accompanied,
		       coalesce(sum(s) FILTER (WHERE consultant_id IS NOT NULL), 0)::bigint AS received
		FROM sv GROUP BY 1, 2, 3),
	up_pd AS (
		INSERT INTO rollup_person_day AS r
		SELECT project_id, day, person_id, visits, new_visits, returning_visits FROM pd
		WHERE visits <> 0 OR new_visits <> 0 OR returning_visits <> 0
		ON CONFLICT (project_id, day, person_id) DO UPDATE
		SET visits = r.visits + excluded.visits, new_visits = r.new_visits + excluded.new_visits,
		    returning_visits = r.returning_visits + excluded.returning_visits
		RETURNING r.project_id, r.day, r.person_id, r.visits, r.new_visits, r.returning_visits),
	dd AS (
		-- a person counts for a day while their counter is above 0: the change is now minus before
		SELECT pd.project_id, pd.day, sum(pd.visits)::bigint AS visits,
		       sum(coalesce((u.visits > 0)::int - (u.visits - pd.visits > 0)::int, 0))::bigint AS unique_persons,
		       sum(coalesce((u.new_visits > 0)::int - (u.new_visits - pd.new_visits > 0)::int, 0))::bigint AS new_persons,
		       sum(coalesce((u.returning_visits > 0)::int - (u.returning_visits - pd.returning_visits > 0)::int, 0))::bigint AS returning_persons,
		       sum(pd.accompanied)::bigint AS accompanied, sum(pd.received)::bigint AS received
		FROM pd LEFT JOIN up_pd u ON u.project_id = pd.project_id AND u.day = pd.day AND u.person_id = pd.person_id
		GROUP BY 1, 2),
	up_day AS (
		INSERT INTO rollup_day_delta (project_id, day, visits, unique_persons, new_persons, returning_persons,
		                              accompanied_visits, received_visits)
		SELECT project_id, day, visits, unique_persons, new_persons, returning_persons, accompanied, received FROM dd
		WHERE visits <> 0 OR unique_persons <> 0 OR new_persons <> 0 OR returning_persons <> 0
		   OR accompanied <> 0 OR received <> 0
		),
	ma AS (
		SELECT project_id, pg_catalog.date_trunc('month', day)::date AS month, agent_id, sum(s)::bigint AS visits
		FROM sv GROUP BY 1, 2, 3),
	up_ma AS (
		INSERT INTO rollup_month_agent_delta (project_id, month, agent_id, visits, first_visits, returned, bought)
		SELECT project_id, month, agent_id, visits, 0, 0, 0 FROM ma WHERE visits <> 0
		),
	cp AS (
		SELECT project_id, pg_catalog.date_trunc('month', day)::date AS month, consultant_id, person_id, sum(s)::bigint AS receptions,
		       coalesce(sum(s) FILTER (WHERE NOT seen_before), 0)::bigint AS new_receptions
		FROM sv WHERE consultant_id IS NOT NULL
		GROUP BY 1, 2, 3, 4),
	up_cp AS (
		INSERT INTO rollup_consultant_person AS r
		SELECT * FROM cp WHERE receptions <> 0 OR new_receptions <> 0
		ON CONFLICT (project_id, month, consultant_id, person_id) DO UPDATE
		SET receptions = r.receptions + excluded.receptions, new_receptions = r.new_receptions + excluded.new_receptions
		RETURNING r.project_id, r.month, r.consultant_id, r.person_id, r.receptions),
	cd AS (
		SELECT cp.project_id, cp.month, cp.consultant_id, sum(cp.receptions)::bigint AS receptions,
		       sum(coalesce((u.receptions > 0)::int - (u.receptions - cp.receptions > 0)::int, 0))::bigint AS persons,
		       sum(cp.new_receptions)::bigint AS new_receptions
		FROM cp LEFT JOIN up_cp u ON u.project_id = cp.project_id AND u.month = cp.month
		                         AND u.consultant_id = cp.consultant_id AND u.person_id = cp.person_id
		GROUP BY 1, 2, 3)
	INSERT INTO rollup_consultant_delta (project_id, month, consultant_id, receptions, persons_received, new_persons_received)
	SELECT * FROM cd WHERE receptions <> 0 OR persons <> 0 OR new_receptions <> 0;
END
$$;

-- inserts add the new rows, deletes subtract the old ones
CREATE OR REPLACE FUNCTION rollup_visit_insert() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
BEGIN
	PERFORM rollup_visit_apply(ARRAY(
		SELECT (project_id, person_id, started_at, seen_before, agent_id, consultant_id, 1)::rollup_visit_delta
		FROM rollup_new));
	PERFORM rollup_funnel_refresh(ARRAY(SELECT DISTINCT (project_id, person_id)::rollup_person_key
	                                    FROM rollup_new WHERE NOT seen_before));
	RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION rollup_visit_delete() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
BEGIN
	PERFORM rollup_visit_apply(ARRAY(
		SELECT (project_id, person_id, started_at, seen_before, agent_id, consultant_id, -1)::rollup_visit_delta
		FROM rollup_old));
	PERFORM rollup_funnel_refresh(ARRAY(SELECT DISTINCT (project_id, person_id)::rollup_person_key
	                                    FROM rollup_old WHERE NOT seen_before));
	RETURN NULL;
END
$$;

-- updates: most (a capture extending a visit) change nothing the rollups
-- count, so a row trigger whose WHEN compares what they count skips them in
-- C (issue 21: a statement trigger kept both transition tables of every
-- camera's visit update and ran two queries over them); one that fires
-- moves its row from the old values' counters to the new ones'
CREATE OR REPLACE FUNCTION rollup_visit_update() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
BEGIN
	PERFORM rollup_visit_apply(ARRAY[
		(NEW.project_id, NEW.person_id, NEW.started_at, NEW.seen_before, NEW.agent_id, NEW.consultant_id, 1)::rollup_visit_delta,
		(OLD.project_id, OLD.person_id, OLD.started_at, OLD.seen_before, OLD.agent_id, OLD.consultant_id, -1)::rollup_visit_delta]);
	-- the person whose first visit (not seen_before) came, went or moved
	PERFORM rollup_funnel_refresh(ARRAY(
		SELECT DISTINCT (x.project_id, x.person_id)::rollup_person_key
		FROM (SELECT NEW.project_id, NEW.person_id, NEW.started_at, NEW.agent_id, 1 WHERE NOT NEW.seen_before
		      UNION ALL
		      SELECT OLD.project_id, OLD.person_id, OLD.started_at, OLD.agent_id, -1 WHERE NOT OLD.seen_before)
		     AS x(project_id, person_id, started_at, agent_id, s)
		GROUP BY x.project_id, x.person_id, x.started_at, x.agent_id HAVING sum(x.s) <> 0));
	RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER rollup_visit_insert AFTER INSERT ON visit
	REFERENCING NEW TABLE AS rollup_new
	FOR EACH STATEMENT EXECUTE FUNCTION rollup_visit_insert();
CREATE OR REPLACE TRIGGER rollup_visit_update AFTER UPDATE ON visit
	FOR EACH ROW
	WHEN ((OLD.project_id, OLD.visit_id, OLD.person_id, OLD.started_at, OLD.seen_before, OLD.agent_id, OLD.consultant_id)
	      IS DISTINCT FROM (NEW.project_id, NEW.visit_id, NEW.person_id, NEW.started_at, NEW.seen_before, NEW.agent_id,
	                        NEW.consultant_id))
	EXECUTE FUNCTION rollup_visit_update();
CREATE OR REPLACE TRIGGER rollup_visit_delete AFTER DELETE ON visit
	REFERENCING OLD TABLE AS rollup_old
	FOR EACH STATEMENT EXECUTE FUNCTION rollup_visit_delete();
COMMENT ON TABLE rollup_funnel_person IS 'BI rollup: each person''s share of conversion_funnel (first visits by month and agent, returned, bought)';

CREATE OR REPLACE FUNCTION rollup_facts_funnel_person(p_project_id bigint, p_person_ids bigint[] DEFAULT NULL)
	RETURNS SETOF rollup_funnel_person
	LANGUAGE sql STABLE
	AS $$
	SELECT v.project_id, v.person_id, pg_catalog.date_trunc('month', v.started_at AT TIME ZONE p.time_zone)::pg_catalog.date, v.agent_id,
	       pg_catalog.count(*), pg_catalog.count(*) FILTER (WHERE pe.visits OPERATOR(pg_catalog.>) 1), pg_catalog.count(*) FILTER (WHERE b.deals OPERATOR(pg_catalog.>) 0)
	FROM firstsight.visit v
	JOIN firstsight.project p ON p.project_id OPERATOR(pg_catalog.=) v.project_id
	JOIN firstsight.person pe ON pe.project_id OPERATOR(pg_catalog.=) v.project_id AND pe.person_id OPERATOR(pg_catalog.=) v.person_id
	LEFT JOIN firstsight.rollup_buyer b ON b.project_id OPERATOR(pg_catalog.=) v.project_id AND b.person_id OPERATOR(pg_catalog.=) v.person_id
	WHERE NOT v.seen_before AND (p_project_id IS NULL OR v.project_id OPERATOR(pg_catalog.=) p_project_id)
	  AND (p_person_ids IS NULL OR v.person_id OPERATOR(pg_catalog.=) ANY (p_person_ids))
	GROUP BY 1, 2, 3, 4
	$$;
-- the persons of some keys, grouped by project, each group's person rows
-- locked in person order before it is returned: the rollup writers of one
-- person (rollup_funnel_refresh, rollup_funnel_bought) take turns
CREATE OR REPLACE FUNCTION rollup_lock_persons(p_keys rollup_person_key[], OUT lock_project bigint, OUT lock_persons bigint[])
	RETURNS SETOF record
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
BEGIN
	FOR lock_project, lock_persons IN SELECT k.project_id, array_agg(DISTINCT k.person_id) FROM unnest(p_keys) k
	                                  WHERE k.person_id IS NOT NULL GROUP BY 1 ORDER BY 1 LOOP
		PERFORM 1 FROM person pe WHERE pe.project_id = lock_project AND pe.person_id = ANY (lock_persons)
		ORDER BY pe.person_id FOR NO KEY UPDATE;
		RETURN NEXT;
	END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION rollup_funnel_refresh(p_keys rollup_person_key[]) RETURNS void
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	pid bigint;
	ids bigint[];
	old rollup_funnel_person[];
BEGIN
	FOR pid, ids IN SELECT * FROM rollup_lock_persons(p_keys) LOOP
		SELECT array_agg(r) INTO old FROM rollup_funnel_person r WHERE r.project_id = pid AND r.person_id = ANY (ids);
		DELETE FROM rollup_funnel_person r WHERE r.project_id = pid AND r.person_id = ANY (ids);
		WITH n AS (
			-- rollup_facts_funnel_person for these persons (spelt out: a generic plan of
			-- that function's optional filters would read every visit)
			SELECT v.project_id, v.person_id, pg_catalog.date_trunc('month', v.started_at AT TIME ZONE p.time_zone)::date AS month,
			       v.agent_id, pg_catalog.count(*) AS first_visits, pg_catalog.count(*) FILTER (WHERE pe.visits > 1) AS returned,
			       pg_catalog.count(*) FILTER (WHERE b.deals > 0) AS bought
			FROM visit v
			JOIN project p ON p.project_id = v.project_id
			JOIN person pe ON pe.project_id = v.project_id AND pe.person_id = v.person_id
			LEFT JOIN rollup_buyer b ON b.project_id = v.project_id AND b.person_id = v.person_id
			WHERE v.project_id = pid AND v.person_id = ANY (ids) AND NOT v.seen_before
			GROUP BY 1, 2, 3, 4),
		ins AS (
			INSERT INTO rollup_funnel_person SELECT * FROM n),
		d AS (
			SELECT project_id, month, agent_id, sum(first_visits)::bigint AS first_visits,
			       sum(returned)::bigint AS returned, sum(bought)::bigint AS bought
			FROM (SELECT project_id, month, agent_id, first_visits, returned, bought FROM n
			      UNION ALL
			      SELECT project_id, month, agent_id, -first_visits, -returned, -bought FROM unnest(old)) u
			GROUP BY 1, 2, 3
			HAVING sum(first_visits) <> 0 OR sum(returned) <> 0 OR sum(bought) <> 0)
		INSERT INTO rollup_month_agent_delta (project_id, month, agent_id, visits, first_visits, returned, bought)
		SELECT project_id, month, agent_id, 0, first_visits, returned, bought FROM d;
	END LOOP;
END
$$;

-- deals: count the deals naming each person; the persons whose count crosses 0
-- (they start or stop being buyers) are returned
CREATE OR REPLACE FUNCTION rollup_buyer_apply(deltas rollup_buyer[]) RETURNS rollup_person_key[]
	LANGUAGE plpgsql	-- not sql: a plpgsql statement keeps its plan, a sql function's is made per call
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	flipped rollup_person_key[];
BEGIN
	WITH d AS (
		SELECT x.project_id, x.person_id, sum(x.deals)::bigint AS deals FROM unnest(deltas) x GROUP BY 1, 2 HAVING sum(x.deals) <> 0),
	u AS (
		INSERT INTO rollup_buyer AS r SELECT * FROM d
		ON CONFLICT (project_id, person_id) DO UPDATE SET deals = r.deals + excluded.deals
		RETURNING r.project_id, r.person_id, r.deals)
	SELECT coalesce(array_agg((u.project_id, u.person_id)::rollup_person_key)
	                FILTER (WHERE (u.deals > 0) <> (u.deals - d.deals > 0)), '{}')
	INTO flipped
	FROM u JOIN d ON d.project_id = u.project_id AND d.person_id = u.person_id;
	RETURN flipped;
END
$$;

-- a deal changes only whether its persons bought: for the persons whose buyer
-- status flipped, set their stored shares' bought (all or none of their first
-- visits) and add the change to rollup_month_agent; the person row is locked
-- as by rollup_funnel_refresh, so the two take turns on one person
CREATE OR REPLACE FUNCTION rollup_funnel_bought(p_keys rollup_person_key[]) RETURNS void
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	pid bigint;
	ids bigint[];
BEGIN
	FOR pid, ids IN SELECT * FROM rollup_lock_persons(p_keys) LOOP
		WITH u AS (
			UPDATE rollup_funnel_person r
			SET bought = CASE WHEN b.deals > 0 THEN r.first_visits ELSE 0 END
			FROM rollup_funnel_person o
			LEFT JOIN rollup_buyer b ON b.project_id = o.project_id AND b.person_id = o.person_id
			WHERE r.project_id = pid AND r.person_id = ANY (ids)
			  AND o.project_id = r.project_id AND o.person_id = r.person_id AND o.month = r.month
			  AND o.agent_id IS NOT DISTINCT FROM r.agent_id
			  AND r.bought <> CASE WHEN b.deals > 0 THEN r.first_visits ELSE 0 END
			RETURNING r.project_id, r.month, r.agent_id, r.bought - o.bought AS d)
		INSERT INTO rollup_month_agent_delta (project_id, month, agent_id, visits, first_visits, returned, bought)
		SELECT project_id, month, agent_id, 0, 0, 0, sum(d)::bigint FROM u GROUP BY 1, 2, 3 HAVING sum(d) <> 0;
	END LOOP;
END
$$;

-- persons: which persons' funnel rows to refresh; deals: buyers (and co-buyers) gained or lost

CREATE OR REPLACE FUNCTION rollup_person_insert() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	k rollup_person_key[] := ARRAY(SELECT (project_id, person_id)::rollup_person_key FROM rollup_new);
BEGIN
	IF cardinality(k) > 0 THEN
		PERFORM rollup_funnel_refresh(k);
	END IF;
	RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION rollup_person_delete() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	k rollup_person_key[] := ARRAY(SELECT (project_id, person_id)::rollup_person_key FROM rollup_old);
BEGIN
	IF cardinality(k) > 0 THEN
		PERFORM rollup_funnel_refresh(k);
	END IF;
	RETURN NULL;
END
$$;

-- ingestion updates persons on every capture: most leave returned as it
-- was, and the row trigger's WHEN skips them (as for visits, issue 21)
CREATE OR REPLACE FUNCTION rollup_person_update() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
BEGIN
	PERFORM rollup_funnel_refresh(ARRAY[(NEW.project_id, NEW.person_id)::rollup_person_key]);
	RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION rollup_deal_insert() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	k rollup_person_key[] := rollup_buyer_apply(ARRAY(
		SELECT (rollup_new.project_id, b.person_id, 1)::rollup_buyer
		FROM rollup_new, unnest(rollup_new.person_id || rollup_new.co_buyer_ids) b(person_id)));
BEGIN
	IF cardinality(k) > 0 THEN
		PERFORM rollup_funnel_bought(k);
	END IF;
	RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION rollup_deal_delete() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	k rollup_person_key[] := rollup_buyer_apply(ARRAY(
		SELECT (rollup_old.project_id, b.person_id, -1)::rollup_buyer
		FROM rollup_old, unnest(rollup_old.person_id || rollup_old.co_buyer_ids) b(person_id)));
BEGIN
	IF cardinality(k) > 0 THEN
		PERFORM rollup_funnel_bought(k);
	END IF;
	RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION rollup_deal_update() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	k rollup_person_key[] := rollup_buyer_apply(ARRAY(
		SELECT (rollup_new.project_id, b.person_id, 1)::rollup_buyer
		FROM rollup_new, unnest(rollup_new.person_id || rollup_new.co_buyer_ids) b(person_id)
		UNION ALL
		SELECT (rollup_old.project_id, b.person_id, -1)::rollup_buyer
		FROM rollup_old, unnest(rollup_old.person_id || rollup_old.co_buyer_ids) b(person_id)));
BEGIN
	IF cardinality(k) > 0 THEN
		PERFORM rollup_funnel_bought(k);
	END IF;
	RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER rollup_person_insert AFTER INSERT ON person
	REFERENCING NEW TABLE AS rollup_new
	FOR EACH STATEMENT EXECUTE FUNCTION rollup_person_insert();
CREATE OR REPLACE TRIGGER rollup_person_update AFTER UPDATE ON person
	FOR EACH ROW
	WHEN (OLD.project_id = NEW.project_id AND OLD.person_id = NEW.person_id AND (OLD.visits > 1) <> (NEW.visits > 1))
	EXECUTE FUNCTION rollup_person_update();
CREATE OR REPLACE TRIGGER rollup_person_delete AFTER DELETE ON person
	REFERENCING OLD TABLE AS rollup_old
	FOR EACH STATEMENT EXECUTE FUNCTION rollup_person_delete();
CREATE OR REPLACE TRIGGER rollup_deal_insert AFTER INSERT ON deal
	REFERENCING NEW TABLE AS rollup_new
	FOR EACH STATEMENT EXECUTE FUNCTION rollup_deal_insert();
CREATE OR REPLACE TRIGGER rollup_deal_update AFTER UPDATE ON deal
	REFERENCING OLD TABLE AS rollup_old NEW TABLE AS rollup_new
	FOR EACH STATEMENT EXECUTE FUNCTION rollup_deal_update();
CREATE OR REPLACE TRIGGER rollup_deal_delete AFTER DELETE ON deal
	REFERENCING OLD TABLE AS rollup_old
	FOR EACH STATEMENT EXECUTE FUNCTION rollup_deal_delete();

-- a project's days and months are local: a new time zone moves every visit
CREATE OR REPLACE FUNCTION rollup_project_time_zone() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
BEGIN
	PERFORM rebuild_rollups(NEW.project_id);
	RETURN NULL;
END
$$;
CREATE OR REPLACE TRIGGER rollup_project_time_zone AFTER UPDATE OF time_zone ON project
	FOR EACH ROW WHEN (OLD.time_zone IS DISTINCT FROM NEW.time_zone)
	EXECUTE FUNCTION rollup_project_time_zone();
