-- bench/office/deferred.sql: a design probe for issue 21 (DEFERRED=1
-- bench/office/run.sh, applied after floor.sql), not a product.  The camera's
-- statement does what floor.sql makes it do -- a capture matched to a known
-- person by the first search gets its person and match and is written
-- without a visit -- and the rest of ingestion (visits, the
-- person's counters and retention clock, the capture's expiry and low flag,
-- parties, events, exemplars, and through the triggers the rollups) is done
-- afterwards by bench_fold, which a separate session calls every 0.1 s for
-- the captures written since, in one batch through ingest_batch's own steps
-- (ingest_visits, ingest_visit_followups, ingest_gallery).  Masked and
-- unmatched captures keep the whole path.  After the round run.sh folds what
-- is left, then drops floor.sql's triggers.  It measures what a capture costs
-- when its bookkeeping is folded in batches, the fold's CPU included (it
-- runs on the same machine).

-- up to 1,000 captures matched but not yet folded (a person, no visit), in
-- one batch; returns how many; logs the oldest one's wait since its INSERT
CREATE TABLE IF NOT EXISTS public.bench_fold_log (at timestamptz, n integer, lag interval);
CREATE OR REPLACE FUNCTION public.bench_fold(p_project_id bigint) RETURNS integer
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	SET plan_cache_mode = force_generic_plan
	AS $$
DECLARE
	s record;
	v record;
	ids bigint[];
	persons bigint[];
	dist float8[];
	lim float8[];
	ts timestamptz[];
	cams text[];
	quality real[];
	faces embedding[];
	oldest timestamptz;
	cnt integer;
BEGIN
	SELECT array_agg(c.capture_id ORDER BY c.captured_at, c.capture_id),
	       array_agg(c.person_id ORDER BY c.captured_at, c.capture_id),
	       array_agg(c.match_distance ORDER BY c.captured_at, c.capture_id),
	       array_agg(c.match_distance + c.match_margin ORDER BY c.captured_at, c.capture_id),
	       array_agg(c.captured_at ORDER BY c.captured_at, c.capture_id),
	       array_agg(c.camera_id ORDER BY c.captured_at, c.capture_id),
	       array_agg(c.quality ORDER BY c.captured_at, c.capture_id),
	       array_agg(c.face ORDER BY c.captured_at, c.capture_id),
	       min(c.inserted_at)
	INTO ids, persons, dist, lim, ts, cams, quality, faces, oldest
	FROM (SELECT c.* FROM capture c
	      WHERE c.project_id = p_project_id AND c.visit_id IS NULL AND c.person_id IS NOT NULL
	      LIMIT 1000 FOR UPDATE SKIP LOCKED) c;
	cnt := coalesce(cardinality(ids), 0);
	IF cnt = 0 THEN
		RETURN 0;
	END IF;
	s := ingest_settings(p_project_id);
	v := ingest_visits(p_project_id, ids, persons, dist, ts, cams, array_fill(false, ARRAY[cnt]), array_fill(false, ARRAY[cnt]),
	                   lim, NULL, s.gap, s.low_margin, s.tz, false);
	PERFORM ingest_visit_followups(p_project_id, v.chain, v.opened, NULL);
	PERFORM ingest_gallery(p_project_id, ids,
	                       (SELECT array_agg(CASE WHEN quality[o] >= s.min_q THEN persons[o] END ORDER BY o) FROM generate_series(1, cnt) o),
	                       ts, quality, array_fill(false, ARRAY[cnt]), faces, dist, array_fill(false, ARRAY[cnt]), s.recent_min, s.gap);
	INSERT INTO public.bench_fold_log VALUES (clock_timestamp(), cnt, clock_timestamp() - oldest);
	RETURN cnt;
END
$$;
