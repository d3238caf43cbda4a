#!/usr/bin/env bash
# bench/masked/run.sh: pairwise precision and recall of "same person" on
# mask-aware generated faces (issue 18), through the camera path.
#
# IDENTITIES (200) people with PER (6) captures each, every second one
# masked, from bench/masked/gen_masked.c (MODEL small: 128-d, or arcface:
# 512-d; SEED 7: the generator was fitted on seed 1, so these are other
# people), inserted in random order (SHUFFLE seed 0.42) one camera INSERT ...
# VALUES per capture (the single-row path), seven minutes apart, into a
# project with the default thresholds for its dimension.  Then, over all
# pairs of captures: a pair is "same" when its two captures are of one
# identity, "joined" when they ended in one person (merged persons
# followed).  Precision = same and joined / joined, recall = same and joined
# / same; per kind of pair (unmasked, masked-unmasked, masked-masked, and
# every pair with a masked capture).
#
# When calibrate() reports per kind of pair (issue 18 and later), a second
# project gets the same people again (SEED + 1: other captures) with
# thresholds so strict that no capture matches, each capture's ID card is
# bound (calibrate() labels captures by the card's hash), calibrate() proposes
# thresholds from them, and a third project (SEED + 2) is measured as above
# with the proposed thresholds.
#   bench/masked/run.sh                               # 128-d, default thresholds, then calibrated
#   MODEL=arcface bench/masked/run.sh                 # 512-d
#   CALIBRATE=0 SETTINGS="masked_masked_match_distance=0.03" bench/masked/run.sh
#   CALIBRATE=0 CONSOLIDATE=0 SETTINGS="masked_ratio=1" bench/masked/run.sh   # as before the person's evidence
#
# After each measured project, consolidate_masked() (when the extension has
# it, and CONSOLIDATE is 1) joins the persons a mask split, and the project is
# measured again.
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/common.sh

MODEL=${MODEL:-small}
IDENTITIES=${IDENTITIES:-200}
PER=${PER:-6}
SEED=${SEED:-7}
SHUFFLE=${SHUFFLE:-0.42}
SETTINGS=${SETTINGS:-}		# "setting=value ..." for project 1 (default: the defaults)
CALIBRATE=${CALIBRATE:-1}	# 0: project 1 only
CONSOLIDATE=${CONSOLIDATE:-1}	# 0: no consolidate_masked() run
BIN=$FS_PG/bin
case $MODEL in small) DIMS=128 ;; arcface) DIMS=512 ;; *) echo "MODEL is small or arcface" >&2; exit 2 ;; esac

fs_install_deps
fs_build_install
dir=$(mktemp -d "${TMPDIR:-/tmp}/fs-masked.XXXXXX")
chmod 755 "$dir"; [ "$(id -u)" = 0 ] && chown "$(fs_run_user)" "$dir"
trap 'fs_stop_cluster "$dir"; rm -rf "$dir"' EXIT
cc -O2 -o "$dir/gen_masked" bench/masked/gen_masked.c -lm
fs_start_cluster "$dir" "shared_preload_libraries = 'firstsight'
synchronous_commit = off"
psql() { fs_as_user "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -d postgres "$@"; }

psql -c "CREATE EXTENSION firstsight"
psql -c "CREATE TABLE gen (project_id bigint, identity int, masked boolean, face firstsight.embedding, n serial, ts timestamptz)"

# load: project $1, seed $2; captures in random order, one INSERT each
load() {
	local p=$1 seed=$2
	"$dir/gen_masked" --model "$MODEL" --identities "$IDENTITIES" --per "$PER" --seed "$seed" --captures |
		psql -c "COPY gen (identity, masked, face) FROM STDIN"
	psql <<SQL
UPDATE gen SET project_id = $p WHERE project_id IS NULL;
SELECT setseed($SHUFFLE) \g /dev/null
WITH o AS (SELECT n, row_number() OVER (ORDER BY random()) AS k FROM gen WHERE project_id = $p ORDER BY n)
UPDATE gen g SET ts = timestamptz '2024-01-01 09:00+08' + o.k * interval '7 minutes' FROM o WHERE g.n = o.n;
SQL
	psql -At -c "SELECT format('INSERT INTO firstsight.capture (project_id, camera_id, captured_at, face, quality, masked) VALUES (%s, %L, %L, (SELECT face FROM gen WHERE n = %s), 0.8, %L);',
	                           $p, 'cam' || (n % 4), ts, n, masked) FROM gen WHERE project_id = $p ORDER BY ts" >"$dir/insert.sql"
	local t0=$SECONDS
	psql -f "$dir/insert.sql" >/dev/null
	fs_say "project $p: $(wc -l <"$dir/insert.sql") captures inserted one by one in $((SECONDS - t0)) s"
}

# pairwise precision and recall of project $1
measure() {
	psql <<SQL
\\pset footer off
WITH c AS (
	SELECT g.n, g.identity, g.masked, firstsight.current_person($1, c.person_id) AS p
	FROM gen g JOIN firstsight.capture c ON c.project_id = $1 AND c.captured_at = g.ts
	WHERE g.project_id = $1
), pairs AS (
	SELECT CASE WHEN a.masked AND b.masked THEN 'masked-masked' WHEN a.masked OR b.masked THEN 'masked-unmasked' ELSE 'unmasked' END AS kind,
	       a.masked OR b.masked AS with_mask, a.identity = b.identity AS same, a.p = b.p AS joined
	FROM c a JOIN c b ON a.n < b.n
), k AS (
	SELECT kind, same, joined FROM pairs
	UNION ALL SELECT 'with a mask (all)', same, joined FROM pairs WHERE with_mask
)
SELECT kind AS "pairs", count(*) FILTER (WHERE same) AS same, count(*) FILTER (WHERE joined) AS joined,
       count(*) FILTER (WHERE same AND joined) AS both,
       round(count(*) FILTER (WHERE same AND joined)::numeric / nullif(count(*) FILTER (WHERE joined), 0), 4) AS precision,
       round(count(*) FILTER (WHERE same AND joined)::numeric / nullif(count(*) FILTER (WHERE same), 0), 4) AS recall
FROM k GROUP BY kind ORDER BY min(CASE kind WHEN 'unmasked' THEN 1 WHEN 'masked-unmasked' THEN 2 WHEN 'masked-masked' THEN 3 ELSE 4 END);
SELECT count(DISTINCT firstsight.current_person($1, c.person_id)) AS persons, $IDENTITIES AS identities,
       count(*) FILTER (WHERE c.match_distance IS NOT NULL) AS matched_captures
FROM firstsight.capture c WHERE c.project_id = $1;
SQL
	if [ "$(psql -At -c "SELECT count(*) FROM pg_attribute WHERE attrelid = 'firstsight.capture'::regclass AND attname = 'match_kind'")" = 1 ]; then
		psql -c "SELECT match_kind, count(*) AS matches, count(*) FILTER (WHERE match_low_confidence) AS low_confidence,
		                round(min(match_margin)::numeric, 4) AS min_margin
		         FROM firstsight.capture WHERE project_id = $1 AND match_kind IS NOT NULL GROUP BY 1 ORDER BY 1"
	fi
}

# consolidate_masked (when there is one: issue 18's second round), then measure again
consolidate() {
	if [ "$CONSOLIDATE" = 1 ] && [ "$(psql -At -c "SELECT count(*) FROM pg_proc WHERE proname = 'consolidate_masked'")" -gt 0 ]; then
		local t0=$SECONDS
		fs_say "project $1 after consolidate_masked: $(psql -At -c "SELECT count(*) FROM firstsight.consolidate_masked($1)") merges in $((SECONDS - t0)) s"
		measure "$1"
	fi
}

fs_say "model $MODEL ($DIMS-d), $IDENTITIES identities x $PER captures, seed $SEED"
"$dir/gen_masked" --model "$MODEL" --identities "$IDENTITIES" --per "$PER" --seed "$SEED" --stats
psql -c "SELECT firstsight.create_project('masked', dims => $DIMS)" >/dev/null
psql -c "INSERT INTO firstsight.camera SELECT 1, 'cam' || i, 'entrance' FROM generate_series(0, 3) i"
for kv in $SETTINGS; do psql -c "SELECT firstsight.configure(1, '${kv%%=*}', '${kv#*=}')" >/dev/null; done
psql -c "SELECT setting, value FROM firstsight.project_settings WHERE project_id = 1 AND setting LIKE '%match_distance' ORDER BY 1"
load 1 "$SEED"
fs_say "project 1: ${SETTINGS:-default thresholds}"
measure 1
consolidate 1

if [ "$CALIBRATE" = 1 ] && [ "$(psql -At -c "SELECT count(*) FROM pg_proc p, unnest(p.proargnames) a WHERE p.proname = 'calibrate' AND a = 'pair_kind'")" -gt 0 ]; then
	fs_say "project 2: calibration from ID-verified captures (seed $((SEED + 1)))"
	psql <<SQL
SELECT firstsight.create_project('calibration', dims => $DIMS);
INSERT INTO firstsight.camera SELECT 2, 'cam' || i, 'entrance' FROM generate_series(0, 3) i;
SELECT firstsight.configure(2, s, '0.000001') FROM unnest(ARRAY['match_distance', 'masked_match_distance', 'masked_masked_match_distance']) s;
-- an 18-character PRC ID number per identity, with its check character
CREATE FUNCTION card(i int) RETURNS text LANGUAGE sql AS \$\$
	SELECT b || substr('10X98765432', (SELECT sum(substr(b, k, 1)::int * (ARRAY[7,9,10,5,8,4,2,1,6,3,7,9,10,5,8,4,2])[k]) FROM generate_series(1, 17) k)::int % 11 + 1, 1)
	FROM (SELECT '11010519800101' || lpad(i::text, 3, '0') AS b) x \$\$;
SQL
	load 2 $((SEED + 1))
	t0=$SECONDS
	psql -c "SELECT count(DISTINCT firstsight.bind_identity(2, c.capture_id, card(g.identity), NULL)) FROM gen g
	         JOIN firstsight.capture c ON c.project_id = 2 AND c.captured_at = g.ts WHERE g.project_id = 2" >/dev/null
	fs_say "ID cards bound in $((SECONDS - t0)) s"
	psql -c "SELECT pair_kind, current_distance AS current, proposed_distance AS proposed, same_pairs, different_pairs,
	                round(true_match_rate::numeric, 4) AS tmr, round(false_match_rate::numeric, 5) AS fmr,
	                round(current_true_match_rate::numeric, 4) AS current_tmr, round(current_false_match_rate::numeric, 5) AS current_fmr,
	                round(same_median::numeric, 4) AS same_p50, round(same_p95::numeric, 4) AS same_p95, round(same_max::numeric, 4) AS same_max,
	                round(different_min::numeric, 4) AS diff_min, round(different_p5::numeric, 4) AS diff_p5,
	                round(different_median::numeric, 4) AS diff_p50, note
	         FROM firstsight.calibrate(2, max_captures => 100000)"
	fs_say "project 3: the proposed thresholds (seed $((SEED + 2)))"
	psql <<SQL
SELECT firstsight.create_project('calibrated', dims => $DIMS);
INSERT INTO firstsight.camera SELECT 3, 'cam' || i, 'entrance' FROM generate_series(0, 3) i;
SELECT firstsight.configure(3, setting, proposed_distance::text) FROM firstsight.calibrate(2, max_captures => 100000) WHERE proposed_distance IS NOT NULL;
SELECT setting, value FROM firstsight.project_settings WHERE project_id = 3 AND setting LIKE '%match_distance' ORDER BY 1;
SQL
	load 3 $((SEED + 2))
	measure 3
	consolidate 3
fi
