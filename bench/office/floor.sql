-- bench/office/floor.sql: firstsight's camera path cut down to "a search and
-- a row" (issue 21's words for what a returning face should cost), to
-- measure how much of a capture's cost is the matching and the capture row
-- and how much everything else (FLOOR=1 bench/office/run.sh).  Not a product:
-- a row trigger that fires before capture_ingest_row (names fire in order)
-- takes a single-row capture matched to a known person by the first search
-- (unmasked gallery faces, within :THRESHOLD) and gives it its person and
-- match and nothing more -- no validation, visit, counters, retention clock,
-- exemplar, rollups or events.  It takes the statement's single-row note
-- (capture_ingest_row's WHEN is then false), and a second row trigger, after
-- capture_ingest_row, tells ingestion the row is done (the batch trigger
-- skips it).  Every other capture is left to ingestion, untouched.  On the
-- bench's throwaway cluster, for the floor's rounds only (run.sh drops the
-- triggers after them).
CREATE FUNCTION public.bench_floor_row() RETURNS trigger
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = firstsight, pg_catalog, pg_temp
	SET plan_cache_mode = force_generic_plan
	AS $$
DECLARE
	gp bigint;
	gd float8;
BEGIN
	IF NEW.masked THEN
		RETURN NEW;
	END IF;
	SELECT n.person_id, n.distance INTO gp, gd FROM gallery_nearest_kind(NEW.project_id, ARRAY[NEW.face], false, 0) n;
	IF gp IS NULL OR gd > :THRESHOLD THEN
		RETURN NEW;
	END IF;
	-- (takes the statement's single-row note, as capture_ingest_row's WHEN would)
	IF NOT ingest_single_row('firstsight.capture'::regclass) THEN
		RETURN NEW;
	END IF;
	NEW.person_id := gp;
	NEW.match_distance := gd;
	NEW.match_kind := 'unmasked';
	NEW.match_margin := :THRESHOLD - gd;
	NEW.expires_at := NEW.captured_at + interval '1 day';
	RETURN NEW;
END
$$;
CREATE TRIGGER capture_floor BEFORE INSERT ON firstsight.capture
	FOR EACH ROW EXECUTE FUNCTION public.bench_floor_row();
-- (a row ingestion matched has a visit; a floor row has a person and none)
CREATE FUNCTION public.bench_floor_done() RETURNS trigger
	LANGUAGE plpgsql
	AS $$
BEGIN
	PERFORM firstsight.ingest_row_done();
	RETURN NEW;
END
$$;
CREATE TRIGGER capture_zz_floor_done BEFORE INSERT ON firstsight.capture
	FOR EACH ROW WHEN (NEW.person_id IS NOT NULL AND NEW.visit_id IS NULL)
	EXECUTE FUNCTION public.bench_floor_done();
