-- Issue 16: poor captures and parties (同行), called by ingest_batch.
-- A capture below min_quality that matches nobody stays unidentified: no
-- person, no visit, its biometric data kept to the end of its local day.
-- A party: visits that started at the same entrance camera less than
-- party_seconds apart (a chain: each within the window of the one before),
-- named by the first visit of the party (visit.party_id; NULL: came alone).

COMMENT ON COLUMN visit.party_id IS 'the party (同行) the visit came in with: the first visit of the party; NULL: came alone';

-- give a batch's unidentified captures (person NULL) their expiry
CREATE OR REPLACE FUNCTION mark_unidentified(p_project_id bigint, p_ids bigint[], p_persons bigint[]) RETURNS void
	LANGUAGE sql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
	WITH s AS (
		SELECT p.time_zone AS tz, project_setting_value(p.project_id, 'photo_retention')::interval AS photo_keep
		FROM project p WHERE p.project_id = p_project_id)
	UPDATE capture x
	SET expires_at = CASE WHEN x.face IS NOT NULL THEN end_of_day(x.captured_at, s.tz) END,
	    photo_expires_at = CASE WHEN x.photo IS NOT NULL
	                            THEN least(end_of_day(x.captured_at, s.tz), x.captured_at + s.photo_keep) END
	FROM s, unnest(p_ids, p_persons) u(capture_id, person_id)
	WHERE u.person_id IS NULL AND x.project_id = p_project_id AND x.capture_id = u.capture_id
	$$;
REVOKE ALL ON FUNCTION mark_unidentified(bigint, bigint[], bigint[]) FROM PUBLIC;

-- recompute the parties of one local day of a project; returns the visits whose party changed
CREATE OR REPLACE FUNCTION assign_parties(project_id bigint, day date) RETURNS integer
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	pid bigint := assign_parties.project_id;
	secs integer := project_setting_value(pid, 'party_seconds')::integer;
	tz text := (SELECT p.time_zone FROM project p WHERE p.project_id = pid);
	lo timestamptz := (day::timestamp) AT TIME ZONE tz;
	hi timestamptz := ((day + 1)::timestamp) AT TIME ZONE tz;
	vids bigint[];
	parties bigint[];
BEGIN
	IF tz IS NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
			MESSAGE = format('project %s does not exist', coalesce(pid::text, 'NULL'));
	END IF;
	-- one pass over the day's visits (no join back: a plan of the new day's
	-- visits made before they were analysed must not rescan the window)
	WITH e AS (
		SELECT v.visit_id, v.party_id AS old, v.first_camera_id AS cam, v.started_at,
		       c.camera_id IS NOT NULL AND secs > 0 AS ent
		FROM visit v
		LEFT JOIN camera c ON c.project_id = v.project_id AND c.camera_id = v.first_camera_id AND c.zone = 'entrance'
		WHERE v.project_id = pid AND v.started_at >= lo AND v.started_at < hi
	), b AS (
		SELECT e.*,
		       CASE WHEN lag(e.started_at) OVER w IS NULL
		                 OR e.started_at - lag(e.started_at) OVER w >= make_interval(secs => secs) THEN 1 ELSE 0 END AS brk
		FROM e
		WINDOW w AS (PARTITION BY e.ent, e.cam ORDER BY e.started_at, e.visit_id)
	), g AS (
		SELECT b.*, sum(b.brk) OVER (PARTITION BY b.ent, b.cam ORDER BY b.started_at, b.visit_id) AS grp FROM b
	), pt AS (
		-- (entrance visits only: a party is of two or more, named by its first visit)
		SELECT g.visit_id, g.old,
		       CASE WHEN g.ent AND count(*) OVER (PARTITION BY g.ent, g.cam, g.grp) > 1
		            THEN min(g.visit_id) OVER (PARTITION BY g.ent, g.cam, g.grp) END AS party
		FROM g
	)
	SELECT array_agg(pt.visit_id ORDER BY pt.visit_id), array_agg(pt.party ORDER BY pt.visit_id) INTO vids, parties
	FROM pt
	WHERE pt.old IS DISTINCT FROM pt.party;
	IF vids IS NULL THEN
		RETURN 0;
	END IF;
	UPDATE visit v SET party_id = u.party
	FROM unnest(vids, parties) u(visit_id, party)
	WHERE v.project_id = pid AND v.visit_id = u.visit_id;
	RETURN cardinality(vids);
END
$$;
COMMENT ON FUNCTION assign_parties(bigint, date) IS
	'recompute the parties (同行) of a project''s local day: visits that started at one entrance camera less than party_seconds apart; returns the visits whose party changed';

-- the parties of some visits just opened (ingestion): only the run each one
-- joins is recomputed -- the visits of its entrance camera on its local day
-- reached from it in steps of less than party_seconds, back and forth (a few
-- index probes), one party when two or more (issue 21: recomputing the whole
-- day for every visit opened cost O(visits of the day) per capture).  Runs
-- the new visit does not touch keep their parties; assign_parties(project,
-- day) recomputes a whole day (merges, splits, setting changes).  A run is
-- walked once per call: a batch that opens many visits of one run (a busy
-- entrance's backlog in one COPY) walked it once per visit before.
CREATE OR REPLACE FUNCTION assign_parties(p_project_id bigint, p_visit_ids bigint[]) RETURNS integer
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	secs interval;
	tz text := (SELECT p.time_zone FROM project p WHERE p.project_id = p_project_id);
	r record;
	lo timestamptz;
	hi timestamptz;
	dlo timestamptz;
	dhi timestamptz;
	x timestamptz;
	x_prev record;
	party bigint;
	n integer := 0;
	k integer;
	-- per camera, the end of the last run walked
	walked_cams text[] := '{}';
	walked_ends timestamptz[] := '{}';
	w integer;
BEGIN
	secs := make_interval(secs => project_setting_value(p_project_id, 'party_seconds')::integer);
	IF NOT secs > interval '0' OR tz IS NULL THEN
		RETURN 0;
	END IF;
	FOR r IN SELECT v.visit_id, v.first_camera_id AS cam, v.started_at
	         FROM visit v
	         JOIN camera c ON c.project_id = v.project_id AND c.camera_id = v.first_camera_id AND c.zone = 'entrance'
	         WHERE v.project_id = p_project_id AND v.visit_id = ANY (p_visit_ids)
	         ORDER BY v.started_at, v.visit_id LOOP
		-- (in started_at order: a visit inside the run walked for an earlier
		-- one of these has its party; every visit of the camera between that
		-- run's ends is in it)
		w := array_position(walked_cams, r.cam);
		CONTINUE WHEN w IS NOT NULL AND r.started_at <= walked_ends[w];
		dlo := ((r.started_at AT TIME ZONE tz)::date::timestamp) AT TIME ZONE tz;
		dhi := (((r.started_at AT TIME ZONE tz)::date + 1)::timestamp) AT TIME ZONE tz;
		-- the common case: the visit extends a run at its end (an earlier
		-- visit within the window, none after it, a later id than the run's
		-- party): it joins that party, named by the run's first visit; no walk
		-- (at a busy entrance a run can last all day)
		SELECT v.visit_id, coalesce(v.party_id, v.visit_id) AS party, v.party_id IS NULL AS alone INTO x_prev
		FROM visit v
		WHERE v.project_id = p_project_id AND v.started_at <= r.started_at AND v.started_at > r.started_at - secs
		  AND v.started_at >= dlo AND v.first_camera_id = r.cam AND v.visit_id <> r.visit_id
		ORDER BY v.started_at DESC, v.visit_id DESC LIMIT 1;
		IF x_prev.visit_id IS NOT NULL AND x_prev.party < r.visit_id
		   AND NOT EXISTS (SELECT 1 FROM visit v
		                   WHERE v.project_id = p_project_id AND v.started_at >= r.started_at AND v.started_at < r.started_at + secs
		                     AND v.started_at < dhi AND v.first_camera_id = r.cam AND v.visit_id <> r.visit_id) THEN
			UPDATE visit v SET party_id = x_prev.party
			WHERE v.project_id = p_project_id AND v.visit_id IN (r.visit_id, x_prev.visit_id)
			  AND v.party_id IS DISTINCT FROM x_prev.party;
			GET DIAGNOSTICS k = ROW_COUNT;
			n := n + k;
			CONTINUE;
		END IF;
		lo := r.started_at;
		LOOP
			SELECT max(v.started_at) INTO x FROM visit v
			WHERE v.project_id = p_project_id AND v.started_at < lo AND v.started_at > lo - secs AND v.started_at >= dlo
			  AND v.first_camera_id = r.cam;
			EXIT WHEN x IS NULL;
			lo := x;
		END LOOP;
		hi := r.started_at;
		LOOP
			SELECT min(v.started_at) INTO x FROM visit v
			WHERE v.project_id = p_project_id AND v.started_at > hi AND v.started_at < hi + secs AND v.started_at < dhi
			  AND v.first_camera_id = r.cam;
			EXIT WHEN x IS NULL;
			hi := x;
		END LOOP;
		SELECT CASE WHEN count(*) > 1 THEN min(v.visit_id) END INTO party FROM visit v
		WHERE v.project_id = p_project_id AND v.started_at >= lo AND v.started_at <= hi AND v.first_camera_id = r.cam;
		UPDATE visit v SET party_id = party
		WHERE v.project_id = p_project_id AND v.started_at >= lo AND v.started_at <= hi AND v.first_camera_id = r.cam
		  AND v.party_id IS DISTINCT FROM party;
		GET DIAGNOSTICS k = ROW_COUNT;
		n := n + k;
		IF w IS NULL THEN
			walked_cams := walked_cams || r.cam;
			walked_ends := walked_ends || hi;
		ELSE
			walked_ends[w] := hi;
		END IF;
	END LOOP;
	RETURN n;
END
$$;
REVOKE ALL ON FUNCTION assign_parties(bigint, bigint[]) FROM PUBLIC;
