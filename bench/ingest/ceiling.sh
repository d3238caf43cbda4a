#!/usr/bin/env bash
# bench/ingest/ceiling.sh: what bounds sustained ingestion.  One gallery
# loaded as in run.sh (GALLERY persons, default 100,000 x DIMS 512), the
# same probes (noisy re-captures of gallery persons), CLIENTS (8) pgbench
# clients, WARMUP (20) + DURATION (30) s per part, one transaction each:
#   a<EF>  matching alone: SELECT firstsight.gallery_nearest(...) of one probe
#          face; "a40" is the session default (firstsight.hnsw_ef_search 40),
#          any other EF is passed as gallery_nearest's ef_search, as ingestion
#          does for its wider search (new_person_ef_search, default 400)
#   b      writing alone: the one-row INSERT of the same capture row, filled as
#          ingestion leaves it (person, visit, distance, expiry), into a copy
#          of firstsight.capture (LIKE ... INCLUDING ALL: same columns,
#          defaults and indexes, the loaded rows copied in) without triggers
#   c      the full path: the one-row INSERT ... VALUES of run.sh's sustained
#          round (defaults)
#   m<STEP> ingestion's matching stage alone, as ingest_batch runs it for one
#          capture: the first search, and for an answer beyond match_distance
#          the search at ef_search STEP (the setting new_person_ef_step; 0 or
#          not below new_person_ef_search: none), then for what is still
#          beyond it the search at new_person_ef_search; "m0" is the single
#          wider search, "m120" the default staging
#   n<STEP> the same for faces of nobody in the gallery (new persons: they
#          pass every search)
# PARTS ("a40 a400 b c"): the parts, in this order, each against this one
# gallery; c adds exemplars and must come last to keep the others on the
# loaded gallery (a part after c runs on the grown one).  Each part is
# reported as captures (or searches) per second, p50 and p99, and as ratios
# against c when c ran.
# Before the parts, the misses: MISS_PROBES (2,000) probes searched one
# session at the default ef_search; the answers beyond the project's
# match_distance, and for each EF of MISS_EF ("80 120 200 400") how many of
# those a search with that ef_search finds within it.  The probes' true
# nearest persons come from an exact search (gallery_nearest_exact): a miss
# whose exact nearest face is within match_distance is an index miss, one
# whose is not is a probe genuinely far from the gallery.
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/common.sh
. bench/lib.sh
. bench/ingest/lib.sh

read -r -a parts <<<"${PARTS:-a40 a400 b c}"
read -r -a miss_ef <<<"${MISS_EF-80 120 200 400}"
MISS_PROBES=${MISS_PROBES:-2000}

# 20,000 identities beyond the gallery for the n parts
ingest_setup 20000 20000
psql -c "CREATE UNLOGGED TABLE bench_new AS SELECT id - $GALLERY AS n, face FROM bench_centre WHERE id > $GALLERY;
         CREATE UNIQUE INDEX ON bench_new (n); ANALYZE bench_new"
thr=$(psql -At -c "SELECT value FROM firstsight.project_settings WHERE project_id = 1 AND setting = 'match_distance'")
wide=$(psql -At -c "SELECT value FROM firstsight.project_settings WHERE project_id = 1 AND setting = 'new_person_ef_search'")
fs_say "$(bench_machine)"

# the misses of the first search, one session (the index mapped first)
fs_say "misses: $MISS_PROBES probes, load average $(cut -d' ' -f1-3 /proc/loadavg)"
{
	cat <<SQL
$INDEX_CHECK_SQL
SELECT value::float8 AS thr FROM firstsight.project_settings WHERE project_id = 1 AND setting = 'match_distance' \\gset
CREATE TEMP TABLE q AS SELECT array_agg(face ORDER BY n) AS f FROM bench_probe WHERE n <= $MISS_PROBES;
-- the probe's own person: the exact nearest gallery face (OpenBLAS, whole gallery)
CREATE TEMP TABLE e AS SELECT r.* FROM q, firstsight.gallery_nearest_exact(1, q.f) r;
SELECT clock_timestamp() AS t0 \\gset
CREATE TEMP TABLE a AS SELECT r.*, e.person_id AS own, e.distance AS own_distance
	FROM q CROSS JOIN LATERAL firstsight.gallery_nearest(1, q.f) r JOIN e USING (ord);
SELECT format('ef_search 40: %s of %s answers beyond match_distance %s (%s%%), %s ms per search; answers that are the exact nearest person: %s; exact nearest within match_distance for %s of the misses (their exact distance: max %s); distance of the answers the misses got: min %s, median %s',
              count(*) FILTER (WHERE distance > :thr), count(*), :thr,
              round(100.0 * count(*) FILTER (WHERE distance > :thr) / count(*), 1),
              round((1000 * extract(epoch FROM clock_timestamp() - :'t0'::timestamptz) / count(*))::numeric, 2),
              count(*) FILTER (WHERE person_id = own),
              count(*) FILTER (WHERE distance > :thr AND own_distance <= :thr),
              round(max(own_distance) FILTER (WHERE distance > :thr)::numeric, 4),
              round(min(distance) FILTER (WHERE distance > :thr)::numeric, 3),
              round((percentile_cont(0.5) WITHIN GROUP (ORDER BY distance) FILTER (WHERE distance > :thr))::numeric, 3))
FROM a;
CREATE TEMP TABLE m AS SELECT ord, own FROM a WHERE distance > :thr;
SQL
	for ef in "${miss_ef[@]}"; do
		cat <<SQL
SELECT clock_timestamp() AS t0 \\gset
CREATE TEMP TABLE w AS
	SELECT m.ord, m.own, r.person_id, r.distance
	FROM (SELECT array_agg(q.f[m.ord] ORDER BY m.ord) AS f, array_agg(m.ord ORDER BY m.ord) AS ords FROM q, m) x
	CROSS JOIN LATERAL firstsight.gallery_nearest(1, x.f, $ef) r
	JOIN m ON m.ord = x.ords[r.ord];
SELECT format('  ef_search $ef on those misses: %s of %s within match_distance, %s of them the exact nearest person; %s ms per search',
              count(*) FILTER (WHERE distance <= :thr), count(*), count(*) FILTER (WHERE distance <= :thr AND person_id = own),
              round((1000 * extract(epoch FROM clock_timestamp() - :'t0'::timestamptz) / greatest(count(*), 1))::numeric, 2))
FROM w;
DROP TABLE w;
SQL
	done
} >"$dir/misses.sql"
chmod 644 "$dir/misses.sql"
psql -At -f "$dir/misses.sql"

# part b's table: firstsight.capture's shape and indexes, no triggers
psql <<'SQL'
CREATE SCHEMA bench_scratch;
CREATE TABLE bench_scratch.capture (LIKE firstsight.capture INCLUDING ALL);
INSERT INTO bench_scratch.capture SELECT * FROM firstsight.capture;
VACUUM ANALYZE bench_scratch.capture;
SQL

declare -A rate p50 p99
summary=()
for part in "${parts[@]}"; do
	case "$part" in
	a40) body="SELECT * FROM firstsight.gallery_nearest(1, ARRAY[(SELECT face FROM bench_probe WHERE n = :n)]);" ;;
	a[0-9]*) body="SELECT * FROM firstsight.gallery_nearest(1, ARRAY[(SELECT face FROM bench_probe WHERE n = :n)], ${part#a});" ;;
	b) body="INSERT INTO bench_scratch.capture (project_id, camera_id, captured_at, face, quality, masked, person_id, visit_id, match_distance, expires_at)
VALUES (1, 'cam' || (:client_id % 8), now(), (SELECT face FROM bench_probe WHERE n = :n), 0.8, false,
        1 + (:n * 7919) % $GALLERY, 1 + (:n * 7919) % $GALLERY, 0.002, now() + interval '180 days');" ;;
	[mn][0-9]*)
		step=${part#?}; tab=bench_probe; [ "${part:0:1}" = n ] && tab=bench_new
		q="FROM firstsight.gallery_nearest(1, ARRAY[(SELECT face FROM $tab WHERE n = :n)]"
		body="SELECT (distance > $thr)::int AS miss $q) \\gset"
		if [ "$step" -gt 0 ] && [ "$step" -lt "$wide" ]; then
			body="$body
\\if :miss
SELECT (distance > $thr)::int AS miss $q, $step) \\gset
\\endif"
		fi
		body="$body
\\if :miss
SELECT (distance > $thr)::int AS miss $q, $wide) \\gset
\\endif" ;;
	c) body="INSERT INTO firstsight.capture (project_id, camera_id, captured_at, face, quality, masked)
VALUES (1, 'cam' || (:client_id % 8), now(), (SELECT face FROM bench_probe WHERE n = :n), 0.8, false);" ;;
	*) fs_say "unknown part $part (a<EF>, b, c, m<STEP>, n<STEP>)"; exit 1 ;;
	esac
	fs_say "part $part: $CLIENTS clients, $WARMUP s warm-up, then $DURATION s measured, load average $(cut -d' ' -f1-3 /proc/loadavg)"
	before=$(psql -At -c "SELECT count(*) FROM firstsight.person")
	ingest_pgbench "$part" 0 "$body"
	rate[$part]=$ingest_rate; p50[$part]=$ingest_p50; p99[$part]=$ingest_p99
	summary+=("$part $ingest_rate $ingest_p50 $ingest_p99")
	if [ "$part" = c ]; then
		fs_say "part c: new persons from probes (should be 0): $(($(psql -At -c "SELECT count(*) FROM firstsight.person") - before))"
	fi
	fs_say "part $part done, load average $(cut -d' ' -f1-3 /proc/loadavg)"
done

echo "summary (GALLERY $GALLERY x $DIMS, $CLIENTS clients, $DURATION s after $WARMUP s warm-up):"
# in the order run (a part run twice is listed twice; "against c" uses c's last run)
for line in "${summary[@]}"; do
	read -r part r a b <<<"$line"
	if [ -n "${rate[c]:-}" ]; then
		printf '  %-5s %6s/s  p50 %8s ms  p99 %8s ms   against c: rate %sx, p50 %sx, p99 %sx\n' "$part" "$r" "$a" "$b" \
			"$(bench_ratio "$r" "${rate[c]}")" "$(bench_ratio "$a" "${p50[c]}")" "$(bench_ratio "$b" "${p99[c]}")"
	else
		printf '  %-5s %6s/s  p50 %8s ms  p99 %8s ms\n' "$part" "$r" "$a" "$b"
	fi
done
