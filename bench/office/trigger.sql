-- bench/office/trigger.sql: what a user could build in an afternoon with
-- pgvector (issue 21's comparison): a capture table, a gallery of one face
-- per person, and a row trigger that gives each capture the person of the
-- nearest gallery face, or a new person (and gallery face) when that face is
-- farther than the threshold (:THRESHOLD, firstsight's match_distance for
-- the same model).  No visits, no masks, no rollups, no retention.
CREATE SEQUENCE pv_person_seq;
CREATE TABLE pv_face (
	face_id bigserial PRIMARY KEY,
	person_id bigint NOT NULL,
	face vector(512) NOT NULL
);
CREATE TABLE pv_capture (
	capture_id bigserial PRIMARY KEY,
	project_id bigint NOT NULL,
	camera_id text NOT NULL,
	captured_at timestamptz NOT NULL,
	face vector(512) NOT NULL,
	quality real NOT NULL,
	masked boolean NOT NULL,
	person_id bigint,
	match_distance float8
);
CREATE FUNCTION pv_match() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	p bigint;
	d float8;
BEGIN
	SELECT f.person_id, f.face <=> NEW.face INTO p, d FROM pv_face f ORDER BY f.face <=> NEW.face LIMIT 1;
	IF p IS NULL OR d > :THRESHOLD THEN
		p := nextval('pv_person_seq');
		d := NULL;
		INSERT INTO pv_face (person_id, face) VALUES (p, NEW.face);
	END IF;
	NEW.person_id := p;
	NEW.match_distance := d;
	RETURN NEW;
END
$$;
CREATE TRIGGER pv_match BEFORE INSERT ON pv_capture FOR EACH ROW EXECUTE FUNCTION pv_match();
-- Kept at its best in every round: once autovacuum has analyzed pv_face
-- (after the first round's new persons), the planner prices a sequential
-- scan and sort of pv_face below the HNSW index, since the faces are stored
-- out of line (pgvector's storage is external) and reading them back is
-- not costed, and the trigger's nearest face becomes a scan of every face:
-- 18-21 captures/s instead of 822-900 in bench/RESULTS.md's runs.  A user
-- would find and fix it; the comparison is with the fixed trigger.
ALTER FUNCTION pv_match() SET enable_seqscan = off;
