#!/usr/bin/env bash
# bench/ingest/gallery_ab.sh: per-call cost of the C gallery_nearest (kept SPI plan)
# against the former PL/pgSQL dynamic-SQL version, 2,000 x 512 gallery with HNSW.
set -euo pipefail
cd "$(dirname "$0")/../.."; . test/common.sh
dir=$(mktemp -d /tmp/fs-ab.XXXXXX); chmod 755 $dir; chown postgres $dir
trap 'fs_stop_cluster "$dir"; rm -rf "$dir"' EXIT
fs_start_cluster "$dir" "synchronous_commit = off"
psql() { fs_as_user /usr/lib/postgresql/15/bin/psql -X -q -v ON_ERROR_STOP=1 -d postgres "$@"; }
psql <<'SQL'
CREATE EXTENSION firstsight;
SELECT firstsight.create_project('ab', dims => 512);
INSERT INTO firstsight.camera VALUES (1, 'c', 'entrance');
SELECT setseed(0.3);
INSERT INTO firstsight.capture (project_id, camera_id, captured_at, face, quality, masked)
SELECT 1, 'c', now() - interval '1 day', firstsight.l2_normalize(array_agg(random() - 0.5)::real[]::firstsight.embedding), 0.8, false
FROM generate_series(1, 2000) id, generate_series(1, 512) k GROUP BY id;
CREATE FUNCTION old_nearest(project_id bigint, faces firstsight.embedding[])
	RETURNS TABLE (ord integer, person_id bigint, distance float8) LANGUAGE plpgsql STABLE
	SET search_path = firstsight, pg_catalog, pg_temp AS $$
DECLARE dims integer;
BEGIN
	SELECT p.dims INTO dims FROM project p WHERE p.project_id = old_nearest.project_id;
	RETURN QUERY EXECUTE format(
		'SELECT q.ord::integer, g.person_id, g.distance
		 FROM unnest($1) WITH ORDINALITY AS q(face, ord)
		 LEFT JOIN LATERAL (
			SELECT f.person_id, f.face OPERATOR(firstsight.<=>) q.face AS distance
			FROM firstsight.%I f
			ORDER BY f.face::firstsight.embedding(%s) OPERATOR(firstsight.<=>) q.face
			LIMIT 1) g ON true', 'face_p' || old_nearest.project_id, dims) USING faces;
END $$;
CREATE TABLE probe AS SELECT capture_id AS n, face FROM firstsight.capture; CREATE UNIQUE INDEX ON probe (n); ANALYZE probe;
SELECT count(*) FROM firstsight.face;
SQL
for round in 1 2 3; do
psql <<'SQL'
DO $$
DECLARE t0 timestamptz; n int := 2000;
BEGIN
	-- warm the session: every index page once
	PERFORM count(*) FROM firstsight.gallery_nearest(1, (SELECT array_agg(face) FROM probe));
	t0 := clock_timestamp();
	FOR i IN 1 .. n LOOP
		PERFORM * FROM old_nearest(1, ARRAY[(SELECT face FROM probe WHERE probe.n = i)]);
	END LOOP;
	RAISE NOTICE 'plpgsql dynamic SQL: % ms per call', round((extract(epoch FROM clock_timestamp() - t0) * 1000 / n)::numeric, 3);
	t0 := clock_timestamp();
	FOR i IN 1 .. n LOOP
		PERFORM * FROM firstsight.gallery_nearest(1, ARRAY[(SELECT face FROM probe WHERE probe.n = i)]);
	END LOOP;
	RAISE NOTICE 'C kept plan:         % ms per call', round((extract(epoch FROM clock_timestamp() - t0) * 1000 / n)::numeric, 3);
END $$;
SQL
done
