-- firstsight 0.1.0, as released: frozen, never edit (docs/operations.md, "Upgrades")
\echo Use "CREATE EXTENSION firstsight" to load this file. \quit

-- src/sql/010_embedding_type.sql
-- The embedding type: pgvector's vector layout, text and binary formats.

CREATE TYPE embedding;

CREATE FUNCTION embedding_in(cstring, oid, integer) RETURNS embedding
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION embedding_out(embedding) RETURNS cstring
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION embedding_typmod_in(cstring[]) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION embedding_recv(internal, oid, integer) RETURNS embedding
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION embedding_send(embedding) RETURNS bytea
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- STORAGE main: a face-sized value (512 x 4 bytes) stays in the heap row,
-- uncompressed (float noise does not compress, and pglz gives up after its
-- first kilobyte), instead of going out of line to TOAST as it would with
-- extended or external storage.  Only a row that cannot fit a page at all is
-- moved out of line.  See bench/storage.sh.
CREATE TYPE embedding (
	INPUT     = embedding_in,
	OUTPUT    = embedding_out,
	TYPMOD_IN = embedding_typmod_in,
	RECEIVE   = embedding_recv,
	SEND      = embedding_send,
	STORAGE   = main,
	ALIGNMENT = int4
);

COMMENT ON TYPE embedding IS 'float4 vector of up to 16000 dimensions; embedding(N) fixes N';

-- typmod and array casts

CREATE FUNCTION embedding(embedding, integer, boolean) RETURNS embedding
	AS 'MODULE_PATHNAME', 'embedding_typmod_cast' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION array_to_embedding(integer[], integer, boolean) RETURNS embedding
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION array_to_embedding(real[], integer, boolean) RETURNS embedding
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION array_to_embedding(double precision[], integer, boolean) RETURNS embedding
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION array_to_embedding(numeric[], integer, boolean) RETURNS embedding
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION embedding_to_float4(embedding, integer, boolean) RETURNS real[]
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE CAST (embedding AS embedding)
	WITH FUNCTION embedding(embedding, integer, boolean) AS IMPLICIT;
CREATE CAST (integer[] AS embedding)
	WITH FUNCTION array_to_embedding(integer[], integer, boolean) AS ASSIGNMENT;
CREATE CAST (real[] AS embedding)
	WITH FUNCTION array_to_embedding(real[], integer, boolean) AS ASSIGNMENT;
CREATE CAST (double precision[] AS embedding)
	WITH FUNCTION array_to_embedding(double precision[], integer, boolean) AS ASSIGNMENT;
CREATE CAST (numeric[] AS embedding)
	WITH FUNCTION array_to_embedding(numeric[], integer, boolean) AS ASSIGNMENT;
CREATE CAST (embedding AS real[])
	WITH FUNCTION embedding_to_float4(embedding, integer, boolean) AS IMPLICIT;

-- src/sql/020_embedding_functions.sql
-- Distances, arithmetic, comparison and aggregates of embedding.

CREATE FUNCTION l2_distance(embedding, embedding) RETURNS float8
	AS 'MODULE_PATHNAME', 'embedding_l2_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION inner_product(embedding, embedding) RETURNS float8
	AS 'MODULE_PATHNAME', 'embedding_inner_product' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION cosine_distance(embedding, embedding) RETURNS float8
	AS 'MODULE_PATHNAME', 'embedding_cosine_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION l1_distance(embedding, embedding) RETURNS float8
	AS 'MODULE_PATHNAME', 'embedding_l1_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION dims(embedding) RETURNS integer
	AS 'MODULE_PATHNAME', 'embedding_dims' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION norm(embedding) RETURNS float8
	AS 'MODULE_PATHNAME', 'embedding_norm' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION l2_normalize(embedding) RETURNS embedding
	AS 'MODULE_PATHNAME', 'embedding_l2_normalize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION subvector(embedding, integer, integer) RETURNS embedding
	AS 'MODULE_PATHNAME', 'embedding_subvector' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- support functions of the index operator classes
CREATE FUNCTION embedding_l2_squared_distance(embedding, embedding) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION embedding_negative_inner_product(embedding, embedding) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION embedding_add(embedding, embedding) RETURNS embedding
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION embedding_sub(embedding, embedding) RETURNS embedding
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION embedding_mul(embedding, embedding) RETURNS embedding
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION embedding_concat(embedding, embedding) RETURNS embedding
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION embedding_lt(embedding, embedding) RETURNS bool
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION embedding_le(embedding, embedding) RETURNS bool
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION embedding_eq(embedding, embedding) RETURNS bool
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION embedding_ne(embedding, embedding) RETURNS bool
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION embedding_ge(embedding, embedding) RETURNS bool
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION embedding_gt(embedding, embedding) RETURNS bool
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION embedding_cmp(embedding, embedding) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION embedding_accum(double precision[], embedding) RETURNS double precision[]
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION embedding_combine(double precision[], double precision[]) RETURNS double precision[]
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION embedding_avg(double precision[]) RETURNS embedding
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE AGGREGATE avg(embedding) (
	SFUNC = embedding_accum,
	STYPE = double precision[],
	FINALFUNC = embedding_avg,
	COMBINEFUNC = embedding_combine,
	INITCOND = '{0}',
	PARALLEL = SAFE
);

CREATE AGGREGATE sum(embedding) (
	SFUNC = embedding_add,
	STYPE = embedding,
	COMBINEFUNC = embedding_add,
	PARALLEL = SAFE
);

-- operators, with pgvector's meaning
CREATE OPERATOR <-> (
	LEFTARG = embedding, RIGHTARG = embedding, FUNCTION = l2_distance, COMMUTATOR = '<->'
);
CREATE OPERATOR <#> (
	LEFTARG = embedding, RIGHTARG = embedding, FUNCTION = embedding_negative_inner_product, COMMUTATOR = '<#>'
);
CREATE OPERATOR <=> (
	LEFTARG = embedding, RIGHTARG = embedding, FUNCTION = cosine_distance, COMMUTATOR = '<=>'
);
CREATE OPERATOR <+> (
	LEFTARG = embedding, RIGHTARG = embedding, FUNCTION = l1_distance, COMMUTATOR = '<+>'
);
CREATE OPERATOR + (
	LEFTARG = embedding, RIGHTARG = embedding, FUNCTION = embedding_add, COMMUTATOR = +
);
CREATE OPERATOR - (
	LEFTARG = embedding, RIGHTARG = embedding, FUNCTION = embedding_sub
);
CREATE OPERATOR * (
	LEFTARG = embedding, RIGHTARG = embedding, FUNCTION = embedding_mul, COMMUTATOR = *
);
CREATE OPERATOR || (
	LEFTARG = embedding, RIGHTARG = embedding, FUNCTION = embedding_concat
);
CREATE OPERATOR < (
	LEFTARG = embedding, RIGHTARG = embedding, FUNCTION = embedding_lt,
	COMMUTATOR = >, NEGATOR = >=, RESTRICT = scalarltsel, JOIN = scalarltjoinsel
);
CREATE OPERATOR <= (
	LEFTARG = embedding, RIGHTARG = embedding, FUNCTION = embedding_le,
	COMMUTATOR = >=, NEGATOR = >, RESTRICT = scalarlesel, JOIN = scalarlejoinsel
);
CREATE OPERATOR = (
	LEFTARG = embedding, RIGHTARG = embedding, FUNCTION = embedding_eq,
	COMMUTATOR = =, NEGATOR = <>, RESTRICT = eqsel, JOIN = eqjoinsel
);
CREATE OPERATOR <> (
	LEFTARG = embedding, RIGHTARG = embedding, FUNCTION = embedding_ne,
	COMMUTATOR = <>, NEGATOR = =, RESTRICT = neqsel, JOIN = neqjoinsel
);
CREATE OPERATOR >= (
	LEFTARG = embedding, RIGHTARG = embedding, FUNCTION = embedding_ge,
	COMMUTATOR = <=, NEGATOR = <, RESTRICT = scalargesel, JOIN = scalargejoinsel
);
CREATE OPERATOR > (
	LEFTARG = embedding, RIGHTARG = embedding, FUNCTION = embedding_gt,
	COMMUTATOR = <, NEGATOR = <=, RESTRICT = scalargtsel, JOIN = scalargtjoinsel
);

CREATE OPERATOR CLASS embedding_ops
	DEFAULT FOR TYPE embedding USING btree AS
	OPERATOR 1 <,
	OPERATOR 2 <=,
	OPERATOR 3 =,
	OPERATOR 4 >=,
	OPERATOR 5 >,
	FUNCTION 1 embedding_cmp(embedding, embedding);

-- src/sql/030_simd.sql
-- Which distance kernels run.

CREATE FUNCTION simd_kernel() RETURNS text
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION simd_kernel() IS 'the active distance kernels: avx512, avx2, neon or scalar';

CREATE FUNCTION simd_kernels_supported() RETURNS text[]
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION simd_kernels_supported() IS 'the kernels this CPU can run, fastest first';

-- src/sql/040_blas.sql
-- Many-to-many cosine similarity with OpenBLAS.

CREATE FUNCTION similarity_pairs(a embedding[], b embedding[], max_distance float8)
	RETURNS TABLE (i integer, j integer, distance float8)
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 100;
COMMENT ON FUNCTION similarity_pairs(embedding[], embedding[], float8) IS
	'every pair (1-based positions) whose cosine distance is at most max_distance, computed with cblas_sgemm';

-- src/sql/050_pgvector_casts.sql
-- Casts between pgvector's vector and embedding, whichever extension came
-- first.  Both types share one binary layout, so the casts need no function;
-- typmods are still checked by each type's length coercion.
--
-- The casts are members of firstsight, so DROP EXTENSION firstsight removes
-- them.  Event triggers keep them in step with pgvector: created when vector
-- appears, and removed at the start of any DROP EXTENSION (recreated at its end
-- when vector is still there), so DROP EXTENSION vector works without CASCADE.

CREATE FUNCTION vector_type() RETURNS regtype
	LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
	SELECT t.oid::regtype
	FROM pg_type t
	JOIN pg_depend d ON d.classid = 'pg_type'::regclass AND d.objid = t.oid AND d.deptype = 'e'
	JOIN pg_extension e ON d.refclassid = 'pg_extension'::regclass AND d.refobjid = e.oid
	WHERE e.extname = 'vector' AND t.typname = 'vector'
$$;

CREATE FUNCTION create_vector_casts() RETURNS boolean
	LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	vtype regtype := firstsight.vector_type();
	c record;
BEGIN
	IF vtype IS NULL OR EXISTS (SELECT 1 FROM pg_cast
			WHERE castsource = vtype AND casttarget = 'firstsight.embedding'::regtype) THEN
		RETURN false;
	END IF;
	EXECUTE format('CREATE CAST (%s AS firstsight.embedding) WITHOUT FUNCTION AS ASSIGNMENT', vtype);
	EXECUTE format('CREATE CAST (firstsight.embedding AS %s) WITHOUT FUNCTION AS ASSIGNMENT', vtype);
	-- inside CREATE EXTENSION firstsight the casts are members already
	FOR c IN SELECT ct.castsource::regtype AS s, ct.casttarget::regtype AS t FROM pg_cast ct
		WHERE ((ct.castsource = vtype AND ct.casttarget = 'firstsight.embedding'::regtype)
			OR (ct.castsource = 'firstsight.embedding'::regtype AND ct.casttarget = vtype))
		AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_cast'::regclass
			AND d.objid = ct.oid AND d.deptype = 'e')
	LOOP
		EXECUTE format('ALTER EXTENSION firstsight ADD CAST (%s AS %s)', c.s, c.t);
	END LOOP;
	RETURN true;
END
$$;

CREATE FUNCTION drop_vector_casts() RETURNS boolean
	LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	vtype regtype := firstsight.vector_type();
BEGIN
	IF vtype IS NULL OR NOT EXISTS (SELECT 1 FROM pg_cast
			WHERE castsource = vtype AND casttarget = 'firstsight.embedding'::regtype) THEN
		RETURN false;
	END IF;
	EXECUTE format('ALTER EXTENSION firstsight DROP CAST (%s AS firstsight.embedding)', vtype);
	EXECUTE format('ALTER EXTENSION firstsight DROP CAST (firstsight.embedding AS %s)', vtype);
	EXECUTE format('DROP CAST (%s AS firstsight.embedding)', vtype);
	EXECUTE format('DROP CAST (firstsight.embedding AS %s)', vtype);
	RETURN true;
END
$$;

CREATE FUNCTION vector_casts_on_create() RETURNS event_trigger
	LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	PERFORM firstsight.create_vector_casts();
END
$$;

CREATE FUNCTION vector_casts_on_drop() RETURNS event_trigger
	LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	PERFORM firstsight.drop_vector_casts();
END
$$;

REVOKE ALL ON FUNCTION create_vector_casts(), drop_vector_casts(),
	vector_casts_on_create(), vector_casts_on_drop() FROM PUBLIC;

CREATE EVENT TRIGGER firstsight_vector_casts_create ON ddl_command_end
	WHEN TAG IN ('CREATE EXTENSION', 'DROP EXTENSION')
	EXECUTE FUNCTION vector_casts_on_create();
CREATE EVENT TRIGGER firstsight_vector_casts_drop ON ddl_command_start
	WHEN TAG IN ('DROP EXTENSION')
	EXECUTE FUNCTION vector_casts_on_drop();

SELECT create_vector_casts();

-- src/sql/100_hnsw.sql
-- The embedding_hnsw index access method and its operator classes.

CREATE FUNCTION embedding_hnsw_handler(internal) RETURNS index_am_handler
	AS 'MODULE_PATHNAME' LANGUAGE C;
CREATE ACCESS METHOD embedding_hnsw TYPE INDEX HANDLER embedding_hnsw_handler;
COMMENT ON ACCESS METHOD embedding_hnsw IS 'HNSW graph index for nearest-neighbour search over embeddings';

-- support function 1 is the distance the graph is ordered by
CREATE OPERATOR CLASS embedding_l2_ops
	DEFAULT FOR TYPE embedding USING embedding_hnsw AS
	OPERATOR 1 <-> (embedding, embedding) FOR ORDER BY float_ops,
	FUNCTION 1 embedding_l2_squared_distance(embedding, embedding);

CREATE OPERATOR CLASS embedding_ip_ops
	FOR TYPE embedding USING embedding_hnsw AS
	OPERATOR 1 <#> (embedding, embedding) FOR ORDER BY float_ops,
	FUNCTION 1 embedding_negative_inner_product(embedding, embedding);

CREATE OPERATOR CLASS embedding_cosine_ops
	FOR TYPE embedding USING embedding_hnsw AS
	OPERATOR 1 <=> (embedding, embedding) FOR ORDER BY float_ops,
	FUNCTION 1 cosine_distance(embedding, embedding);

CREATE FUNCTION index_check(index regclass) RETURNS SETOF text
	AS 'MODULE_PATHNAME', 'hnsw_index_check' LANGUAGE C STRICT;
COMMENT ON FUNCTION index_check(regclass) IS
	'structural check of an embedding_hnsw index: one row per problem; no rows means sound';
-- it holds a ShareLock on the index (writes to the table wait): not for
-- every role; the superuser grants it to whoever runs checks
REVOKE ALL ON FUNCTION index_check(regclass) FROM PUBLIC;

-- src/sql/200_domain_tables.sql
-- The sales-office model: projects, cameras, people and visits.
-- Every table leads its primary key with project_id (the Citus distribution
-- column and the gallery partition key).  Biometric data (embeddings and
-- photos) lives only in capture and face; expires_at on those rows is kept by
-- the privacy layer.  Captures carry no CHECK or NOT NULL constraints on their
-- camera-supplied columns on purpose: a violated constraint prints the failing
-- row, face included, in its error detail; the ingestion trigger validates
-- instead, with messages that show no biometric data.

CREATE SEQUENCE project_id_seq;
CREATE SEQUENCE channel_id_seq;
CREATE SEQUENCE consultant_id_seq;
CREATE SEQUENCE agent_id_seq;
CREATE SEQUENCE capture_id_seq;
CREATE SEQUENCE person_id_seq;
CREATE SEQUENCE face_id_seq;
CREATE SEQUENCE visit_id_seq;
CREATE SEQUENCE identity_id_seq;
CREATE SEQUENCE report_id_seq;
CREATE SEQUENCE deal_id_seq;

CREATE TABLE project (
	project_id bigint NOT NULL DEFAULT nextval('project_id_seq'),
	name text NOT NULL,
	time_zone text NOT NULL DEFAULT 'Asia/Shanghai',
	dims integer NOT NULL CHECK (dims BETWEEN 1 AND 16000),
	group_name text,
	created_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (project_id)
);
COMMENT ON TABLE project IS 'a sales office (案场): time zone and face model dimension; settings in project_setting';

CREATE TABLE camera (
	project_id bigint NOT NULL REFERENCES project,
	camera_id text NOT NULL,
	zone text NOT NULL DEFAULT 'other'
		CHECK (zone IN ('entrance', 'sign_in', 'sand_table', 'model_room', 'other')),
	name text,
	active boolean NOT NULL DEFAULT true,
	PRIMARY KEY (project_id, camera_id)
);

CREATE TABLE consultant (
	project_id bigint NOT NULL REFERENCES project,
	consultant_id bigint NOT NULL DEFAULT nextval('consultant_id_seq'),
	name text NOT NULL,
	active boolean NOT NULL DEFAULT true,
	PRIMARY KEY (project_id, consultant_id)
);

CREATE TABLE channel (
	project_id bigint NOT NULL REFERENCES project,
	channel_id bigint NOT NULL DEFAULT nextval('channel_id_seq'),
	kind text NOT NULL CHECK (kind IN ('natural', 'agency', 'platform', 'referral', 'staff')),
	name text NOT NULL,
	commission_rate numeric NOT NULL DEFAULT 0 CHECK (commission_rate >= 0 AND commission_rate < 1),
	protection_days integer NOT NULL DEFAULT 90 CHECK (protection_days >= 0),
	PRIMARY KEY (project_id, channel_id)
);
CREATE UNIQUE INDEX channel_one_natural ON channel (project_id) WHERE kind = 'natural';

CREATE TABLE agent (
	project_id bigint NOT NULL,
	agent_id bigint NOT NULL DEFAULT nextval('agent_id_seq'),
	channel_id bigint NOT NULL,
	name text NOT NULL,
	active boolean NOT NULL DEFAULT true,
	PRIMARY KEY (project_id, agent_id),
	FOREIGN KEY (project_id, channel_id) REFERENCES channel
);

-- A face identity within a project.  category and consent are the privacy
-- layer's; merged_into points at the person this one was merged into.
CREATE TABLE person (
	project_id bigint NOT NULL,
	person_id bigint NOT NULL DEFAULT nextval('person_id_seq'),
	first_seen timestamptz NOT NULL,
	last_seen timestamptz NOT NULL,
	visits integer NOT NULL DEFAULT 0,
	captures integer NOT NULL DEFAULT 0,
	category text NOT NULL DEFAULT 'visitor',
	merged_into bigint,
	merged_at timestamptz,
	created_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (project_id, person_id)
);
CREATE INDEX person_merged_into ON person (project_id, merged_into) WHERE merged_into IS NOT NULL;

-- What cameras insert.  person_id, visit_id and match_distance are filled by
-- the ingestion trigger in the same statement.
CREATE TABLE capture (
	project_id bigint,
	capture_id bigint NOT NULL DEFAULT nextval('capture_id_seq'),
	camera_id text,
	captured_at timestamptz,
	face embedding,
	quality real,
	masked boolean DEFAULT false,
	photo bytea,
	person_id bigint,
	visit_id bigint,
	match_distance float8,
	inserted_at timestamptz NOT NULL DEFAULT statement_timestamp(),
	expires_at timestamptz,
	PRIMARY KEY (project_id, capture_id)
);
ALTER TABLE capture ALTER COLUMN photo SET STORAGE external;
CREATE INDEX capture_person ON capture (project_id, person_id, captured_at);
CREATE INDEX capture_visit ON capture (project_id, visit_id);
COMMENT ON COLUMN capture.match_distance IS 'cosine distance to the matched gallery exemplar (or batch mate); null for the first capture of a new person';

-- The gallery: a few exemplars per person, matched against by new captures.
-- One partition per project (made by create_project), each with its own HNSW
-- index over face::embedding(dims) when embedding_hnsw is installed.
CREATE TABLE face (
	project_id bigint NOT NULL,
	face_id bigint NOT NULL DEFAULT nextval('face_id_seq'),
	person_id bigint NOT NULL,
	kind text NOT NULL CHECK (kind IN ('unmasked', 'masked', 'recent')),
	capture_id bigint NOT NULL,
	captured_at timestamptz NOT NULL,
	quality real NOT NULL,
	masked boolean NOT NULL,
	face embedding NOT NULL,
	expires_at timestamptz,
	PRIMARY KEY (project_id, face_id),
	UNIQUE (project_id, person_id, kind)
) PARTITION BY LIST (project_id);
COMMENT ON TABLE face IS 'gallery exemplars: best unmasked, best masked and most recent capture of each person';

-- Captures of one person less than the project's visit_gap apart.  The
-- attribution layer fills consultant_id / agent_id (firstsight.receive).
CREATE TABLE visit (
	project_id bigint NOT NULL,
	visit_id bigint NOT NULL DEFAULT nextval('visit_id_seq'),
	person_id bigint NOT NULL,
	started_at timestamptz NOT NULL,
	ended_at timestamptz NOT NULL,
	captures integer NOT NULL DEFAULT 0,
	first_camera_id text,
	first_capture_id bigint,
	seen_before boolean NOT NULL DEFAULT false,
	previous_visit_id bigint,
	previous_visit_at timestamptz,
	consultant_id bigint,
	agent_id bigint,
	received_at timestamptz,
	PRIMARY KEY (project_id, visit_id)
);
CREATE INDEX visit_person ON visit (project_id, person_id, started_at);
CREATE INDEX visit_started ON visit (project_id, started_at);
COMMENT ON COLUMN visit.seen_before IS 'the person had an earlier visit; previous_visit_id / previous_visit_at say which and when it ended';

-- Identity binding at subscription: keyed hashes only, never raw numbers.
CREATE TABLE identity (
	project_id bigint NOT NULL,
	identity_id bigint NOT NULL DEFAULT nextval('identity_id_seq'),
	person_id bigint NOT NULL,
	capture_id bigint,
	id_card_hash bytea,
	phone_hash bytea,
	phone_masked_hash bytea,
	bound_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (project_id, identity_id)
);
CREATE INDEX identity_person ON identity (project_id, person_id);
CREATE INDEX identity_id_card ON identity (project_id, id_card_hash) WHERE id_card_hash IS NOT NULL;
CREATE INDEX identity_phone ON identity (project_id, phone_hash) WHERE phone_hash IS NOT NULL;
CREATE INDEX identity_phone_masked ON identity (project_id, phone_masked_hash) WHERE phone_masked_hash IS NOT NULL;

-- An agency's report (报备); file_report and its rules belong to attribution.
CREATE TABLE report (
	project_id bigint NOT NULL,
	report_id bigint NOT NULL DEFAULT nextval('report_id_seq'),
	agent_id bigint NOT NULL,
	phone_hash bytea,
	phone_masked_hash bytea NOT NULL,
	reported_at timestamptz NOT NULL DEFAULT now(),
	created_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (project_id, report_id),
	FOREIGN KEY (project_id, agent_id) REFERENCES agent
);

CREATE TABLE deal (
	project_id bigint NOT NULL,
	deal_id bigint NOT NULL DEFAULT nextval('deal_id_seq'),
	person_id bigint NOT NULL,
	co_buyer_ids bigint[] NOT NULL DEFAULT '{}',
	signed_at timestamptz NOT NULL,
	price numeric NOT NULL CHECK (price >= 0),
	channel_id bigint,
	agent_id bigint,
	consultant_id bigint,
	created_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (project_id, deal_id),
	FOREIGN KEY (project_id, person_id) REFERENCES person,
	FOREIGN KEY (project_id, channel_id) REFERENCES channel,
	FOREIGN KEY (project_id, agent_id) REFERENCES agent,
	FOREIGN KEY (project_id, consultant_id) REFERENCES consultant
);

-- the per-database key for identity hashes; readable by the owner only
CREATE TABLE hash_key (
	key_id integer NOT NULL PRIMARY KEY CHECK (key_id = 1),
	secret bytea NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now()
);
REVOKE ALL ON hash_key FROM PUBLIC;

SELECT pg_catalog.pg_extension_config_dump('project', '');
SELECT pg_catalog.pg_extension_config_dump('camera', '');
SELECT pg_catalog.pg_extension_config_dump('consultant', '');
SELECT pg_catalog.pg_extension_config_dump('channel', '');
SELECT pg_catalog.pg_extension_config_dump('agent', '');
SELECT pg_catalog.pg_extension_config_dump('person', '');
SELECT pg_catalog.pg_extension_config_dump('capture', '');
SELECT pg_catalog.pg_extension_config_dump('visit', '');
SELECT pg_catalog.pg_extension_config_dump('identity', '');
SELECT pg_catalog.pg_extension_config_dump('report', '');
SELECT pg_catalog.pg_extension_config_dump('deal', '');
SELECT pg_catalog.pg_extension_config_dump('hash_key', '');

-- src/sql/210_settings.sql
-- Per-project settings: definitions with defaults, validated configure(),
-- and the project_settings view.  Later layers add their own settings by
-- inserting definitions.

CREATE TABLE setting_definition (
	setting text PRIMARY KEY,
	kind text NOT NULL CHECK (kind IN ('distance', 'interval', 'integer', 'choice')),
	default_value text NOT NULL,
	small_dims_default text,		-- default for face models of 128 dimensions or fewer
	allowed text[],					-- for kind = choice
	description text NOT NULL
);
COMMENT ON TABLE setting_definition IS 'project settings firstsight.configure accepts, with their defaults';

INSERT INTO setting_definition VALUES
	('match_distance', 'distance', '0.55', '0.07', NULL,
	 'cosine distance under which an unmasked capture matches a gallery face'),
	('masked_match_distance', 'distance', '0.65', '0.09', NULL,
	 'cosine distance under which a masked capture matches a gallery face'),
	('visit_gap', 'interval', '2 hours', NULL, NULL,
	 'captures of one person less than this apart form one visit'),
	('max_clock_skew', 'interval', '5 minutes', NULL, NULL,
	 'how far in the future captured_at may be before a capture is refused'),
	('attribution_mode', 'choice', 'report_protection', NULL, '{report_protection,first_visit}',
	 'report_protection: valid reports protect the agency; first_visit: the first visit decides'),
	('natural_ownership_days', 'integer', '180', NULL, NULL,
	 'days without a visit after which natural ownership lapses'),
	('consultant_ownership_days', 'integer', '30', NULL, NULL,
	 'days the first receiving consultant owns a person'),
	('report_validity', 'interval', '72 hours', NULL, NULL,
	 'how long a report protects before the visit it claims'),
	('consent_mode', 'choice', 'notice', NULL, '{notice,consent}',
	 'notice: faces kept under the retention policy; consent: unconsented faces kept until the end of the day'),
	('new_person_ef_search', 'integer', '400', NULL, NULL,
	 'candidate list of the wider gallery search (firstsight.hnsw_ef_search, at most 1000) a capture gets before it becomes a new person; 0: none'),
	('new_person_ef_step', 'integer', '120', NULL, NULL,
	 'candidate list of an intermediate search before the wider one (new_person_ef_search): only captures it leaves unmatched pay for the wider search; 0, or not below new_person_ef_search: none'),
	('exact_search_faces', 'integer', '100', NULL, NULL,
	 'a batch of at least 64 captures is matched by one exact OpenBLAS search of the whole gallery when the gallery has at most this many faces per capture of the batch; 0: never'),
	('recent_min_distance', 'distance', '0', NULL, NULL,
	 'a capture closer than this to the gallery face it matched does not become its person''s recent exemplar (it adds little the gallery does not match, and costs an index insert); 0 (the default): every capture may');

CREATE TABLE project_setting (
	project_id bigint NOT NULL REFERENCES project ON DELETE CASCADE,
	setting text NOT NULL REFERENCES setting_definition,
	value text NOT NULL,
	PRIMARY KEY (project_id, setting)
);
SELECT pg_catalog.pg_extension_config_dump('project_setting', '');

-- the default of a setting for a project of dims dimensions
CREATE FUNCTION setting_default(d setting_definition, dims integer) RETURNS text
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	AS $$ SELECT CASE WHEN dims <= 128 AND d.small_dims_default IS NOT NULL
	                  THEN d.small_dims_default ELSE d.default_value END $$;

CREATE VIEW project_settings AS
	SELECT p.project_id, d.setting,
	       coalesce(s.value, setting_default(d, p.dims)) AS value,
	       s.value IS NULL AS is_default
	FROM project p
	CROSS JOIN setting_definition d
	LEFT JOIN project_setting s ON s.project_id = p.project_id AND s.setting = d.setting;
COMMENT ON VIEW project_settings IS 'every setting of every project, with is_default when not configured';

-- the value of one setting of a project (NULL for an unknown project)
CREATE FUNCTION project_setting_value(p_project_id bigint, p_setting text) RETURNS text
	LANGUAGE sql STABLE PARALLEL SAFE
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
	SELECT coalesce(s.value, setting_default(d, p.dims))
	FROM project p
	JOIN setting_definition d ON d.setting = p_setting
	LEFT JOIN project_setting s ON s.project_id = p.project_id AND s.setting = d.setting
	WHERE p.project_id = p_project_id
	$$;

-- check a value against its definition; returns the normalised text
CREATE FUNCTION setting_check(d setting_definition, value text) RETURNS text
	LANGUAGE plpgsql STABLE
	SET search_path = firstsight, pg_catalog, pg_temp
	SET IntervalStyle = postgres
	AS $$
DECLARE
	n float8;
	i interval;
	k bigint;
BEGIN
	IF value IS NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = format('value for setting "%s" must not be null', d.setting),
			HINT = format('Use firstsight.reset_setting(project_id, %L) to return to the default.', d.setting);
	END IF;
	CASE d.kind
	WHEN 'distance' THEN
		BEGIN
			n := value::float8;
		EXCEPTION WHEN invalid_text_representation THEN
			n := NULL;
		END;
		IF n IS NULL OR n = 'NaN'::float8 OR n <= 0 OR n >= 2 THEN
			RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
				MESSAGE = format('invalid value for setting "%s": "%s"', d.setting, value),
				DETAIL = 'A cosine distance threshold is a number greater than 0 and less than 2.',
				HINT = 'Typical thresholds are 0.4 to 0.6 for ArcFace-like 512-dimension models and 0.05 to 0.08 for 128-dimension models; firstsight.calibrate proposes one from verified identities.';
		END IF;
		RETURN n::text;
	WHEN 'interval' THEN
		BEGIN
			i := value::interval;
		EXCEPTION WHEN invalid_datetime_format OR datetime_field_overflow OR interval_field_overflow OR syntax_error THEN
			i := NULL;
		END;
		IF i IS NULL OR i <= interval '0' THEN
			RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
				MESSAGE = format('invalid value for setting "%s": "%s"', d.setting, value),
				DETAIL = 'The value must be a positive interval.',
				HINT = format('For example %L.', d.default_value);
		END IF;
		RETURN i::text;
	WHEN 'integer' THEN
		BEGIN
			k := value::bigint;
		EXCEPTION WHEN invalid_text_representation OR numeric_value_out_of_range THEN
			k := NULL;
		END;
		IF k IS NULL OR k < 0 OR k > 36500 THEN
			RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
				MESSAGE = format('invalid value for setting "%s": "%s"', d.setting, value),
				DETAIL = CASE WHEN d.setting LIKE '%\_days' THEN 'The value must be a whole number of days from 0 to 36500.'
				              ELSE 'The value must be a whole number from 0 to 36500.' END,
				HINT = format('For example %L.', d.default_value);
		END IF;
		RETURN k::text;
	ELSE
		IF NOT value = ANY (d.allowed) THEN
			RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
				MESSAGE = format('invalid value for setting "%s": "%s"', d.setting, value),
				DETAIL = format('Allowed values: %s.', array_to_string(d.allowed, ', '));
		END IF;
		RETURN value;
	END CASE;
END
$$;

-- change a project setting (validated); returns the stored value
CREATE FUNCTION configure(project_id bigint, setting text, value text) RETURNS text
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	d setting_definition;
	v text;
BEGIN
	PERFORM 1 FROM project p WHERE p.project_id = configure.project_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
			MESSAGE = format('project %s does not exist', configure.project_id),
			HINT = 'Create it with firstsight.create_project(name).';
	END IF;
	SELECT * INTO d FROM setting_definition sd WHERE sd.setting = configure.setting;
	IF NOT FOUND THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = format('unknown setting "%s"', configure.setting),
			DETAIL = format('Allowed settings: %s.',
			                (SELECT string_agg(sd.setting, ', ' ORDER BY sd.setting) FROM setting_definition sd));
	END IF;
	v := setting_check(d, value);
	INSERT INTO project_setting AS s (project_id, setting, value)
		VALUES (configure.project_id, d.setting, v)
		ON CONFLICT ON CONSTRAINT project_setting_pkey DO UPDATE SET value = excluded.value;
	RETURN v;
END
$$;
COMMENT ON FUNCTION configure(bigint, text, text) IS 'change a project setting; unknown settings and bad values are refused';

-- return a project setting to its default
CREATE FUNCTION reset_setting(project_id bigint, setting text) RETURNS void
	LANGUAGE sql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$ DELETE FROM project_setting s WHERE s.project_id = reset_setting.project_id AND s.setting = reset_setting.setting $$;

-- src/sql/220_project.sql
-- Projects and their galleries.  Each project's gallery is a partition of
-- face with its own HNSW index over face::embedding(dims), so every project
-- matches at index speed whatever its face model's dimension.

-- the gallery partition of a project
CREATE FUNCTION gallery_table(project_id bigint) RETURNS regclass
	LANGUAGE sql STABLE
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$ SELECT to_regclass(format('firstsight.%I', 'face_p' || project_id)) $$;

-- create the HNSW index on a project's gallery if embedding_hnsw exists; true when one exists afterwards
CREATE FUNCTION create_gallery_index(project_id bigint) RETURNS boolean
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	dims integer;
	part regclass := gallery_table(create_gallery_index.project_id);
	idx text := 'face_p' || create_gallery_index.project_id || '_hnsw';
BEGIN
	SELECT p.dims INTO dims FROM project p WHERE p.project_id = create_gallery_index.project_id;
	IF part IS NULL OR dims IS NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'undefined_object',
			MESSAGE = format('project %s has no gallery', create_gallery_index.project_id);
	END IF;
	IF to_regclass(format('firstsight.%I', idx)) IS NOT NULL THEN
		RETURN true;
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_am WHERE amname = 'embedding_hnsw')
	   OR NOT EXISTS (SELECT 1 FROM pg_opclass c JOIN pg_am a ON a.oid = c.opcmethod
	                  WHERE a.amname = 'embedding_hnsw' AND c.opcname = 'embedding_cosine_ops') THEN
		RETURN false;		-- exact search until the index access method is installed
	END IF;
	EXECUTE format('CREATE INDEX %I ON %s USING embedding_hnsw ((face::firstsight.embedding(%s)) firstsight.embedding_cosine_ops)',
	               idx, part, dims);
	RETURN true;
END
$$;
COMMENT ON FUNCTION create_gallery_index(bigint) IS 'HNSW index on a project''s gallery when embedding_hnsw is installed';

-- index every project's gallery that lacks one; the projects it indexed
CREATE FUNCTION create_gallery_indexes() RETURNS SETOF bigint
	LANGUAGE sql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
	SELECT p.project_id FROM project p
	WHERE to_regclass(format('firstsight.%I', 'face_p' || p.project_id || '_hnsw')) IS NULL
	  AND create_gallery_index(p.project_id)
	ORDER BY p.project_id
	$$;

-- a new sales office with its natural channel and gallery; returns its id
CREATE FUNCTION create_project(name text, time_zone text DEFAULT 'Asia/Shanghai', dims integer DEFAULT 512)
	RETURNS bigint
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	id bigint;
BEGIN
	IF name IS NULL OR btrim(name) = '' THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = 'project name must not be empty';
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_timezone_names WHERE pg_timezone_names.name = create_project.time_zone) THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = format('unknown time zone "%s"', time_zone),
			HINT = 'Use a name from pg_timezone_names, such as Asia/Shanghai.';
	END IF;
	IF dims IS NULL OR dims < 1 OR dims > 16000 THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = format('face model dimension %s is out of range', coalesce(dims::text, 'NULL')),
			DETAIL = 'dims is the length of the cameras'' face embeddings: 128 for dlib or face-api, 512 for ArcFace.',
			HINT = 'Give a dimension from 1 to 16000.';
	END IF;
	INSERT INTO project (name, time_zone, dims) VALUES (name, time_zone, dims) RETURNING project_id INTO id;
	INSERT INTO channel (project_id, kind, name) VALUES (id, 'natural', 'natural visitor');
	-- fillfactor 60: room on each page for a new version of a row, so an
	-- update that leaves the face alone (privacy's expires_at, refreshed when
	-- a person returns) is a HOT update with no index entry; on a full page
	-- it cost an HNSW insert per gallery row (docs/domain.md, Gallery storage)
	EXECUTE format('CREATE TABLE firstsight.%I PARTITION OF firstsight.face FOR VALUES IN (%s) WITH (fillfactor = 60)',
	               'face_p' || id, id);
	PERFORM create_gallery_index(id);
	RETURN id;
END
$$;
COMMENT ON FUNCTION create_project(text, text, integer) IS 'new project with its natural channel and gallery partition; returns project_id';

-- src/sql/230_ingest.sql
-- Camera ingestion: a statement-level trigger with a transition table
-- validates every new capture, matches the whole statement as one batch
-- (gallery search per capture, OpenBLAS for the batch against itself), makes
-- persons and visits, improves the gallery and writes person_id, visit_id and
-- match_distance back, all in the inserting statement.

CREATE FUNCTION face_clusters(faces embedding[], masked boolean[], max_distance float8, masked_max_distance float8)
	RETURNS integer[]
	AS 'MODULE_PATHNAME', 'fs_face_clusters' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION face_clusters(embedding[], boolean[], float8, float8) IS
	'for each face, the first 1-based position of its group of faces within the thresholds (OpenBLAS pairs, union-find)';

-- the nearest gallery face of each query face, by index when the gallery has one
-- (C: one kept SPI plan per project, see src/domain/gallery.c)
-- ef_search > 0 widens the index search for this call (at least that candidate
-- list, at most 1000); ingestion uses it before a capture becomes a new person
CREATE FUNCTION gallery_nearest(project_id bigint, faces embedding[], ef_search integer DEFAULT 0)
	RETURNS TABLE (ord integer, person_id bigint, distance float8)
	AS 'MODULE_PATHNAME', 'fs_gallery_nearest' LANGUAGE C STABLE STRICT;
COMMENT ON FUNCTION gallery_nearest(bigint, embedding[], integer) IS
	'nearest gallery face of each query face (1-based ord), by the project''s HNSW index when it has one; ef_search > 0 searches with at least that candidate list';

-- the same, exactly: one pass over the project's gallery, the whole batch
-- against each block of gallery faces with OpenBLAS (src/domain/gallery.c);
-- ingestion uses it for large batches (setting exact_search_faces)
CREATE FUNCTION gallery_nearest_exact(project_id bigint, faces embedding[])
	RETURNS TABLE (ord integer, person_id bigint, distance float8)
	AS 'MODULE_PATHNAME', 'fs_gallery_nearest_exact' LANGUAGE C STABLE STRICT;
COMMENT ON FUNCTION gallery_nearest_exact(bigint, embedding[]) IS
	'nearest gallery face of each query face (1-based ord) by an exact OpenBLAS search of the whole gallery';

-- recompute returning / previous visit for every visit of some persons
CREATE FUNCTION refresh_visit_chain(p_project_id bigint, p_person_ids bigint[]) RETURNS void
	LANGUAGE sql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
	UPDATE visit v
	SET seen_before = c.prev_id IS NOT NULL, previous_visit_id = c.prev_id, previous_visit_at = c.prev_end
	FROM (SELECT visit_id,
	             lag(visit_id) OVER w AS prev_id,
	             lag(ended_at) OVER w AS prev_end
	      FROM visit
	      WHERE project_id = p_project_id AND person_id = ANY (p_person_ids)
	      WINDOW w AS (PARTITION BY person_id ORDER BY started_at, visit_id)) c
	WHERE v.project_id = p_project_id AND v.visit_id = c.visit_id
	  AND (v.previous_visit_id IS DISTINCT FROM c.prev_id OR v.previous_visit_at IS DISTINCT FROM c.prev_end
	       OR v.seen_before <> (c.prev_id IS NOT NULL))
	$$;

-- match one project's new captures (arrays in captured_at order) and record the results;
-- p_row: one capture not yet written (the single-row path, capture_ingest_row):
-- its person, visit, match distance and expiry (and its photo's, should it
-- have one) are returned instead of written to the capture
CREATE FUNCTION ingest_batch(p_project_id bigint, ids bigint[], faces embedding[], masks boolean[],
                             ts timestamptz[], quality real[], cams text[], p_row boolean DEFAULT false)
	RETURNS TABLE (o_person_id bigint, o_visit_id bigint, o_distance float8,
	               o_expires_at timestamptz, o_photo_expires_at timestamptz)
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	SET plan_cache_mode = force_generic_plan	-- replanning the visit statement per capture costs ~1 ms
	AS $$
DECLARE
	cnt integer := cardinality(ids);
	thr float8;
	mthr float8;
	gap interval;
	wide_ef integer;
	step_ef integer;
	exact_faces integer;
	recent_min float8;
	dims integer;
	tz text;
	row_visit bigint;
	row_expiry timestamptz[];
	last_person bigint;
	use_exact boolean := false;
	persons bigint[] := array_fill(NULL::bigint, ARRAY[cnt]);
	dist float8[] := array_fill(NULL::float8, ARRAY[cnt]);
	labels integer[];
	todo integer[];
	new_ids bigint[];
	chain bigint[];
	opened bigint[];
	r record;
	i integer;
	pos integer;
	k integer;
BEGIN
	-- the project's settings in one query
	-- the project's settings in one query, and the newest person: any person
	-- made after this point has a larger id (new persons get their ids under
	-- the advisory lock of step 2 and commit before it is released)
	SELECT max(v) FILTER (WHERE setting = 'match_distance')::float8,
	       max(v) FILTER (WHERE setting = 'masked_match_distance')::float8,
	       max(v) FILTER (WHERE setting = 'visit_gap')::interval,
	       max(v) FILTER (WHERE setting = 'new_person_ef_search')::integer,
	       max(v) FILTER (WHERE setting = 'new_person_ef_step')::integer,
	       max(v) FILTER (WHERE setting = 'exact_search_faces')::integer,
	       max(v) FILTER (WHERE setting = 'recent_min_distance')::float8,
	       max(x.dims), max(x.time_zone),
	       (SELECT max(person_id) FROM person WHERE project_id = p_project_id)
	INTO thr, mthr, gap, wide_ef, step_ef, exact_faces, recent_min, dims, tz, last_person
	FROM (SELECT d.setting, p.dims, p.time_zone, coalesce(s.value, setting_default(d, p.dims)) AS v
	      FROM project p
	      JOIN setting_definition d ON d.setting IN ('match_distance', 'masked_match_distance', 'visit_gap',
	                                                 'new_person_ef_search', 'new_person_ef_step', 'exact_search_faces',
	                                                 'recent_min_distance')
	      LEFT JOIN project_setting s ON s.project_id = p.project_id AND s.setting = d.setting
	      WHERE p.project_id = p_project_id) x;

	-- 1. each capture against the gallery: by the index, or, for a batch large
	-- against the gallery (at most exact_search_faces gallery rows per
	-- capture, and at least 64 captures), by one exact OpenBLAS pass over it
	IF cnt >= 64 AND exact_faces > 0 THEN
		SELECT cnt::float8 * exact_faces >= CASE WHEN c.reltuples >= 0 THEN c.reltuples
		                                         ELSE pg_relation_size(c.oid) / (4.0 * dims + 64) END
		INTO use_exact
		FROM pg_class c WHERE c.oid = to_regclass(format('firstsight.face_p%s', p_project_id));
		use_exact := coalesce(use_exact, false);
	END IF;
	FOR r IN SELECT * FROM gallery_nearest_exact(p_project_id, faces) WHERE use_exact
	         UNION ALL
	         SELECT * FROM gallery_nearest(p_project_id, faces) WHERE NOT use_exact LOOP
		IF r.distance <= (CASE WHEN masks[r.ord] THEN mthr ELSE thr END) THEN
			persons[r.ord] := r.person_id;
			dist[r.ord] := r.distance;
		END IF;
	END LOOP;

	-- 2. unmatched captures: the index may have missed the person (HNSW finds a
	-- near-duplicate's gallery face in most searches, not all), so first search
	-- again with a much longer candidate list (new_person_ef_search; no lock
	-- held, only captures that would become new persons pay for it; not after
	-- an exact search, which misses nothing); then serialise new-person
	-- creation per project and look again, as widely, because a concurrent
	-- camera may just have created the person -- only when one did: a project
	-- whose newest person is still the one read before step 1 has no person
	-- this search has not seen
	FOR pos IN 1 .. cnt LOOP
		IF persons[pos] IS NULL THEN
			todo := todo || pos;
		END IF;
	END LOOP;
	-- passes 1 and 2 without the lock (skipped when new_person_ef_search is 0
	-- or the search was exact): pass 1 at new_person_ef_step, which finds most
	-- of the first search's misses for a fraction of the wider search's cost
	-- (skipped when 0 or not below new_person_ef_search), pass 2 at
	-- new_person_ef_search for what it left; pass 3 under the lock, as widely
	-- (skipped when no person was made since)
	FOR pass IN 1 .. 3 LOOP
		CONTINUE WHEN todo IS NULL OR (pass < 3 AND (wide_ef = 0 OR use_exact))
		              OR (pass = 1 AND NOT (step_ef > 0 AND step_ef < wide_ef));
		IF pass = 3 THEN
			PERFORM pg_advisory_xact_lock(hashtextextended('firstsight.new_person', p_project_id));
			EXIT WHEN (SELECT max(person_id) FROM person WHERE project_id = p_project_id)
			          IS NOT DISTINCT FROM last_person;
		END IF;
		FOR r IN SELECT * FROM gallery_nearest(p_project_id, (SELECT array_agg(faces[j] ORDER BY j) FROM unnest(todo) j),
		                                       CASE WHEN pass = 1 THEN step_ef ELSE wide_ef END) LOOP
			k := todo[r.ord];
			IF r.distance <= (CASE WHEN masks[k] THEN mthr ELSE thr END) THEN
				persons[k] := r.person_id;
				dist[k] := r.distance;
			END IF;
		END LOOP;
		SELECT array_agg(j ORDER BY j) INTO todo FROM unnest(todo) j WHERE persons[j] IS NULL;
	END LOOP;

	-- 3. the batch against itself (OpenBLAS): one new person per group of still unmatched captures
	IF todo IS NOT NULL THEN
		IF cardinality(todo) > 1 THEN
			labels := face_clusters((SELECT array_agg(faces[j] ORDER BY o) FROM unnest(todo) WITH ORDINALITY AS u(j, o)),
			                        (SELECT array_agg(masks[j] ORDER BY o) FROM unnest(todo) WITH ORDINALITY AS u(j, o)),
			                        thr, mthr);
		ELSE
			labels := ARRAY[1];
		END IF;
		new_ids := array_fill(NULL::bigint, ARRAY[cardinality(todo)]);
		FOR k IN 1 .. cardinality(todo) LOOP
			i := todo[k];
			IF labels[k] = k THEN
				new_ids[k] := nextval('person_id_seq');
				persons[i] := new_ids[k];
			ELSE
				persons[i] := new_ids[labels[k]];
				dist[i] := faces[i] <=> faces[todo[labels[k]]];
			END IF;
		END LOOP;
		new_ids := array_remove(new_ids, NULL);
		-- (with the day end of that last_seen: step 5 then moves the retention
		-- clock, and re-dates rows, only if the batch reaches a later day)
		INSERT INTO person (project_id, person_id, first_seen, last_seen, retention_day_end)
		SELECT p_project_id, c.person_id, min(c.captured_at), min(c.captured_at), end_of_day(min(c.captured_at), tz)
		FROM unnest(persons, ts) AS c(person_id, captured_at)
		WHERE c.person_id = ANY (new_ids)
		GROUP BY c.person_id;
	END IF;

	-- 4. known persons are locked so concurrent cameras extend one visit, not two
	PERFORM 1 FROM person p
	WHERE p.project_id = p_project_id AND p.person_id = ANY (persons)
	  AND (new_ids IS NULL OR p.person_id <> ALL (new_ids))
	ORDER BY p.person_id FOR UPDATE;

	-- 5. visits by the gap rule, then captures, persons and visits in one statement;
	-- each capture gets its expiry here, from its person's retention terms with
	-- the last_seen this statement gives them (privacy: 400_privacy_retention.sql;
	-- the person's older rows are re-dated by person_expiry only when the local
	-- day of last_seen moves, so upd_person sets retention_day_end)
	WITH c AS (
		SELECT * FROM unnest(ids, persons, dist, ts, cams) WITH ORDINALITY
			AS c(capture_id, person_id, distance, captured_at, camera_id, ord)
	), l AS (
		SELECT c.*, lag(captured_at) OVER (PARTITION BY person_id ORDER BY captured_at, capture_id) AS lag_ts
		FROM c
	), g AS (
		SELECT l.*, count(*) FILTER (WHERE lag_ts IS NULL OR captured_at - lag_ts >= gap)
			OVER (PARTITION BY person_id ORDER BY captured_at, capture_id) AS grp
		FROM l
	), groups AS (
		SELECT person_id, grp, min(captured_at) AS s, max(captured_at) AS e, count(*)::integer AS n,
		       (array_agg(camera_id ORDER BY captured_at, capture_id))[1] AS first_cam,
		       (array_agg(capture_id ORDER BY captured_at, capture_id))[1] AS first_cap
		FROM g GROUP BY person_id, grp
	), assigned AS MATERIALIZED (
		SELECT groups.*, coalesce(v.visit_id, nextval('visit_id_seq')) AS visit_id, v.visit_id IS NULL AS is_new,
		       pv.visit_id AS prev_id, pv.started_at AS prev_start, pv.ended_at AS prev_end,
		       EXISTS (SELECT 1 FROM visit x WHERE x.project_id = p_project_id AND x.person_id = groups.person_id
		               AND x.started_at > groups.s) AS out_of_order
		FROM groups
		LEFT JOIN LATERAL (
			SELECT x.visit_id FROM visit x
			WHERE x.project_id = p_project_id AND x.person_id = groups.person_id
			  AND x.started_at - gap < groups.e AND x.ended_at + gap > groups.s
			ORDER BY x.started_at LIMIT 1) v ON true
		LEFT JOIN LATERAL (
			SELECT x.visit_id, x.started_at, x.ended_at FROM visit x
			WHERE x.project_id = p_project_id AND x.person_id = groups.person_id AND x.started_at < groups.s
			ORDER BY x.started_at DESC LIMIT 1) pv ON true
	), chained AS (
		SELECT a.*,
		       lag(visit_id) OVER w AS batch_prev_id, lag(e) OVER w AS batch_prev_end, lag(s) OVER w AS batch_prev_start
		FROM assigned a WINDOW w AS (PARTITION BY person_id ORDER BY s)
	), upd_visit AS (
		UPDATE visit v
		SET started_at = least(v.started_at, a.s),
		    ended_at = greatest(v.ended_at, a.e),
		    captures = v.captures + a.n,
		    first_camera_id = CASE WHEN a.s < v.started_at THEN a.first_cam ELSE v.first_camera_id END,
		    first_capture_id = CASE WHEN a.s < v.started_at THEN a.first_cap ELSE v.first_capture_id END
		FROM assigned a
		WHERE NOT a.is_new AND v.project_id = p_project_id AND v.visit_id = a.visit_id
	), ins_visit AS (
		INSERT INTO visit (project_id, visit_id, person_id, started_at, ended_at, captures,
		                   first_camera_id, first_capture_id, seen_before, previous_visit_id, previous_visit_at)
		SELECT p_project_id, a.visit_id, a.person_id, a.s, a.e, a.n, a.first_cam, a.first_cap,
		       coalesce(a.batch_prev_id, a.prev_id) IS NOT NULL,
		       CASE WHEN a.batch_prev_id IS NOT NULL AND (a.prev_id IS NULL OR a.batch_prev_start >= a.prev_start)
		            THEN a.batch_prev_id ELSE a.prev_id END,
		       CASE WHEN a.batch_prev_id IS NOT NULL AND (a.prev_id IS NULL OR a.batch_prev_start >= a.prev_start)
		            THEN a.batch_prev_end ELSE a.prev_end END
		FROM chained a WHERE a.is_new
	), terms AS MATERIALIZED (
		SELECT person_id, retention_terms(p_project_id, person_id, max(e)) AS t FROM assigned GROUP BY person_id
	), upd_capture AS (
		UPDATE capture x
		SET person_id = g.person_id, visit_id = a.visit_id, match_distance = g.distance,
		    expires_at = CASE WHEN x.face IS NOT NULL THEN expiry(tm.t, x.captured_at) END,
		    photo_expires_at = CASE WHEN x.photo IS NOT NULL THEN photo_expiry(tm.t, x.captured_at) END
		FROM g JOIN assigned a ON a.person_id = g.person_id AND a.grp = g.grp
		JOIN terms tm ON tm.person_id = g.person_id
		WHERE NOT p_row AND x.project_id = p_project_id AND x.capture_id = g.capture_id
	), upd_person AS (
		UPDATE person p
		SET first_seen = least(p.first_seen, s.s), last_seen = greatest(p.last_seen, s.e),
		    captures = p.captures + s.n, visits = p.visits + s.new_visits,
		    retention_day_end = end_of_day(greatest(p.last_seen, s.e), tz)
		FROM (SELECT person_id, min(s) AS s, max(e) AS e, sum(n) AS n, count(*) FILTER (WHERE is_new) AS new_visits
		      FROM assigned GROUP BY person_id) s
		WHERE p.project_id = p_project_id AND p.person_id = s.person_id
	)
	SELECT array_agg(DISTINCT person_id) FILTER (WHERE is_new AND out_of_order),
	       array_agg(visit_id) FILTER (WHERE is_new),
	       min(visit_id),
	       CASE WHEN p_row THEN (SELECT ARRAY[expiry(tm.t, ts[1]), photo_expiry(tm.t, ts[1])] FROM terms tm LIMIT 1) END
	INTO chain, opened, row_visit, row_expiry FROM assigned;
	IF chain IS NOT NULL THEN
		PERFORM refresh_visit_chain(p_project_id, chain);
	END IF;

	-- notifications: visitor.new / visitor.returned for the visits opened here, in
	-- this transaction (src/sql/500_notifications.sql)
	IF opened IS NOT NULL THEN
		PERFORM emit_visit_events(p_project_id, opened, new_ids);
	END IF;

	-- 6. the gallery: best unmasked and best masked exemplar, and a recent one per visit
	-- (rows that would not replace the stored exemplar are left out before the
	-- INSERT: its row triggers and the index insert attempt cost more than the check;
	-- a capture closer than recent_min_distance to the gallery face it matched
	-- is not stored as the recent exemplar: it adds nothing the gallery does
	-- not already match, and each one is an index insert)
	INSERT INTO face AS f (project_id, person_id, kind, capture_id, captured_at, quality, masked, face)
	SELECT p_project_id, c.person_id, c.kind, c.capture_id, c.captured_at, c.quality, c.masked, c.face
	FROM (SELECT DISTINCT ON (c.person_id, c.masked) c.*, CASE WHEN c.masked THEN 'masked' ELSE 'unmasked' END AS kind
	      FROM unnest(ids, persons, ts, quality, masks, faces) AS c(capture_id, person_id, captured_at, quality, masked, face)
	      ORDER BY c.person_id, c.masked, c.quality DESC, c.captured_at DESC) c
	WHERE NOT EXISTS (SELECT 1 FROM face x WHERE x.project_id = p_project_id AND x.person_id = c.person_id
	                  AND x.kind = c.kind AND NOT (c.quality > x.quality + 0.05))
	ON CONFLICT (project_id, person_id, kind) DO UPDATE
	SET capture_id = excluded.capture_id, captured_at = excluded.captured_at, quality = excluded.quality,
	    face = excluded.face
	WHERE excluded.quality > f.quality + 0.05;

	INSERT INTO face AS f (project_id, person_id, kind, capture_id, captured_at, quality, masked, face)
	SELECT p_project_id, c.person_id, 'recent', c.capture_id, c.captured_at, c.quality, c.masked, c.face
	FROM (SELECT DISTINCT ON (c.person_id) c.*
	      FROM unnest(ids, persons, ts, quality, masks, faces, dist)
	           AS c(capture_id, person_id, captured_at, quality, masked, face, distance)
	      ORDER BY c.person_id, c.captured_at DESC, c.quality DESC) c
	WHERE (c.distance IS NULL OR c.distance >= recent_min)
	  AND NOT EXISTS (SELECT 1 FROM face x WHERE x.project_id = p_project_id AND x.person_id = c.person_id
	                  AND x.captured_at > c.captured_at - gap)
	ON CONFLICT (project_id, person_id, kind) DO UPDATE
	SET capture_id = excluded.capture_id, captured_at = excluded.captured_at, quality = excluded.quality,
	    masked = excluded.masked, face = excluded.face;

	IF p_row THEN
		RETURN QUERY SELECT persons[1], row_visit, dist[1], row_expiry[1], row_expiry[2];
	END IF;
END
$$;

-- statement trigger: validate, then match each project's captures as one batch
CREATE FUNCTION capture_ingest() RETURNS trigger
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	bad record;
	b record;
BEGIN
	-- one pass groups the captures by project and checks them; only a statement
	-- with a bad capture runs the second query that finds its first bad capture
	FOR b IN
		SELECT n.project_id,
		       bool_or(bool_or(p.project_id IS NULL OR c.camera_id IS NULL OR n.face IS NULL OR dims(n.face) <> p.dims
		                       OR n.captured_at IS NULL
		                       OR n.captured_at > statement_timestamp() + coalesce(s.value, setting_default(d, p.dims))::interval
		                       OR n.quality IS NULL OR NOT (n.quality >= 0 AND n.quality <= 1)
		                       OR n.masked IS NULL OR n.person_id IS NOT NULL OR n.visit_id IS NOT NULL
		                       OR n.match_distance IS NOT NULL)) OVER () AS any_bad,
		       array_agg(n.capture_id ORDER BY n.captured_at, n.capture_id) AS ids,
		       array_agg(n.face ORDER BY n.captured_at, n.capture_id) AS faces,
		       array_agg(n.masked ORDER BY n.captured_at, n.capture_id) AS masks,
		       array_agg(n.captured_at ORDER BY n.captured_at, n.capture_id) AS ts,
		       array_agg(n.quality ORDER BY n.captured_at, n.capture_id) AS quality,
		       array_agg(n.camera_id ORDER BY n.captured_at, n.capture_id) AS cams
		FROM new_rows n
		LEFT JOIN project p ON p.project_id = n.project_id
		LEFT JOIN setting_definition d ON d.setting = 'max_clock_skew'
		LEFT JOIN project_setting s ON s.project_id = p.project_id AND s.setting = d.setting
		LEFT JOIN camera c ON c.project_id = n.project_id AND c.camera_id = n.camera_id
		GROUP BY n.project_id ORDER BY n.project_id
	LOOP
		IF b.any_bad IS NOT FALSE THEN
			WITH ps AS (
				SELECT p.project_id, p.dims, coalesce(s.value, setting_default(d, p.dims))::interval AS skew
				FROM project p
				JOIN setting_definition d ON d.setting = 'max_clock_skew'
				LEFT JOIN project_setting s ON s.project_id = p.project_id AND s.setting = d.setting
				WHERE p.project_id IN (SELECT DISTINCT project_id FROM new_rows)
			)
			SELECT n.project_id, n.capture_id, n.camera_id, n.captured_at, n.quality, n.masked,
			       n.person_id, n.visit_id, n.match_distance,
			       n.face IS NULL AS no_face, CASE WHEN n.face IS NOT NULL THEN dims(n.face) END AS face_dims,
			       ps.dims, ps.skew, ps.project_id IS NOT NULL AS has_project, c.camera_id IS NOT NULL AS has_camera
			INTO bad
			FROM new_rows n
			LEFT JOIN ps ON ps.project_id = n.project_id
			LEFT JOIN camera c ON c.project_id = n.project_id AND c.camera_id = n.camera_id
			WHERE ps.project_id IS NULL OR c.camera_id IS NULL OR n.face IS NULL OR dims(n.face) <> ps.dims
			   OR n.captured_at IS NULL OR n.captured_at > statement_timestamp() + ps.skew
			   OR n.quality IS NULL OR NOT (n.quality >= 0 AND n.quality <= 1)
			   OR n.masked IS NULL OR n.person_id IS NOT NULL OR n.visit_id IS NOT NULL OR n.match_distance IS NOT NULL
			ORDER BY n.capture_id LIMIT 1;
			IF FOUND THEN
				PERFORM capture_reject(bad);
			END IF;
		END IF;
		PERFORM ingest_batch(b.project_id, b.ids, b.faces, b.masks, b.ts, b.quality, b.cams);
	END LOOP;
	RETURN NULL;
END
$$;

-- raise the error for the first bad capture of a statement; shows no biometric data
CREATE FUNCTION capture_reject(bad record) RETURNS void
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	what text := format('The capture from camera %s at %s was refused; nothing from this statement was stored.',
	                    coalesce(quote_literal(bad.camera_id), 'NULL'), coalesce(bad.captured_at::text, 'NULL'));
BEGIN
	IF NOT bad.has_project THEN
		RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
			MESSAGE = format('project %s does not exist', coalesce(bad.project_id::text, 'NULL')),
			DETAIL = what, HINT = 'Create the project with firstsight.create_project and give the camera its project_id.';
	ELSIF NOT bad.has_camera THEN
		RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
			MESSAGE = format('camera %s is not registered in project %s', coalesce(quote_literal(bad.camera_id), 'NULL'), bad.project_id),
			DETAIL = what, HINT = 'Register it first: INSERT INTO firstsight.camera (project_id, camera_id, zone).';
	ELSIF bad.no_face THEN
		RAISE EXCEPTION USING ERRCODE = 'not_null_violation',
			MESSAGE = 'capture has no face embedding',
			DETAIL = what, HINT = 'Every capture needs a face embedding.';
	ELSIF bad.face_dims <> bad.dims THEN
		RAISE EXCEPTION USING ERRCODE = 'data_exception',
			MESSAGE = format('face embedding has %s dimensions, project %s expects %s', bad.face_dims, bad.project_id, bad.dims),
			DETAIL = what, HINT = 'The camera''s face model must match the dims given to firstsight.create_project.';
	ELSIF bad.captured_at IS NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'not_null_violation',
			MESSAGE = 'capture has no captured_at time',
			DETAIL = what, HINT = 'Send the time the camera saw the face.';
	ELSIF bad.captured_at > statement_timestamp() + bad.skew THEN
		RAISE EXCEPTION USING ERRCODE = 'datetime_field_overflow',
			MESSAGE = 'captured_at is in the future',
			DETAIL = what, HINT = format('Captures may be at most %s ahead of the server clock (setting max_clock_skew); check the camera''s clock.', bad.skew);
	ELSIF bad.quality IS NULL OR NOT (bad.quality >= 0 AND bad.quality <= 1) THEN
		RAISE EXCEPTION USING ERRCODE = 'check_violation',
			MESSAGE = format('capture quality %s is outside 0 to 1', coalesce(bad.quality::text, 'NULL')),
			DETAIL = what, HINT = 'Scale the camera''s quality score to the range 0 to 1.';
	ELSIF bad.masked IS NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'not_null_violation',
			MESSAGE = 'capture has a null masked flag',
			DETAIL = what, HINT = 'Send true or false, or leave the column out (false).';
	ELSE
		RAISE EXCEPTION USING ERRCODE = 'generated_always',
			MESSAGE = 'person_id, visit_id and match_distance are filled by firstsight',
			DETAIL = what, HINT = 'Leave these columns out of the INSERT or COPY.';
	END IF;
END
$$;

-- The single-row path (src/domain/ingest.c): a statement that inserts exactly
-- one capture (INSERT ... VALUES of one row, as a camera sends it) is matched
-- by a BEFORE ROW trigger that fills the row before it is written (one row
-- version instead of an insert and an update), and the statement trigger is
-- skipped for it.  Multi-row INSERTs and COPY stay one batch.
CREATE FUNCTION ingest_single_row(rel regclass) RETURNS boolean
	AS 'MODULE_PATHNAME', 'fs_ingest_single_row' LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION ingest_single_row(regclass) IS
	'true once, for the row of a statement that inserts exactly one row into rel (capture ingestion''s single-row path)';
CREATE FUNCTION ingest_row_done() RETURNS void
	AS 'MODULE_PATHNAME', 'fs_ingest_row_done' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION ingest_row_done() IS 'the single-row path has filled the statement''s capture';
-- only capture_ingest_row (as the owner) says so: a caller who could would
-- make the next statement's batch trigger skip unfilled captures
REVOKE ALL ON FUNCTION ingest_row_done() FROM PUBLIC;
CREATE FUNCTION ingest_statement_pending() RETURNS boolean
	AS 'MODULE_PATHNAME', 'fs_ingest_statement_pending' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION ingest_statement_pending() IS 'false when the single-row path has filled the statement''s capture (the batch trigger is skipped)';

-- one capture, before it is written: the same checks and errors as the batch
-- (capture_reject), the same matching (ingest_batch with p_row)
CREATE FUNCTION capture_ingest_row() RETURNS trigger
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	bad record;
	r record;
BEGIN
	SELECT NEW.project_id, NEW.capture_id, NEW.camera_id, NEW.captured_at, NEW.quality, NEW.masked,
	       NEW.person_id, NEW.visit_id, NEW.match_distance,
	       NEW.face IS NULL AS no_face, CASE WHEN NEW.face IS NOT NULL THEN dims(NEW.face) END AS face_dims,
	       p.dims, coalesce(s.value, setting_default(d, p.dims))::interval AS skew,
	       p.project_id IS NOT NULL AS has_project, c.camera_id IS NOT NULL AS has_camera
	INTO bad
	FROM (SELECT 1) one
	LEFT JOIN project p ON p.project_id = NEW.project_id
	LEFT JOIN setting_definition d ON d.setting = 'max_clock_skew'
	LEFT JOIN project_setting s ON s.project_id = p.project_id AND s.setting = d.setting
	LEFT JOIN camera c ON c.project_id = NEW.project_id AND c.camera_id = NEW.camera_id;
	IF NOT bad.has_project OR NOT bad.has_camera OR bad.no_face OR bad.face_dims <> bad.dims
	   OR NEW.captured_at IS NULL OR NEW.captured_at > statement_timestamp() + bad.skew
	   OR NEW.quality IS NULL OR NOT (NEW.quality >= 0 AND NEW.quality <= 1)
	   OR NEW.masked IS NULL OR NEW.person_id IS NOT NULL OR NEW.visit_id IS NOT NULL
	   OR NEW.match_distance IS NOT NULL THEN
		PERFORM capture_reject(bad);
	END IF;
	SELECT * INTO r
	FROM ingest_batch(NEW.project_id, ARRAY[NEW.capture_id], ARRAY[NEW.face], ARRAY[NEW.masked],
	                  ARRAY[NEW.captured_at], ARRAY[NEW.quality], ARRAY[NEW.camera_id], true);
	NEW.person_id := r.o_person_id;
	NEW.visit_id := r.o_visit_id;
	NEW.match_distance := r.o_distance;
	NEW.expires_at := r.o_expires_at;
	NEW.photo_expires_at := CASE WHEN NEW.photo IS NOT NULL THEN r.o_photo_expires_at END;
	PERFORM ingest_row_done();
	RETURN NEW;
END
$$;

CREATE TRIGGER capture_ingest_row BEFORE INSERT ON capture
	FOR EACH ROW WHEN (firstsight.ingest_single_row('firstsight.capture'::regclass))
	EXECUTE FUNCTION capture_ingest_row();

CREATE TRIGGER capture_ingest AFTER INSERT ON capture
	REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT WHEN (firstsight.ingest_statement_pending())
	EXECUTE FUNCTION capture_ingest();

-- src/sql/240_identity.sql
-- Identity binding: keyed hashes (HMAC-SHA256 with a per-database key) of
-- ID-card and phone numbers; the raw numbers are never stored or logged.

CREATE FUNCTION hmac_sha256(key bytea, data bytea) RETURNS bytea
	AS 'MODULE_PATHNAME', 'fs_hmac_sha256' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION random_bytes(n integer) RETURNS bytea
	AS 'MODULE_PATHNAME', 'fs_random_bytes' LANGUAGE C VOLATILE STRICT;
REVOKE ALL ON FUNCTION hmac_sha256(bytea, bytea) FROM PUBLIC;

INSERT INTO hash_key (key_id, secret) VALUES (1, random_bytes(32));

-- an ID-card number in canonical form: upper case, no spaces; 18-character
-- PRC numbers must carry a valid check character
CREATE FUNCTION normalize_id_card(id_card text) RETURNS text
	LANGUAGE plpgsql IMMUTABLE
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	v text := upper(regexp_replace(id_card, '[\s-]', '', 'g'));
	weights integer[] := '{7,9,10,5,8,4,2,1,6,3,7,9,10,5,8,4,2}';
	s integer := 0;
BEGIN
	IF v !~ '^[0-9A-Z]{6,32}$' THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = 'ID-card number is not well formed',
			DETAIL = 'It must be 6 to 32 letters and digits.';
	END IF;
	IF v ~ '^[0-9]{17}[0-9X]$' THEN
		FOR i IN 1 .. 17 LOOP
			s := s + substr(v, i, 1)::integer * weights[i];
		END LOOP;
		IF substr('10X98765432', s % 11 + 1, 1) <> substr(v, 18, 1) THEN
			RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
				MESSAGE = 'ID-card number has a wrong check character',
				HINT = 'Check the number for a typing error.';
		END IF;
	END IF;
	RETURN v;
END
$$;

-- a phone number as digits only, without +86 / 0086
CREATE FUNCTION normalize_phone(phone text) RETURNS text
	LANGUAGE plpgsql IMMUTABLE
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	v text := regexp_replace(phone, '[\s()+.-]', '', 'g');
BEGIN
	IF v ~ '^0086[0-9]{11}$' THEN
		v := substr(v, 5);
	ELSIF v ~ '^86[0-9]{11}$' THEN
		v := substr(v, 3);
	END IF;
	IF v !~ '^[0-9]{7,15}$' THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = 'phone number is not well formed',
			DETAIL = 'It must be 7 to 15 digits, optionally with spaces, dashes or a +86 prefix.';
	END IF;
	RETURN v;
END
$$;

-- the first three and last four digits of a phone, full (13812348000) or masked (138****8000)
CREATE FUNCTION phone_mask(phone text) RETURNS text
	LANGUAGE plpgsql IMMUTABLE
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	v text := regexp_replace(phone, '[\s()+.-]', '', 'g');
BEGIN
	IF v ~ '^[0-9]{3}\*+[0-9]{4}$' THEN
		RETURN substr(v, 1, 3) || right(v, 4);
	END IF;
	v := normalize_phone(phone);
	RETURN substr(v, 1, 3) || right(v, 4);
END
$$;

-- the keyed hash of a normalised value of some kind (id_card, phone, phone_masked)
CREATE FUNCTION identity_hash(kind text, value text) RETURNS bytea
	LANGUAGE sql STABLE STRICT
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$ SELECT hmac_sha256(k.secret, convert_to(kind || ':' || value, 'UTF8')) FROM hash_key k WHERE k.key_id = 1 $$;
REVOKE ALL ON FUNCTION identity_hash(text, text) FROM PUBLIC;

-- the person a (possibly merged) person now is
CREATE FUNCTION current_person(p_project_id bigint, p_person_id bigint) RETURNS bigint
	LANGUAGE sql STABLE
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
	WITH RECURSIVE chain(person_id, merged_into, depth) AS (
		SELECT person_id, merged_into, 0 FROM person WHERE project_id = p_project_id AND person_id = p_person_id
		UNION ALL
		SELECT p.person_id, p.merged_into, c.depth + 1 FROM chain c
		JOIN person p ON p.project_id = p_project_id AND p.person_id = c.merged_into
		WHERE c.depth < 100)
	SELECT person_id FROM chain WHERE merged_into IS NULL
	$$;

-- bind verified ID-card and phone hashes to the person seen in a capture; returns the person
CREATE FUNCTION bind_identity(project_id bigint, capture_id bigint, id_card text, phone text)
	RETURNS bigint
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	pid bigint := bind_identity.project_id;
	who bigint;
	other bigint;
	card bytea;
	ph bytea;
	phm bytea;
BEGIN
	IF id_card IS NULL AND phone IS NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'null_value_not_allowed',
			MESSAGE = 'bind_identity needs an ID-card number or a phone number';
	END IF;
	SELECT current_person(pid, c.person_id) INTO who
	FROM capture c WHERE c.project_id = pid AND c.capture_id = bind_identity.capture_id;
	IF who IS NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
			MESSAGE = format('capture %s of project %s does not exist', bind_identity.capture_id, pid),
			HINT = 'Bind the identity to a capture taken at the subscription desk.';
	END IF;
	IF id_card IS NOT NULL THEN
		card := identity_hash('id_card', normalize_id_card(id_card));
	END IF;
	IF phone IS NOT NULL THEN
		ph := identity_hash('phone', normalize_phone(phone));
		phm := identity_hash('phone_masked', phone_mask(phone));
	END IF;
	-- one ID card is one person: a card already bound elsewhere merges the two
	IF card IS NOT NULL THEN
		FOR other IN
			SELECT DISTINCT current_person(pid, i.person_id) FROM identity i
			WHERE i.project_id = pid AND i.id_card_hash = card
		LOOP
			IF other IS NOT NULL AND other <> who THEN
				who := merge_person(pid, who, other);
			END IF;
		END LOOP;
	END IF;
	INSERT INTO identity (project_id, person_id, capture_id, id_card_hash, phone_hash, phone_masked_hash)
		VALUES (pid, who, bind_identity.capture_id, card, ph, phm);
	RETURN who;
END
$$;
COMMENT ON FUNCTION bind_identity(bigint, bigint, text, text) IS
	'bind keyed hashes of an ID card and phone to the person of a capture; a card bound to another person merges them';

-- src/sql/250_persons.sql
-- Person maintenance: merging duplicates (by hand, by ID card, or found with
-- OpenBLAS over the gallery) and splitting wrongly joined captures.

-- recompute a person's gallery exemplars from their captures
CREATE FUNCTION rebuild_gallery(p_project_id bigint, p_person_id bigint) RETURNS void
	LANGUAGE sql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
	DELETE FROM face WHERE project_id = p_project_id AND person_id = p_person_id;
	INSERT INTO face (project_id, person_id, kind, capture_id, captured_at, quality, masked, face)
	SELECT DISTINCT ON (c.masked) p_project_id, p_person_id, CASE WHEN c.masked THEN 'masked' ELSE 'unmasked' END,
	       c.capture_id, c.captured_at, c.quality, c.masked, c.face
	FROM capture c WHERE c.project_id = p_project_id AND c.person_id = p_person_id AND c.face IS NOT NULL
	ORDER BY c.masked, c.quality DESC, c.captured_at DESC;
	INSERT INTO face (project_id, person_id, kind, capture_id, captured_at, quality, masked, face)
	SELECT p_project_id, p_person_id, 'recent', c.capture_id, c.captured_at, c.quality, c.masked, c.face
	FROM capture c WHERE c.project_id = p_project_id AND c.person_id = p_person_id AND c.face IS NOT NULL
	  AND c.capture_id NOT IN (SELECT capture_id FROM face WHERE project_id = p_project_id AND person_id = p_person_id)
	ORDER BY c.captured_at DESC LIMIT 1;
	$$;

-- join a person's visits that are now less than the visit gap apart; refresh the chain and counters
CREATE FUNCTION tidy_person(p_project_id bigint, p_person_id bigint) RETURNS void
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	gap interval := project_setting_value(p_project_id, 'visit_gap')::interval;
	cur visit;
	nxt visit;
BEGIN
	FOR nxt IN SELECT * FROM visit WHERE project_id = p_project_id AND person_id = p_person_id
	         ORDER BY started_at, visit_id LOOP
		IF cur.visit_id IS NOT NULL AND nxt.started_at - cur.ended_at < gap THEN
			UPDATE capture SET visit_id = cur.visit_id WHERE project_id = p_project_id AND visit_id = nxt.visit_id;
			UPDATE visit SET ended_at = greatest(cur.ended_at, nxt.ended_at),
			                 consultant_id = coalesce(cur.consultant_id, nxt.consultant_id),
			                 agent_id = coalesce(cur.agent_id, nxt.agent_id),
			                 received_at = coalesce(cur.received_at, nxt.received_at)
			WHERE project_id = p_project_id AND visit_id = cur.visit_id
			RETURNING * INTO cur;
			DELETE FROM visit WHERE project_id = p_project_id AND visit_id = nxt.visit_id;
		ELSE
			cur := nxt;
		END IF;
	END LOOP;
	-- counters and first camera from the captures themselves
	UPDATE visit x SET captures = s.n, started_at = s.s, ended_at = s.e,
	                   first_capture_id = s.first_cap, first_camera_id = s.first_cam
	FROM (SELECT visit_id, count(*)::integer AS n, min(captured_at) AS s, max(captured_at) AS e,
	             (array_agg(capture_id ORDER BY captured_at, capture_id))[1] AS first_cap,
	             (array_agg(camera_id ORDER BY captured_at, capture_id))[1] AS first_cam
	      FROM capture WHERE project_id = p_project_id AND person_id = p_person_id GROUP BY visit_id) s
	WHERE x.project_id = p_project_id AND x.visit_id = s.visit_id;
	DELETE FROM visit x WHERE x.project_id = p_project_id AND x.person_id = p_person_id
	  AND NOT EXISTS (SELECT 1 FROM capture c WHERE c.project_id = p_project_id AND c.visit_id = x.visit_id);
	PERFORM refresh_visit_chain(p_project_id, ARRAY[p_person_id]);
	UPDATE person p SET
		visits = (SELECT count(*) FROM visit v WHERE v.project_id = p_project_id AND v.person_id = p_person_id),
		captures = (SELECT count(*) FROM capture c WHERE c.project_id = p_project_id AND c.person_id = p_person_id),
		first_seen = coalesce((SELECT min(started_at) FROM visit v WHERE v.project_id = p_project_id AND v.person_id = p_person_id), p.first_seen),
		last_seen = coalesce((SELECT max(ended_at) FROM visit v WHERE v.project_id = p_project_id AND v.person_id = p_person_id), p.last_seen)
	WHERE p.project_id = p_project_id AND p.person_id = p_person_id;
	-- captures moved in (merge, split) take this person's expiry; the update
	-- above re-dates them only when it moves the retention clock
	PERFORM refresh_expiry(p_project_id, p_person_id);
END
$$;

-- merge two persons; the one seen first is kept (returned), the other keeps merged_into
CREATE FUNCTION merge_person(project_id bigint, person_a bigint, person_b bigint) RETURNS bigint
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	pid bigint := merge_person.project_id;
	a person;
	b person;
	keep person;
	gone person;
BEGIN
	PERFORM 1 FROM person p WHERE p.project_id = pid AND p.person_id IN (person_a, person_b)
	ORDER BY p.person_id FOR UPDATE;
	SELECT * INTO a FROM person p WHERE p.project_id = pid AND p.person_id = person_a;
	SELECT * INTO b FROM person p WHERE p.project_id = pid AND p.person_id = person_b;
	IF a.person_id IS NULL OR b.person_id IS NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
			MESSAGE = format('person %s of project %s does not exist', CASE WHEN a.person_id IS NULL THEN person_a ELSE person_b END, pid);
	END IF;
	IF a.merged_into IS NOT NULL OR b.merged_into IS NOT NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'object_not_in_prerequisite_state',
			MESSAGE = format('person %s was already merged into person %s',
			                 CASE WHEN a.merged_into IS NOT NULL THEN a.person_id ELSE b.person_id END,
			                 coalesce(a.merged_into, b.merged_into)),
			HINT = 'Merge the person it was merged into instead.';
	END IF;
	IF a.person_id = b.person_id THEN
		RETURN a.person_id;
	END IF;
	IF (b.first_seen, b.person_id) < (a.first_seen, a.person_id) THEN
		keep := b; gone := a;
	ELSE
		keep := a; gone := b;
	END IF;
	UPDATE capture SET person_id = keep.person_id WHERE capture.project_id = pid AND person_id = gone.person_id;
	UPDATE visit SET person_id = keep.person_id WHERE visit.project_id = pid AND person_id = gone.person_id;
	UPDATE identity SET person_id = keep.person_id WHERE identity.project_id = pid AND person_id = gone.person_id;
	UPDATE deal SET person_id = keep.person_id WHERE deal.project_id = pid AND person_id = gone.person_id;
	UPDATE person SET merged_into = keep.person_id WHERE person.project_id = pid AND merged_into = gone.person_id;
	UPDATE person SET merged_into = keep.person_id, merged_at = now(), visits = 0, captures = 0
	WHERE person.project_id = pid AND person_id = gone.person_id;
	DELETE FROM face WHERE face.project_id = pid AND person_id = gone.person_id;
	PERFORM rebuild_gallery(pid, keep.person_id);
	PERFORM tidy_person(pid, keep.person_id);
	RETURN keep.person_id;
END
$$;
COMMENT ON FUNCTION merge_person(bigint, bigint, bigint) IS
	'merge two persons: captures, visits, bindings and deals move to the one seen first; returns it';

-- move some captures of a person to a new person; returns the new person
CREATE FUNCTION split_person(project_id bigint, person_id bigint, capture_ids bigint[]) RETURNS bigint
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	pid bigint := split_person.project_id;
	old bigint := split_person.person_id;
	gap interval := project_setting_value(pid, 'visit_gap')::interval;
	moved integer;
	total integer;
	newp bigint;
BEGIN
	-- new persons are made under the project's new-person lock (ingestion's
	-- re-check relies on it: a person made without it could be missed); taken
	-- before the person's row lock, in the order ingestion takes them
	PERFORM pg_advisory_xact_lock(hashtextextended('firstsight.new_person', pid));
	PERFORM 1 FROM person p WHERE p.project_id = pid AND p.person_id = old AND p.merged_into IS NULL FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
			MESSAGE = format('person %s of project %s does not exist or was merged', old, pid);
	END IF;
	SELECT count(*) FILTER (WHERE c.capture_id = ANY (capture_ids)), count(*) INTO moved, total
	FROM capture c WHERE c.project_id = pid AND c.person_id = old;
	IF moved IS DISTINCT FROM cardinality(capture_ids) OR moved = 0 OR moved = total THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = 'split_person needs some, but not all, of the person''s captures',
			DETAIL = format('%s of the %s capture ids given belong to person %s, who has %s captures.',
			                moved, cardinality(capture_ids), old, total);
	END IF;
	INSERT INTO person (project_id, first_seen, last_seen, category)
	SELECT pid, min(captured_at), max(captured_at), (SELECT category FROM person WHERE person.project_id = pid AND person.person_id = old)
	FROM capture c WHERE c.project_id = pid AND c.capture_id = ANY (capture_ids)
	RETURNING person.person_id INTO newp;
	-- the moved captures form their own visits by the gap rule
	WITH c AS (
		SELECT capture_id, captured_at, camera_id,
		       count(*) FILTER (WHERE lag_ts IS NULL OR captured_at - lag_ts >= gap) OVER (ORDER BY captured_at, capture_id) AS grp
		FROM (SELECT x.*, lag(captured_at) OVER (ORDER BY captured_at, capture_id) AS lag_ts
		      FROM capture x WHERE x.project_id = pid AND x.capture_id = ANY (capture_ids)) x
	), g AS (
		SELECT grp, nextval('visit_id_seq') AS visit_id FROM c GROUP BY grp
	), ins AS (
		INSERT INTO visit (project_id, visit_id, person_id, started_at, ended_at)
		SELECT pid, g.visit_id, newp, min(c.captured_at), max(c.captured_at) FROM c JOIN g USING (grp) GROUP BY g.visit_id
	)
	UPDATE capture x SET person_id = newp, visit_id = g.visit_id
	FROM c JOIN g USING (grp) WHERE x.project_id = pid AND x.capture_id = c.capture_id;
	PERFORM rebuild_gallery(pid, old);
	PERFORM rebuild_gallery(pid, newp);
	PERFORM tidy_person(pid, old);
	PERFORM tidy_person(pid, newp);
	RETURN newp;
END
$$;
COMMENT ON FUNCTION split_person(bigint, bigint, bigint[]) IS
	'move the given captures of a person to a new person (with their own visits); returns the new person';

-- find near-duplicate persons over the gallery (OpenBLAS) and merge them
CREATE FUNCTION merge_persons(project_id bigint, max_distance float8 DEFAULT NULL, masked_max_distance float8 DEFAULT NULL)
	RETURNS TABLE (kept_person_id bigint, merged_person_id bigint)
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	pid bigint := merge_persons.project_id;
	thr float8 := coalesce(max_distance, project_setting_value(pid, 'match_distance')::float8);
	mthr float8 := coalesce(masked_max_distance, project_setting_value(pid, 'masked_match_distance')::float8);
	persons bigint[];
	faces embedding[];
	masks boolean[];
	labels integer[];
	r record;
	k bigint;
BEGIN
	IF thr IS NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
			MESSAGE = format('project %s does not exist', pid);
	END IF;
	-- serialise with new-person creation so a merge never races ingestion's re-check
	PERFORM pg_advisory_xact_lock(hashtextextended('firstsight.new_person', pid));
	SELECT array_agg(f.person_id ORDER BY f.face_id), array_agg(f.face ORDER BY f.face_id),
	       array_agg(f.masked ORDER BY f.face_id)
	INTO persons, faces, masks
	FROM face f WHERE f.project_id = pid;
	IF persons IS NULL THEN
		RETURN;
	END IF;
	labels := face_clusters(faces, masks, thr, mthr);
	FOR r IN
		WITH m AS (SELECT labels[i] AS label, persons[i] AS person_id FROM generate_subscripts(labels, 1) i)
		SELECT m.label, array_agg(DISTINCT m.person_id) AS members
		FROM m GROUP BY m.label HAVING count(DISTINCT m.person_id) > 1 ORDER BY m.label
	LOOP
		k := r.members[1];
		FOR i IN 2 .. cardinality(r.members) LOOP
			k := merge_person(pid, current_person(pid, k), current_person(pid, r.members[i]));
		END LOOP;
		RETURN QUERY SELECT k, x FROM unnest(r.members) x WHERE x <> k ORDER BY x;
	END LOOP;
END
$$;
COMMENT ON FUNCTION merge_persons(bigint, float8, float8) IS
	'merge persons whose gallery faces are within the match thresholds (OpenBLAS over the gallery); returns the merges';

-- src/sql/260_calibrate.sql
-- Threshold calibration from identity-verified captures.

-- proposed match thresholds for unmasked and masked faces, with expected rates
CREATE FUNCTION calibrate(project_id bigint, target_false_match_rate float8 DEFAULT 0.001, max_captures integer DEFAULT 2000)
	RETURNS TABLE (masked boolean, current_distance float8, proposed_distance float8,
	               same_pairs bigint, different_pairs bigint,
	               true_match_rate float8, false_match_rate float8,
	               same_max float8, different_min float8, note text)
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	pid bigint := calibrate.project_id;
	faces embedding[];
	masks boolean[];
	ids bytea[];
BEGIN
	IF NOT EXISTS (SELECT 1 FROM project p WHERE p.project_id = pid) THEN
		RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation', MESSAGE = format('project %s does not exist', pid);
	END IF;
	IF target_false_match_rate IS NULL OR NOT (target_false_match_rate > 0 AND target_false_match_rate < 1) THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = 'target_false_match_rate must be between 0 and 1',
			HINT = 'For example 0.001: one false match in a thousand comparisons of different people.';
	END IF;
	-- captures whose person is known for sure: persons with a bound ID card, labelled by the card
	SELECT array_agg(c.face ORDER BY c.capture_id), array_agg(c.masked ORDER BY c.capture_id),
	       array_agg(b.card ORDER BY c.capture_id)
	INTO faces, masks, ids
	FROM (SELECT DISTINCT ON (current_person(pid, i.person_id)) current_person(pid, i.person_id) AS person_id, i.id_card_hash AS card
	      FROM identity i WHERE i.project_id = pid AND i.id_card_hash IS NOT NULL
	      ORDER BY current_person(pid, i.person_id), i.bound_at) b
	CROSS JOIN LATERAL (
		SELECT c.* FROM capture c
		WHERE c.project_id = pid AND c.person_id = b.person_id AND c.face IS NOT NULL
		ORDER BY c.captured_at DESC LIMIT greatest(1, max_captures / 50)) c;

	RETURN QUERY
	WITH pairs AS (
		SELECT (masks[s.i] OR masks[s.j]) AS masked, ids[s.i] = ids[s.j] AS same, s.distance
		FROM similarity_pairs(coalesce(faces[1:max_captures], '{}'), coalesce(faces[1:max_captures], '{}'), 2.0) s
		WHERE s.i < s.j
	), classes AS (
		SELECT m AS masked FROM unnest(ARRAY[false, true]) m
	), stats AS (
		SELECT k.masked,
		       count(p.*) FILTER (WHERE p.same) AS same_n,
		       count(p.*) FILTER (WHERE NOT p.same) AS diff_n,
		       max(p.distance) FILTER (WHERE p.same) AS same_max,
		       min(p.distance) FILTER (WHERE NOT p.same) AS diff_min,
		       percentile_cont(target_false_match_rate) WITHIN GROUP (ORDER BY p.distance) FILTER (WHERE NOT p.same) AS diff_q
		FROM classes k LEFT JOIN pairs p ON p.masked = k.masked
		GROUP BY k.masked
	), proposal AS (
		SELECT s.*,
		       CASE WHEN s.same_n = 0 OR s.diff_n = 0 THEN NULL
		            WHEN s.same_max < s.diff_min THEN (s.same_max + s.diff_min) / 2
		            ELSE s.diff_q END AS t
		FROM stats s
	)
	SELECT pr.masked,
	       project_setting_value(pid, CASE WHEN pr.masked THEN 'masked_match_distance' ELSE 'match_distance' END)::float8,
	       round(pr.t::numeric, 4)::float8,
	       pr.same_n, pr.diff_n,
	       (SELECT avg((p.distance <= pr.t)::integer) FROM pairs p WHERE p.masked = pr.masked AND p.same)::float8,
	       (SELECT avg((p.distance <= pr.t)::integer) FROM pairs p WHERE p.masked = pr.masked AND NOT p.same)::float8,
	       pr.same_max, pr.diff_min,
	       CASE WHEN pr.same_n = 0 OR pr.diff_n = 0
	            THEN 'not enough identity-verified captures: bind ID cards of at least two persons with several captures each'
	            WHEN pr.same_max < pr.diff_min THEN 'same and different persons separate cleanly: midway between them'
	            ELSE format('distributions overlap: threshold at the %s quantile of different-person distances', target_false_match_rate)
	       END
	FROM proposal pr ORDER BY pr.masked;
END
$$;
COMMENT ON FUNCTION calibrate(bigint, float8, integer) IS
	'propose unmasked and masked match thresholds from ID-card-verified captures, with expected true and false match rates';

-- src/sql/300_attribution.sql
-- Attribution: who brought a buyer, who gets paid, and why.  Receptions and
-- reports (报备) come from the sales apps; a deal's attribution is decided on
-- INSERT of the deal and kept as numbered versions (reattribute adds a new
-- version, never overwrites).  Every decision carries its evidence and flags.
-- Days are calendar days in the project's time zone: a window of N days that
-- starts on local day D ends at local midnight starting day D + N (exclusive),
-- so the starting day counts as day 1 and a visit exactly at the end is outside.

INSERT INTO setting_definition VALUES
	('abnormal_cycle_sigma', 'integer', '2', NULL, NULL,
	 'standard deviations from the channel''s mean first-visit-to-deal time beyond which a deal is flagged abnormal_cycle'),
	('abnormal_cycle_window_days', 'integer', '180', NULL, NULL,
	 'days of the channel''s earlier deals the abnormal_cycle mean is taken over'),
	('abnormal_cycle_min_deals', 'integer', '20', NULL, NULL,
	 'earlier deals of the channel needed before abnormal_cycle is flagged');

-- a fixed daily cut-off for a channel's reports (NULL: report_validity applies)
ALTER TABLE channel ADD COLUMN report_cutoff time;
COMMENT ON COLUMN channel.report_cutoff IS 'reports of this channel are valid until the next occurrence of this local time after filing; NULL: the project''s report_validity';

-- the deposit notion: a customer who paid a deposit (认筹/定金) cannot be reported any more
ALTER TABLE person ADD COLUMN deposit_at timestamptz;
COMMENT ON COLUMN person.deposit_at IS 'when the person paid a deposit; reports on them filed at or after this are refused';

CREATE INDEX report_phone ON report (project_id, phone_hash) WHERE phone_hash IS NOT NULL;
CREATE INDEX report_phone_masked ON report (project_id, phone_masked_hash);
CREATE INDEX visit_agent ON visit (project_id, agent_id) WHERE agent_id IS NOT NULL;

CREATE TABLE attribution (
	project_id bigint NOT NULL,
	deal_id bigint NOT NULL,
	version integer NOT NULL,
	entitled_channel_id bigint NOT NULL,
	entitled_agent_id bigint,
	entitled_consultant_id bigint,
	commission numeric NOT NULL DEFAULT 0,
	rule text NOT NULL,
	evidence jsonb NOT NULL,
	flags text[] NOT NULL DEFAULT '{}',
	decided_at timestamptz NOT NULL DEFAULT now(),
	signed_at timestamptz NOT NULL,
	first_visit_at timestamptz,
	cycle_days numeric,
	is_current boolean NOT NULL DEFAULT true,
	reason text,
	PRIMARY KEY (project_id, deal_id, version),
	FOREIGN KEY (project_id, deal_id) REFERENCES deal ON DELETE CASCADE
);
CREATE UNIQUE INDEX attribution_current ON attribution (project_id, deal_id) WHERE is_current;
CREATE INDEX attribution_channel ON attribution (project_id, entitled_channel_id, signed_at) WHERE is_current;
COMMENT ON TABLE attribution IS 'decisions for deals; the current one is the highest version (is_current)';
COMMENT ON COLUMN attribution.rule IS 'the rule that decided: first_touch_natural, first_touch_agency, agency_after_natural_lapse, protection_expired, no_recorded_visit';
COMMENT ON COLUMN attribution.evidence IS 'buyers, first sighting, visits, reports, protection windows and a timeline; no biometric data';
COMMENT ON COLUMN attribution.cycle_days IS 'days from the buyers'' first visit to signing';
COMMENT ON COLUMN attribution.reason IS 'why this version was made: deal inserted, or the reattribute call';
SELECT pg_catalog.pg_extension_config_dump('attribution', '');

-- the end (exclusive) of a window of n calendar days starting on ts's local day
CREATE FUNCTION local_days_end(ts timestamptz, n integer, tz text) RETURNS timestamptz
	LANGUAGE sql STABLE PARALLEL SAFE
	AS $$ SELECT (((ts AT TIME ZONE tz)::date + n)::timestamp) AT TIME ZONE tz $$;

-- when a report filed at reported_at stops being valid
CREATE FUNCTION report_expiry(reported_at timestamptz, cutoff time, validity interval, tz text) RETURNS timestamptz
	LANGUAGE sql STABLE PARALLEL SAFE
	AS $$
	SELECT CASE WHEN cutoff IS NULL THEN reported_at + validity
	            WHEN (reported_at AT TIME ZONE tz)::time < cutoff
	            THEN (((reported_at AT TIME ZONE tz)::date + cutoff)::timestamp) AT TIME ZONE tz
	            ELSE (((reported_at AT TIME ZONE tz)::date + 1 + cutoff)::timestamp) AT TIME ZONE tz END
	$$;

-- local time text for timelines
CREATE FUNCTION local_text(ts timestamptz, tz text) RETURNS text
	LANGUAGE sql STABLE PARALLEL SAFE
	AS $$ SELECT to_char(ts AT TIME ZONE tz, 'YYYY-MM-DD HH24:MI') $$;

-- send an event through the notification layer when it is installed
CREATE FUNCTION attribution_emit(p_project_id bigint, p_event text, p_subject text, p_payload jsonb) RETURNS void
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
BEGIN
	IF to_regprocedure('firstsight.emit_event(bigint,text,text,jsonb)') IS NOT NULL THEN
		PERFORM firstsight.emit_event(p_project_id, p_event, p_subject, p_payload);
	END IF;
END
$$;

-- record who received a visit and which agent brought the person (NULL: came alone)
CREATE FUNCTION receive(project_id bigint, visit_id bigint, consultant_id bigint, agent_id bigint DEFAULT NULL)
	RETURNS void
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	pid bigint := receive.project_id;
BEGIN
	IF consultant_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM consultant c WHERE c.project_id = pid AND c.consultant_id = receive.consultant_id) THEN
		RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
			MESSAGE = format('consultant %s of project %s does not exist', receive.consultant_id, pid),
			HINT = 'Add the consultant to firstsight.consultant first.';
	END IF;
	IF agent_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM agent a WHERE a.project_id = pid AND a.agent_id = receive.agent_id) THEN
		RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
			MESSAGE = format('agent %s of project %s does not exist', receive.agent_id, pid),
			HINT = 'Add the agent to firstsight.agent first.';
	END IF;
	UPDATE visit v SET consultant_id = receive.consultant_id, agent_id = receive.agent_id, received_at = now()
	WHERE v.project_id = pid AND v.visit_id = receive.visit_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
			MESSAGE = format('visit %s of project %s does not exist', receive.visit_id, pid),
			HINT = 'Receive a visit the cameras recorded; see firstsight.visit.';
	END IF;
END
$$;
COMMENT ON FUNCTION receive(bigint, bigint, bigint, bigint) IS 'record the receiving consultant and accompanying agent (NULL: came alone) of a visit';

-- record that a person paid a deposit; later reports on them are refused
CREATE FUNCTION record_deposit(project_id bigint, person_id bigint, paid_at timestamptz DEFAULT now())
	RETURNS void
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
BEGIN
	UPDATE person p SET deposit_at = least(coalesce(p.deposit_at, paid_at), paid_at)
	WHERE p.project_id = record_deposit.project_id
	  AND p.person_id = current_person(record_deposit.project_id, record_deposit.person_id);
	IF NOT FOUND THEN
		RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
			MESSAGE = format('person %s of project %s does not exist', record_deposit.person_id, record_deposit.project_id);
	END IF;
END
$$;
COMMENT ON FUNCTION record_deposit(bigint, bigint, timestamptz) IS 'the person paid a deposit: reports on them are refused from then on';

-- an agency's report of a customer's phone (full or 138****8000); returns the report
CREATE FUNCTION file_report(project_id bigint, agent_id bigint, phone text, reported_at timestamptz DEFAULT now())
	RETURNS bigint
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	pid bigint := file_report.project_id;
	v text := regexp_replace(phone, '[\s()+.-]', '', 'g');
	full_hash bytea;
	masked_hash bytea;
	id bigint;
BEGIN
	IF phone IS NULL OR reported_at IS NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'null_value_not_allowed',
			MESSAGE = 'a report needs a phone number and a time';
	END IF;
	IF NOT EXISTS (SELECT 1 FROM agent a WHERE a.project_id = pid AND a.agent_id = file_report.agent_id) THEN
		RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
			MESSAGE = format('agent %s of project %s does not exist', file_report.agent_id, pid),
			HINT = 'Add the agent to firstsight.agent first.';
	END IF;
	IF v ~ '^[0-9]{3}\*+[0-9]{4}$' THEN
		masked_hash := identity_hash('phone_masked', phone_mask(v));
	ELSE
		full_hash := identity_hash('phone', normalize_phone(phone));
		masked_hash := identity_hash('phone_masked', phone_mask(phone));
	END IF;
	IF EXISTS (SELECT 1 FROM identity i JOIN person p ON p.project_id = i.project_id
	                                                AND p.person_id = current_person(pid, i.person_id)
	           WHERE i.project_id = pid AND p.deposit_at <= reported_at
	             AND CASE WHEN full_hash IS NOT NULL THEN i.phone_hash = full_hash
	                      ELSE i.phone_masked_hash = masked_hash END) THEN
		RAISE EXCEPTION USING ERRCODE = 'object_not_in_prerequisite_state',
			MESSAGE = 'customer has already paid a deposit and cannot be reported',
			DETAIL = 'A person bound to this phone number paid a deposit before the report time.',
			HINT = 'Reports protect agencies only for customers who have not yet paid a deposit.';
	END IF;
	INSERT INTO report (project_id, agent_id, phone_hash, phone_masked_hash, reported_at)
	VALUES (pid, file_report.agent_id, full_hash, masked_hash, file_report.reported_at)
	RETURNING report_id INTO id;
	RETURN id;
END
$$;
COMMENT ON FUNCTION file_report(bigint, bigint, text, timestamptz) IS
	'an agency''s report (报备) of a full or masked (138****8000) phone; stores keyed hashes only; returns report_id';

-- src/sql/310_decide.sql
-- Deciding a deal's attribution.  decide_attribution walks the buyers'
-- visits in time order and keeps the owner (natural or an agency) and the
-- owning consultant, recording every fact it used in the evidence; the flags
-- come from the same walk.  attribute_deal stores the result as a new version.

-- a channel's name for timelines
CREATE FUNCTION channel_label(p_project_id bigint, p_channel_id bigint) RETURNS text
	LANGUAGE sql STABLE
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$ SELECT coalesce((SELECT c.name FROM channel c WHERE c.project_id = p_project_id AND c.channel_id = p_channel_id),
	                      'no channel') $$;

-- the abnormal_cycle bound, in sample standard deviations, for a channel history of n
-- deals: the two-sided prediction interval of a new deal with the coverage of
-- sigma standard deviations of a normal distribution.  The mean and standard
-- deviation are estimated from n deals, so the bound is Student's t quantile with
-- n - 1 degrees of freedom (Cornish-Fisher expansion of the normal quantile sigma,
-- within 0.1% for 10 or more deals) widened by sqrt(1 + 1/n); it tends to sigma as
-- n grows (20 deals, sigma 2: 2.19; 50: 2.07; 200: 2.02)
CREATE FUNCTION abnormal_cycle_bound(sigma float8, n bigint) RETURNS float8
	LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
	AS $$
	SELECT (z + (z ^ 3 + z) / (4 * nu) + (5 * z ^ 5 + 16 * z ^ 3 + 3 * z) / (96 * nu ^ 2)
	          + (3 * z ^ 7 + 19 * z ^ 5 + 17 * z ^ 3 - 15 * z) / (384 * nu ^ 3)) * sqrt(1 + 1.0 / n)
	FROM (SELECT sigma AS z, greatest(n - 1, 1)::float8 AS nu) s
	$$;
COMMENT ON FUNCTION abnormal_cycle_bound(float8, bigint) IS
	'abnormal_cycle: the prediction-interval bound in sample standard deviations for a history of n deals';

-- the current owner-of-the-buyers decision for one deal (version and decided_at left to the caller)
CREATE FUNCTION decide_attribution(p_project_id bigint, p_deal_id bigint) RETURNS attribution
	LANGUAGE plpgsql STABLE
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	d deal;
	pr project;
	tz text;
	st jsonb;
	mode text;
	nat_days integer;
	cons_days integer;
	validity interval;
	sigma float8;
	win_days integer;
	min_deals integer;
	thr float8;
	chnames jsonb;			-- channel_id -> name
	natural_ch bigint;
	claimed_ch bigint;
	claimed_kind text;
	buyers bigint[];
	full_hashes bytea[];
	masked_hashes bytea[];
	v record;
	r record;
	vch bigint;
	counts boolean;
	rep_id bigint;
	-- the matching reports, in filing order (for the per-visit check)
	rp_ids bigint[] := '{}';
	rp_ch bigint[] := '{}';
	rp_at timestamptz[] := '{}';
	rp_exp timestamptz[] := '{}';
	k integer;
	agents_seen bigint[] := '{}';
	-- owner state
	own_kind text;			-- NULL before the first visit, 'natural' or 'agency'
	own_ch bigint;
	own_agent bigint;
	own_until timestamptz;
	own_from timestamptz;
	own_from_first boolean := false;	-- natural ownership from the very first touch
	rule text;
	cons bigint;
	cons_until timestamptz;
	fv_id bigint;
	fv_at timestamptz;
	fv_zone text;
	fv_person bigint;
	fv_counted boolean;
	own_rep bigint;
	flags text[] := '{}';
	visits jsonb[] := '{}';
	reports jsonb[] := '{}';
	windows jsonb[] := '{}';
	timeline jsonb[] := '{}';
	elsewhere jsonb := '[]';
	ent_ch bigint;
	ent_agent bigint;
	ent_cons bigint;
	rate numeric;
	a attribution;
	n integer;
	mean float8;
	sd float8;
	bound float8;
	cycle numeric;
	chname text;
BEGIN
	SELECT * INTO d FROM deal WHERE project_id = p_project_id AND deal_id = p_deal_id;
	IF d.deal_id IS NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
			MESSAGE = format('deal %s of project %s does not exist', p_deal_id, p_project_id);
	END IF;
	SELECT * INTO pr FROM project WHERE project_id = p_project_id;
	tz := pr.time_zone;
	-- the settings in one query
	SELECT jsonb_object_agg(sdef.setting, coalesce(ps.value, setting_default(sdef, pr.dims))) INTO st
	FROM setting_definition sdef
	LEFT JOIN project_setting ps ON ps.project_id = p_project_id AND ps.setting = sdef.setting
	WHERE sdef.setting IN ('attribution_mode', 'natural_ownership_days', 'consultant_ownership_days', 'report_validity',
	                     'abnormal_cycle_sigma', 'abnormal_cycle_window_days', 'abnormal_cycle_min_deals', 'match_distance');
	mode := st->>'attribution_mode';
	nat_days := (st->>'natural_ownership_days')::integer;
	cons_days := (st->>'consultant_ownership_days')::integer;
	validity := (st->>'report_validity')::interval;
	sigma := (st->>'abnormal_cycle_sigma')::float8;
	win_days := (st->>'abnormal_cycle_window_days')::integer;
	min_deals := (st->>'abnormal_cycle_min_deals')::integer;
	thr := (st->>'match_distance')::float8;
	-- the channels in one query
	SELECT jsonb_object_agg(c.channel_id::text, c.name), min(c.channel_id) FILTER (WHERE c.kind = 'natural')
	INTO chnames, natural_ch
	FROM channel c WHERE c.project_id = p_project_id;
	claimed_ch := coalesce(d.channel_id, (SELECT ag.channel_id FROM agent ag WHERE ag.project_id = p_project_id AND ag.agent_id = d.agent_id));
	SELECT c.kind INTO claimed_kind FROM channel c WHERE c.project_id = p_project_id AND c.channel_id = claimed_ch;

	-- the buyers as they are now (merged persons followed)
	SELECT array_agg(DISTINCT cp ORDER BY cp) INTO buyers
	FROM (SELECT CASE WHEN p.merged_into IS NULL THEN p.person_id ELSE current_person(p_project_id, p.person_id) END AS cp
	      FROM person p WHERE p.project_id = p_project_id AND p.person_id = ANY (d.person_id || d.co_buyer_ids)) s
	WHERE cp IS NOT NULL;
	SELECT array_agg(i.phone_hash) FILTER (WHERE i.phone_hash IS NOT NULL),
	       array_agg(i.phone_masked_hash) FILTER (WHERE i.phone_masked_hash IS NOT NULL)
	INTO full_hashes, masked_hashes
	FROM identity i WHERE i.project_id = p_project_id AND i.person_id = ANY (buyers);

	timeline := timeline || jsonb_build_object('at', d.signed_at, 'event',
		format('deal %s signed by person %s, price %s; claimed channel %s, agent %s, consultant %s',
		       d.deal_id, array_to_string(buyers, ', person '), d.price,
		       CASE WHEN d.channel_id IS NULL THEN '-' ELSE coalesce(chnames->>d.channel_id::text, 'no channel') END, coalesce(d.agent_id::text, '-'),
		       coalesce(d.consultant_id::text, '-')));

	-- reports matching a buyer's phone: full reports on the full number, masked ones on the masked digits
	IF full_hashes IS NOT NULL OR masked_hashes IS NOT NULL THEN
		FOR r IN
			SELECT rp.report_id, rp.agent_id, ag.channel_id, rp.reported_at, rp.phone_hash IS NULL AS masked,
			       report_expiry(rp.reported_at, ch.report_cutoff, validity, tz) AS expires_at
			FROM report rp
			JOIN agent ag ON ag.project_id = rp.project_id AND ag.agent_id = rp.agent_id
			JOIN channel ch ON ch.project_id = ag.project_id AND ch.channel_id = ag.channel_id
			WHERE rp.project_id = p_project_id AND rp.reported_at <= d.signed_at
			  AND ((rp.phone_hash IS NOT NULL AND rp.phone_hash = ANY (full_hashes))
			       OR (rp.phone_hash IS NULL AND rp.phone_masked_hash = ANY (masked_hashes)))
			ORDER BY rp.reported_at, rp.report_id
		LOOP
			rp_ids := rp_ids || r.report_id; rp_ch := rp_ch || r.channel_id;
			rp_at := rp_at || r.reported_at; rp_exp := rp_exp || r.expires_at;
			reports := reports || jsonb_build_object('report_id', r.report_id, 'agent_id', r.agent_id,
				'channel_id', r.channel_id, 'reported_at', r.reported_at, 'expires_at', r.expires_at, 'masked', r.masked);
			timeline := timeline || jsonb_build_object('at', r.reported_at, 'event',
				format('report %s filed by agent %s (%s) on a %s phone, valid until %s',
				       r.report_id, r.agent_id, coalesce(chnames->>r.channel_id::text, 'no channel'), CASE WHEN r.masked THEN 'masked' ELSE 'full' END,
				       local_text(r.expires_at, tz)));
		END LOOP;
	END IF;

	FOR v IN
		SELECT x.visit_id, x.person_id, x.started_at, x.consultant_id, x.agent_id, ag.channel_id AS agent_channel,
		       cam.zone, ch.protection_days
		FROM visit x
		LEFT JOIN agent ag ON ag.project_id = x.project_id AND ag.agent_id = x.agent_id
		LEFT JOIN channel ch ON ch.project_id = ag.project_id AND ch.channel_id = ag.channel_id
		LEFT JOIN camera cam ON cam.project_id = x.project_id AND cam.camera_id = x.first_camera_id
		WHERE x.project_id = p_project_id AND x.person_id = ANY (buyers) AND x.started_at <= d.signed_at
		ORDER BY x.started_at, x.visit_id
	LOOP

		vch := v.agent_channel;
		counts := false;
		rep_id := NULL;
		IF v.agent_id IS NOT NULL THEN
			agents_seen := agents_seen || v.agent_id;
			IF mode = 'first_visit' THEN
				counts := true;
			ELSE
				-- the earliest report by an agent of the same channel, before the visit and still valid at it
				FOR k IN 1 .. coalesce(array_length(rp_ids, 1), 0) LOOP
					IF rp_ch[k] = vch AND rp_at[k] < v.started_at AND v.started_at < rp_exp[k] THEN
						rep_id := rp_ids[k];
						EXIT;
					END IF;
				END LOOP;
				counts := rep_id IS NOT NULL;
			END IF;
		END IF;
		IF fv_id IS NULL THEN
			fv_id := v.visit_id; fv_at := v.started_at; fv_zone := v.zone;
			fv_person := v.person_id; fv_counted := counts;
		END IF;
		visits := visits || jsonb_build_object('visit_id', v.visit_id, 'person_id', v.person_id,
			'started_at', v.started_at, 'zone', v.zone, 'consultant_id', v.consultant_id,
			'agent_id', v.agent_id, 'channel_id', vch, 'counted_for_agency', counts, 'report_id', rep_id);
		timeline := timeline || jsonb_build_object('at', v.started_at, 'event',
			format('visit %s of person %s (first seen at %s), received by consultant %s, %s%s',
			       v.visit_id, v.person_id, coalesce(v.zone, 'unknown camera'), coalesce(v.consultant_id::text, '-'),
			       CASE WHEN v.agent_id IS NULL THEN 'came alone'
			            ELSE format('accompanied by agent %s (%s)', v.agent_id, coalesce(chnames->>vch::text, 'no channel')) END,
			       CASE WHEN v.agent_id IS NULL THEN ''
			            WHEN mode = 'first_visit' THEN ': counts for the agency (first_visit mode)'
			            WHEN counts THEN format(': counts for the agency under report %s', rep_id)
			            ELSE ': no valid report before this visit, counts as natural' END));

		IF own_kind IS NULL OR v.started_at >= own_until THEN
			-- first touch, or the previous ownership lapsed: this visit decides
			IF own_kind IS NOT NULL THEN
				timeline := timeline || jsonb_build_object('at', own_until, 'event',
					format('%s lapsed', CASE WHEN own_kind = 'natural' THEN 'natural ownership' ELSE format('%s protection', coalesce(chnames->>own_ch::text, 'no channel')) END));
			END IF;
			IF counts THEN
				rule := CASE WHEN own_kind IS NULL THEN 'first_touch_agency'
				             WHEN own_kind = 'natural' THEN 'agency_after_natural_lapse'
				             ELSE 'agency_after_protection_lapse' END;
				own_kind := 'agency'; own_ch := vch; own_agent := v.agent_id; own_from := v.started_at; own_rep := rep_id;
				own_until := local_days_end(v.started_at, v.protection_days, tz);
				windows := windows || jsonb_build_object('channel_id', vch, 'agent_id', v.agent_id,
					'visit_id', v.visit_id, 'from', v.started_at, 'until', own_until);
				timeline := timeline || jsonb_build_object('at', v.started_at, 'event',
					format('%s (agent %s) owns the buyer; protected for %s days, until %s',
					       coalesce(chnames->>vch::text, 'no channel'), v.agent_id, v.protection_days, local_text(own_until, tz)));
			ELSE
				own_from_first := own_kind IS NULL;
				rule := 'first_touch_natural';
				own_kind := 'natural'; own_ch := natural_ch; own_agent := NULL; own_from := v.started_at;
				own_until := local_days_end(v.started_at, nat_days, tz);
				timeline := timeline || jsonb_build_object('at', v.started_at, 'event', 'natural visitor: the buyer is owned by the natural channel');
			END IF;
		ELSIF own_kind = 'natural' THEN
			own_until := local_days_end(v.started_at, nat_days, tz);	-- each visit renews natural ownership
			IF counts OR v.agent_id IS NOT NULL THEN
				timeline := timeline || jsonb_build_object('at', v.started_at, 'event',
					format('%s brings a buyer already owned by the natural channel: no ownership change', coalesce(chnames->>vch::text, 'no channel')));
			END IF;
		ELSIF counts AND vch <> own_ch THEN
			flags := flags || 'protection_conflict'::text;
			timeline := timeline || jsonb_build_object('at', v.started_at, 'event',
				format('protection conflict: %s claims a buyer protected by %s until %s',
				       coalesce(chnames->>vch::text, 'no channel'), coalesce(chnames->>own_ch::text, 'no channel'), local_text(own_until, tz)));
		END IF;

		-- the consultant who first received the person owns them for cons_days
		IF v.consultant_id IS NOT NULL AND (cons IS NULL OR v.started_at >= cons_until) THEN
			cons := v.consultant_id;
			cons_until := local_days_end(v.started_at, cons_days, tz);
			timeline := timeline || jsonb_build_object('at', v.started_at, 'event',
				format('consultant %s owns the buyer until %s', cons, local_text(cons_until, tz)));
		END IF;
	END LOOP;

	-- the decision at signing
	IF own_kind IS NULL THEN
		rule := 'no_recorded_visit';
		ent_ch := natural_ch;
	ELSIF own_kind = 'agency' AND d.signed_at >= own_until THEN
		rule := 'protection_expired';
		ent_ch := natural_ch;
		timeline := timeline || jsonb_build_object('at', own_until, 'event',
			format('%s protection ended before the deal', coalesce(chnames->>own_ch::text, 'no channel')));
	ELSE
		ent_ch := own_ch;
		ent_agent := own_agent;
	END IF;
	IF cons IS NOT NULL AND d.signed_at < cons_until THEN
		ent_cons := cons;
		IF d.consultant_id IS NOT NULL AND d.consultant_id <> cons THEN
			flags := flags || 'consultant_conflict'::text;
		END IF;
	ELSE
		ent_cons := coalesce(d.consultant_id, cons);
	END IF;
	SELECT commission_rate INTO rate FROM channel WHERE project_id = p_project_id AND channel_id = ent_ch;

	-- flags
	IF own_kind = 'natural' AND own_from_first AND rule = 'first_touch_natural'
	   AND (claimed_kind IS DISTINCT FROM 'natural' AND (d.channel_id IS NOT NULL OR d.agent_id IS NOT NULL)) THEN
		flags := flags || 'flying_order'::text;
	END IF;
	IF d.agent_id IS NOT NULL THEN
		IF NOT d.agent_id = ANY (agents_seen) THEN
			flags := flags || 'hanging_order_suspect'::text;
		ELSIF NOT fv_counted THEN
			-- a report of the claimed agent's channel filed after a natural first visit, not the one that won ownership
			FOR k IN 1 .. coalesce(array_length(rp_ids, 1), 0) LOOP
				IF rp_at[k] > fv_at AND rp_ids[k] IS DISTINCT FROM own_rep
				   AND rp_ch[k] = (SELECT ag.channel_id FROM agent ag WHERE ag.project_id = p_project_id AND ag.agent_id = d.agent_id) THEN
					flags := flags || 'hanging_order_suspect'::text;
					EXIT;
				END IF;
			END LOOP;
		END IF;
	END IF;
	IF own_kind = 'agency' AND rule <> 'protection_expired' AND claimed_kind IS NOT NULL AND claimed_kind <> 'natural'
	   AND claimed_ch <> own_ch AND NOT 'protection_conflict' = ANY (flags) THEN
		flags := flags || 'protection_conflict'::text;
	END IF;

	-- abnormal cycle against the channel's earlier deals: outside the prediction interval
	-- of sigma standard deviations around their mean (abnormal_cycle_bound)
	IF fv_id IS NOT NULL THEN
		cycle := round((extract(epoch FROM d.signed_at - fv_at) / 86400)::numeric, 3);
		SELECT count(*), avg(at.cycle_days), stddev_samp(at.cycle_days) INTO n, mean, sd
		FROM attribution at
		WHERE at.project_id = p_project_id AND at.is_current AND at.entitled_channel_id = ent_ch
		  AND at.deal_id <> d.deal_id AND at.cycle_days IS NOT NULL
		  AND at.signed_at < d.signed_at AND at.signed_at >= d.signed_at - make_interval(days => win_days);
		IF n >= min_deals AND n >= 2 AND sd > 0 THEN
			bound := abnormal_cycle_bound(sigma, n) * sd;
			IF abs(cycle - mean) > bound THEN
				flags := flags || 'abnormal_cycle'::text;
				timeline := timeline || jsonb_build_object('at', d.signed_at, 'event',
					format('first visit to deal: %s days; %s mean %s days, standard deviation %s, over %s deals: outside mean +- %s days',
					       round(cycle, 1), coalesce(chnames->>ent_ch::text, 'no channel'), round(mean::numeric, 1), round(sd::numeric, 1), n,
					       round(bound::numeric, 1)));
			END IF;
		END IF;
	END IF;

	-- seen earlier at another project of the same group: by ID card, or by face
	IF pr.group_name IS NOT NULL AND fv_id IS NOT NULL THEN
		SELECT coalesce(jsonb_agg(DISTINCT jsonb_build_object('project_id', o.project_id, 'person_id', o.person_id, 'by', o.by)), '[]')
		INTO elsewhere
		FROM (
			SELECT i2.project_id, i2.person_id, 'id_card' AS by
			FROM identity i
			JOIN project q ON q.group_name = pr.group_name AND q.project_id <> p_project_id
			JOIN identity i2 ON i2.project_id = q.project_id AND i2.id_card_hash = i.id_card_hash
			JOIN person p2 ON p2.project_id = i2.project_id AND p2.person_id = i2.person_id
			WHERE i.project_id = p_project_id AND i.person_id = ANY (buyers) AND i.id_card_hash IS NOT NULL
			  AND p2.first_seen < fv_at
			UNION ALL
			-- by face: the buyers' unmasked exemplars against each sister gallery of the same
			-- dimension, nearest neighbour by that gallery's index; no embedding leaves this query
			SELECT q.project_id, n.person_id, 'face'
			FROM project q
			CROSS JOIN LATERAL gallery_nearest(q.project_id,
				ARRAY(SELECT f.face FROM face f WHERE f.project_id = p_project_id AND f.person_id = ANY (buyers) AND NOT f.masked)) n
			JOIN person p2 ON p2.project_id = q.project_id AND p2.person_id = n.person_id
			WHERE q.group_name = pr.group_name AND q.project_id <> p_project_id AND q.dims = pr.dims
			  AND n.distance <= thr AND p2.first_seen < fv_at) o;
		IF jsonb_array_length(elsewhere) > 0 THEN
			flags := flags || 'prior_visit_elsewhere'::text;
			timeline := timeline || jsonb_build_object('at', fv_at, 'event',
				format('the buyer was seen earlier at project %s of group %s',
				       (SELECT string_agg(DISTINCT e->>'project_id', ', ') FROM jsonb_array_elements(elsewhere) e), pr.group_name));
		END IF;
	END IF;

	chname := chnames->>ent_ch::text;
	a.project_id := p_project_id;
	a.deal_id := d.deal_id;
	a.entitled_channel_id := ent_ch;
	a.entitled_agent_id := ent_agent;
	a.entitled_consultant_id := ent_cons;
	a.commission := round(coalesce(rate, 0) * d.price, 2);
	a.rule := rule;
	a.flags := ARRAY(SELECT DISTINCT f FROM unnest(flags) f ORDER BY f);
	a.signed_at := d.signed_at;
	a.first_visit_at := fv_at;
	a.cycle_days := cycle;
	timeline := timeline || jsonb_build_object('at', d.signed_at, 'event',
		format('decision: %s, agent %s, consultant %s, commission %s, rule %s',
		       chname, coalesce(ent_agent::text, '-'), coalesce(ent_cons::text, '-'),
		       round(coalesce(rate, 0) * d.price, 2), rule));
	a.evidence := jsonb_build_object(
		'buyers', to_jsonb(buyers),
		'mode', mode,
		'time_zone', tz,
		'first_sighting', CASE WHEN fv_id IS NULL THEN NULL
		                       ELSE jsonb_build_object('at', fv_at, 'zone', fv_zone,
		                                               'visit_id', fv_id, 'person_id', fv_person) END,
		'visits', to_jsonb(visits),
		'reports', to_jsonb(reports),
		'protection_windows', to_jsonb(windows),
		'consultant', CASE WHEN cons IS NULL THEN NULL ELSE jsonb_build_object('consultant_id', cons, 'until', cons_until) END,
		'seen_elsewhere', elsewhere,
		'timeline', to_jsonb(timeline));
	RETURN a;
END
$$;

-- decide a deal and store the decision as a new version; returns the version
CREATE FUNCTION attribute_deal(p_project_id bigint, p_deal_id bigint, p_reason text DEFAULT 'deal inserted') RETURNS integer
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	a attribution := decide_attribution(p_project_id, p_deal_id);
	prev attribution;
	payload jsonb;
BEGIN
	SELECT * INTO prev FROM attribution
	WHERE project_id = p_project_id AND deal_id = p_deal_id AND is_current FOR UPDATE;
	a.version := coalesce(prev.version, 0) + 1;
	a.decided_at := clock_timestamp();
	a.is_current := true;
	a.reason := p_reason;
	UPDATE attribution SET is_current = false
	WHERE project_id = p_project_id AND deal_id = p_deal_id AND is_current;
	INSERT INTO attribution SELECT a.*;
	payload := jsonb_build_object('project_id', p_project_id, 'deal_id', p_deal_id, 'version', a.version,
		'channel_id', a.entitled_channel_id, 'agent_id', a.entitled_agent_id,
		'consultant_id', a.entitled_consultant_id, 'commission', a.commission, 'rule', a.rule, 'flags', to_jsonb(a.flags),
		'previous_version', prev.version, 'previous_channel_id', prev.entitled_channel_id);
	PERFORM attribution_emit(p_project_id, 'deal.attributed', p_deal_id::text, payload);
	IF cardinality(a.flags) > 0 THEN
		PERFORM attribution_emit(p_project_id, 'deal.flagged', p_deal_id::text, payload);
	END IF;
	RETURN a.version;
END
$$;
COMMENT ON FUNCTION attribute_deal(bigint, bigint, text) IS 'decide a deal''s attribution and store it as a new version';

CREATE FUNCTION deal_attribute() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
BEGIN
	PERFORM attribute_deal(NEW.project_id, NEW.deal_id);
	RETURN NULL;
END
$$;
CREATE TRIGGER deal_attribute AFTER INSERT ON deal FOR EACH ROW EXECUTE FUNCTION deal_attribute();

-- decide again every deal signed in [from_ts, to_ts); new versions only where the decision changed
CREATE FUNCTION reattribute(project_id bigint, from_ts timestamptz, to_ts timestamptz)
	RETURNS TABLE (deal_id bigint, version integer, entitled_channel_id bigint, previous_channel_id bigint, changed boolean)
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	pid bigint := reattribute.project_id;
	dl record;
	a attribution;
	cur attribution;
	tz text := (SELECT p.time_zone FROM project p WHERE p.project_id = reattribute.project_id);
BEGIN
	IF NOT EXISTS (SELECT 1 FROM project p WHERE p.project_id = pid) THEN
		RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
			MESSAGE = format('project %s does not exist', pid);
	END IF;
	FOR dl IN SELECT x.deal_id FROM deal x WHERE x.project_id = pid AND x.signed_at >= from_ts AND x.signed_at < to_ts
	          ORDER BY x.signed_at, x.deal_id LOOP
		SELECT * INTO cur FROM attribution t WHERE t.project_id = pid AND t.deal_id = dl.deal_id AND t.is_current;
		a := decide_attribution(pid, dl.deal_id);
		deal_id := dl.deal_id;
		previous_channel_id := cur.entitled_channel_id;
		changed := cur.version IS NULL
			OR (a.entitled_channel_id, a.entitled_agent_id, a.entitled_consultant_id, a.commission, a.rule, a.flags)
			   IS DISTINCT FROM (cur.entitled_channel_id, cur.entitled_agent_id, cur.entitled_consultant_id, cur.commission, cur.rule, cur.flags)
			OR a.evidence - 'timeline' IS DISTINCT FROM cur.evidence - 'timeline';
		IF changed THEN
			version := attribute_deal(pid, dl.deal_id, format('reattribute %s to %s', local_text(from_ts, tz), local_text(to_ts, tz)));
		ELSE
			version := cur.version;
		END IF;
		entitled_channel_id := a.entitled_channel_id;
		RETURN NEXT;
	END LOOP;
END
$$;
COMMENT ON FUNCTION reattribute(bigint, timestamptz, timestamptz) IS
	'decide again the deals signed in [from_ts, to_ts) after corrections; a changed decision becomes a new version, never an overwrite';

-- a readable timeline of the facts behind a deal's current decision
CREATE FUNCTION explain_attribution(project_id bigint, deal_id bigint) RETURNS SETOF text
	LANGUAGE plpgsql STABLE SECURITY DEFINER
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	a attribution;
	tz text;
BEGIN
	SELECT * INTO a FROM attribution t
	WHERE t.project_id = explain_attribution.project_id AND t.deal_id = explain_attribution.deal_id AND t.is_current;
	IF a.deal_id IS NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'no_data_found',
			MESSAGE = format('deal %s of project %s has no attribution', explain_attribution.deal_id, explain_attribution.project_id),
			HINT = 'Deals are attributed when inserted; firstsight.reattribute decides older ones again.';
	END IF;
	SELECT p.time_zone INTO tz FROM project p WHERE p.project_id = a.project_id;
	RETURN NEXT format('deal %s, attribution version %s (%s), mode %s, times in %s',
	                   a.deal_id, a.version, coalesce(a.reason, '-'), a.evidence->>'mode', tz);
	RETURN QUERY
		SELECT local_text((e->>'at')::timestamptz, tz) || '  ' || (e->>'event')
		FROM jsonb_array_elements(a.evidence->'timeline') WITH ORDINALITY AS t(e, ord)
		ORDER BY (e->>'at')::timestamptz, ord;
	RETURN NEXT 'flags: ' || CASE WHEN cardinality(a.flags) = 0 THEN 'none' ELSE array_to_string(a.flags, ', ') END;
END
$$;
COMMENT ON FUNCTION explain_attribution(bigint, bigint) IS 'a readable timeline of the facts behind a deal''s current attribution, for the dispute meeting';

-- src/sql/315_rollups.sql
-- Rollups behind the BI views.  daily_traffic, channel_share,
-- conversion_funnel and consultant_board would otherwise read and group every
-- visit of the period; they read these counters instead, kept current by
-- statement triggers on visit, person and deal (so late facts are counted:
-- merges, late receptions, recomputed visit chains, a deal making an old
-- visitor a buyer).  The counters are additive and every trigger adds a delta
-- computed from its statement's transition tables, so concurrent writers
-- commute (an upsert locks the counter row it adds to).  Distinct-person counts
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
COMMENT ON TABLE rollup_person_day IS 'BI rollup: visits per project, local day and person (first visits, returning visits); rows at 0 are harmless';

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
COMMENT ON TABLE rollup_day IS 'BI rollup behind daily_traffic: per project and local day';

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
COMMENT ON TABLE rollup_month_agent IS 'BI rollup behind channel_share and conversion_funnel: per project, local month and accompanying agent';

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
COMMENT ON TABLE rollup_consultant_person IS 'BI rollup: receptions per project, local month, consultant and person; rows at 0 are harmless';

CREATE TABLE rollup_consultant (
	project_id bigint NOT NULL,
	month date NOT NULL,
	consultant_id bigint NOT NULL,
	receptions bigint NOT NULL,
	persons_received bigint NOT NULL,
	new_persons_received bigint NOT NULL,
	PRIMARY KEY (project_id, month, consultant_id)
);
COMMENT ON TABLE rollup_consultant IS 'BI rollup behind consultant_board: per project, local month and consultant';

-- how many deals name a person as buyer or co-buyer (> 0: the person bought)
CREATE TABLE rollup_buyer (
	project_id bigint NOT NULL,
	person_id bigint NOT NULL,
	deals bigint NOT NULL,
	PRIMARY KEY (project_id, person_id)
);
COMMENT ON TABLE rollup_buyer IS 'BI rollup: deals naming each person as buyer or co-buyer (as entered, merges not followed)';

-- The counters from the facts, for rebuild_rollups and rollup_check
-- (p_project_id NULL: every project).  Plain SQL without SET, names qualified,
-- so that they are inlined and a given project_id reaches the index scans.
CREATE FUNCTION rollup_facts_person_day(p_project_id bigint)
	RETURNS SETOF rollup_person_day
	LANGUAGE sql STABLE
	AS $$
	SELECT v.project_id, (v.started_at AT TIME ZONE p.time_zone)::date, v.person_id,
	       count(*), count(*) FILTER (WHERE NOT v.seen_before), count(*) FILTER (WHERE v.seen_before)
	FROM firstsight.visit v JOIN firstsight.project p ON p.project_id = v.project_id
	WHERE p_project_id IS NULL OR v.project_id = p_project_id
	GROUP BY 1, 2, 3
	$$;

CREATE FUNCTION rollup_facts_day(p_project_id bigint)
	RETURNS SETOF rollup_day
	LANGUAGE sql STABLE
	AS $$
	SELECT v.project_id, (v.started_at AT TIME ZONE p.time_zone)::date,
	       count(*), count(DISTINCT v.person_id),
	       count(DISTINCT v.person_id) FILTER (WHERE NOT v.seen_before),
	       count(DISTINCT v.person_id) FILTER (WHERE v.seen_before),
	       count(*) FILTER (WHERE v.agent_id IS NOT NULL), count(*) FILTER (WHERE v.consultant_id IS NOT NULL)
	FROM firstsight.visit v JOIN firstsight.project p ON p.project_id = v.project_id
	WHERE p_project_id IS NULL OR v.project_id = p_project_id
	GROUP BY 1, 2
	$$;

CREATE FUNCTION rollup_facts_buyer(p_project_id bigint)
	RETURNS SETOF rollup_buyer
	LANGUAGE sql STABLE
	AS $$
	SELECT x.project_id, b.person_id, count(*)
	FROM firstsight.deal x CROSS JOIN LATERAL unnest(x.person_id || x.co_buyer_ids) AS b(person_id)
	WHERE p_project_id IS NULL OR x.project_id = p_project_id
	GROUP BY 1, 2
	$$;

CREATE FUNCTION rollup_facts_month_agent(p_project_id bigint)
	RETURNS SETOF rollup_month_agent
	LANGUAGE sql STABLE
	AS $$
	SELECT v.project_id, date_trunc('month', v.started_at AT TIME ZONE p.time_zone)::date, v.agent_id,
	       count(*),
	       count(pe.person_id) FILTER (WHERE NOT v.seen_before),
	       count(*) FILTER (WHERE NOT v.seen_before AND pe.visits > 1),
	       count(b.person_id) FILTER (WHERE NOT v.seen_before AND pe.person_id IS NOT NULL)
	FROM firstsight.visit v
	JOIN firstsight.project p ON p.project_id = v.project_id
	LEFT JOIN firstsight.person pe ON pe.project_id = v.project_id AND pe.person_id = v.person_id
	LEFT JOIN (SELECT DISTINCT x.project_id, u.person_id
	           FROM firstsight.deal x CROSS JOIN LATERAL unnest(x.person_id || x.co_buyer_ids) AS u(person_id)
	           WHERE p_project_id IS NULL OR x.project_id = p_project_id) b
	       ON b.project_id = v.project_id AND b.person_id = v.person_id
	WHERE p_project_id IS NULL OR v.project_id = p_project_id
	GROUP BY 1, 2, 3
	$$;

CREATE FUNCTION rollup_facts_consultant_person(p_project_id bigint)
	RETURNS SETOF rollup_consultant_person
	LANGUAGE sql STABLE
	AS $$
	SELECT v.project_id, date_trunc('month', v.started_at AT TIME ZONE p.time_zone)::date, v.consultant_id, v.person_id,
	       count(*), count(*) FILTER (WHERE NOT v.seen_before)
	FROM firstsight.visit v JOIN firstsight.project p ON p.project_id = v.project_id
	WHERE v.consultant_id IS NOT NULL AND (p_project_id IS NULL OR v.project_id = p_project_id)
	GROUP BY 1, 2, 3, 4
	$$;

CREATE FUNCTION rollup_facts_consultant(p_project_id bigint)
	RETURNS SETOF rollup_consultant
	LANGUAGE sql STABLE
	AS $$
	SELECT project_id, month, consultant_id, sum(receptions)::bigint, count(*), sum(new_receptions)::bigint
	FROM firstsight.rollup_facts_consultant_person(p_project_id)
	GROUP BY 1, 2, 3
	$$;

-- recompute the rollups of one project (NULL: all) from the facts
CREATE FUNCTION rebuild_rollups(project_id bigint DEFAULT NULL) RETURNS void
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	pid bigint := rebuild_rollups.project_id;
	t text;
BEGIN
	FOREACH t IN ARRAY ARRAY['person_day', 'day', 'buyer', 'funnel_person', 'month_agent', 'consultant_person', 'consultant'] LOOP
		EXECUTE format('DELETE FROM rollup_%s r WHERE $1 IS NULL OR r.project_id = $1', t) USING pid;
		EXECUTE format('INSERT INTO rollup_%s SELECT * FROM rollup_facts_%s($1)', t, t) USING pid;
	END LOOP;
END
$$;
COMMENT ON FUNCTION rebuild_rollups(bigint) IS
	'recompute the BI rollups of a project (NULL: every project) from the facts: after loading visits, persons or deals with triggers disabled, or a restore';

-- one row per rollup row that differs from the facts (no rows: the BI views are exact);
-- rows whose counters are all zero are ignored
CREATE FUNCTION rollup_check(project_id bigint DEFAULT NULL)
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
			   EXCEPT ALL SELECT * FROM rollup_%1$s r WHERE ($1 IS NULL OR r.project_id = $1) AND (%2$s)) f
			 UNION ALL
			 SELECT %1$L, ''not in the facts'', r::text FROM (SELECT * FROM rollup_%1$s r WHERE ($1 IS NULL OR r.project_id = $1) AND (%2$s)
			   EXCEPT ALL SELECT * FROM rollup_facts_%1$s($1)) r', t, nz) USING pid;
	END LOOP;
END
$$;
COMMENT ON FUNCTION rollup_check(bigint) IS
	'BI rollup rows that differ from the facts (no rows: the views are exact); rebuild_rollups repairs';

-- The visit triggers: signed visit rows (+1 a row as it is now, -1 as it was)
-- applied to every visit-keyed rollup in one statement.  Transition tables are
-- visible only inside the trigger's own function, so the statement is a
-- template (rollup_visit_sql) filled in for each of the three functions.
CREATE FUNCTION rollup_visit_sql(signed_rows text) RETURNS text
	LANGUAGE sql IMMUTABLE
	AS $f$
	SELECT format($q$
	WITH d AS (%s),
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
		INSERT INTO rollup_day AS r
		SELECT project_id, day, visits, unique_persons, new_persons, returning_persons, accompanied, received FROM dd
		ON CONFLICT (project_id, day) DO UPDATE
		SET visits = r.visits + excluded.visits, unique_persons = r.unique_persons + excluded.unique_persons,
		    new_persons = r.new_persons + excluded.new_persons,
		    returning_persons = r.returning_persons + excluded.returning_persons,
		    accompanied_visits = r.accompanied_visits + excluded.accompanied_visits,
		    received_visits = r.received_visits + excluded.received_visits
		),
	ma AS (
		SELECT project_id, date_trunc('month', day)::date AS month, agent_id, sum(s)::bigint AS visits
		FROM sv GROUP BY 1, 2, 3),
	up_ma AS (
		INSERT INTO rollup_month_agent AS r
		SELECT project_id, month, agent_id, visits, 0, 0, 0 FROM ma
		ON CONFLICT (project_id, month, agent_id) DO UPDATE
		SET visits = r.visits + excluded.visits
		),
	cp AS (
		SELECT project_id, date_trunc('month', day)::date AS month, consultant_id, person_id, sum(s)::bigint AS receptions,
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
	INSERT INTO rollup_consultant AS r
	SELECT * FROM cd
	ON CONFLICT (project_id, month, consultant_id) DO UPDATE
	SET receptions = r.receptions + excluded.receptions, persons_received = r.persons_received + excluded.persons_received,
	    new_persons_received = r.new_persons_received + excluded.new_persons_received
	$q$, signed_rows)
	$f$;

DO $do$
DECLARE
	cols constant text := 'project_id, person_id, started_at, seen_before, agent_id, consultant_id';
	fn text;
	trans text;
	sign int;
BEGIN
	-- inserts add the new rows, deletes subtract the old ones: one body for both
	FOR fn, trans, sign IN VALUES ('rollup_visit_insert', 'rollup_new', 1), ('rollup_visit_delete', 'rollup_old', -1)
	LOOP
		EXECUTE format($t$
		CREATE FUNCTION %I() RETURNS trigger
			LANGUAGE plpgsql
			SET search_path = firstsight, pg_catalog, pg_temp
			AS $b$
		BEGIN
			%s;
			PERFORM rollup_funnel_refresh(ARRAY(SELECT DISTINCT (project_id, person_id)::rollup_person_key
			                                    FROM %I WHERE NOT seen_before));
			RETURN NULL;
		END
		$b$ $t$, fn, rollup_visit_sql(format('SELECT %s, %s AS s FROM %I', cols, sign, trans)), trans);
	END LOOP;
	-- updates: most (a capture extending a visit) change nothing the rollups count
	EXECUTE format($t$
	CREATE FUNCTION rollup_visit_update() RETURNS trigger
		LANGUAGE plpgsql
		SET search_path = firstsight, pg_catalog, pg_temp
		AS $b$
	BEGIN
		IF EXISTS (SELECT 1 FROM rollup_old o JOIN rollup_new n ON n.project_id = o.project_id AND n.visit_id = o.visit_id
		           WHERE (o.person_id, o.started_at, o.seen_before, o.agent_id, o.consultant_id)
		                 IS DISTINCT FROM (n.person_id, n.started_at, n.seen_before, n.agent_id, n.consultant_id))
		   OR (SELECT count(*) FROM rollup_old) <> (SELECT count(*) FROM rollup_new
		                                           JOIN rollup_old USING (project_id, visit_id)) THEN
			%s;
			-- persons whose first visit (not seen_before) came, went or moved
			PERFORM rollup_funnel_refresh(ARRAY(
				SELECT DISTINCT (project_id, person_id)::rollup_person_key
				FROM (SELECT project_id, person_id, started_at, agent_id, 1 AS s FROM rollup_new WHERE NOT seen_before
				      UNION ALL
				      SELECT project_id, person_id, started_at, agent_id, -1 FROM rollup_old WHERE NOT seen_before) x
				GROUP BY project_id, person_id, started_at, agent_id HAVING sum(s) <> 0));
		END IF;
		RETURN NULL;
	END
	$b$ $t$, rollup_visit_sql(format('SELECT %1$s, 1 AS s FROM rollup_new UNION ALL SELECT %1$s, -1 FROM rollup_old', cols)));
END
$do$;
DROP FUNCTION rollup_visit_sql(text);

CREATE TRIGGER rollup_visit_insert AFTER INSERT ON visit
	REFERENCING NEW TABLE AS rollup_new
	FOR EACH STATEMENT EXECUTE FUNCTION rollup_visit_insert();
CREATE TRIGGER rollup_visit_update AFTER UPDATE ON visit
	REFERENCING OLD TABLE AS rollup_old NEW TABLE AS rollup_new
	FOR EACH STATEMENT EXECUTE FUNCTION rollup_visit_update();
CREATE TRIGGER rollup_visit_delete AFTER DELETE ON visit
	REFERENCING OLD TABLE AS rollup_old
	FOR EACH STATEMENT EXECUTE FUNCTION rollup_visit_delete();

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
COMMENT ON TABLE rollup_funnel_person IS 'BI rollup: each person''s share of conversion_funnel (first visits by month and agent, returned, bought)';

CREATE FUNCTION rollup_facts_funnel_person(p_project_id bigint, p_person_ids bigint[] DEFAULT NULL)
	RETURNS SETOF rollup_funnel_person
	LANGUAGE sql STABLE
	AS $$
	SELECT v.project_id, v.person_id, date_trunc('month', v.started_at AT TIME ZONE p.time_zone)::date, v.agent_id,
	       count(*), count(*) FILTER (WHERE pe.visits > 1), count(*) FILTER (WHERE b.deals > 0)
	FROM firstsight.visit v
	JOIN firstsight.project p ON p.project_id = v.project_id
	JOIN firstsight.person pe ON pe.project_id = v.project_id AND pe.person_id = v.person_id
	LEFT JOIN firstsight.rollup_buyer b ON b.project_id = v.project_id AND b.person_id = v.person_id
	WHERE NOT v.seen_before AND (p_project_id IS NULL OR v.project_id = p_project_id)
	  AND (p_person_ids IS NULL OR v.person_id = ANY (p_person_ids))
	GROUP BY 1, 2, 3, 4
	$$;

CREATE TYPE rollup_person_key AS (project_id bigint, person_id bigint);
-- the persons of some keys, grouped by project, each group's person rows
-- locked in person order before it is returned: the rollup writers of one
-- person (rollup_funnel_refresh, rollup_funnel_bought) take turns
CREATE FUNCTION rollup_lock_persons(p_keys rollup_person_key[], OUT lock_project bigint, OUT lock_persons bigint[])
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

CREATE FUNCTION rollup_funnel_refresh(p_keys rollup_person_key[]) RETURNS void
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
			SELECT v.project_id, v.person_id, date_trunc('month', v.started_at AT TIME ZONE p.time_zone)::date AS month,
			       v.agent_id, count(*) AS first_visits, count(*) FILTER (WHERE pe.visits > 1) AS returned,
			       count(*) FILTER (WHERE b.deals > 0) AS bought
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
		INSERT INTO rollup_month_agent AS r
		SELECT project_id, month, agent_id, 0, first_visits, returned, bought FROM d
		ON CONFLICT (project_id, month, agent_id) DO UPDATE
		SET first_visits = r.first_visits + excluded.first_visits, returned = r.returned + excluded.returned,
		    bought = r.bought + excluded.bought;
	END LOOP;
END
$$;

-- deals: count the deals naming each person; the persons whose count crosses 0
-- (they start or stop being buyers) are returned
CREATE FUNCTION rollup_buyer_apply(deltas rollup_buyer[]) RETURNS rollup_person_key[]
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
CREATE FUNCTION rollup_funnel_bought(p_keys rollup_person_key[]) RETURNS void
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
		INSERT INTO rollup_month_agent AS m
		SELECT project_id, month, agent_id, 0, 0, 0, sum(d)::bigint FROM u GROUP BY 1, 2, 3
		ON CONFLICT (project_id, month, agent_id) DO UPDATE SET bought = m.bought + excluded.bought;
	END LOOP;
END
$$;

DO $do$
DECLARE
	fn text;
	keys text;
	apply text;
	deal_rows constant text := $c$SELECT (%1$s.project_id, b.person_id, %2$s)::rollup_buyer
	                              FROM %1$s, unnest(%1$s.person_id || %1$s.co_buyer_ids) b(person_id)$c$;
BEGIN
	FOR fn, keys, apply IN VALUES
		('rollup_person_insert', 'ARRAY(SELECT (project_id, person_id)::rollup_person_key FROM rollup_new)', 'rollup_funnel_refresh'),
		('rollup_person_delete', 'ARRAY(SELECT (project_id, person_id)::rollup_person_key FROM rollup_old)', 'rollup_funnel_refresh'),
		-- ingestion updates persons on every capture: most leave returned as it was
		('rollup_person_update', $c$ARRAY(SELECT (n.project_id, n.person_id)::rollup_person_key
		                                FROM rollup_new n JOIN rollup_old o ON o.project_id = n.project_id AND o.person_id = n.person_id
		                                WHERE (n.visits > 1) <> (o.visits > 1))$c$, 'rollup_funnel_refresh'),
		('rollup_deal_insert', format('rollup_buyer_apply(ARRAY(%s))', format(deal_rows, 'rollup_new', '1')), 'rollup_funnel_bought'),
		('rollup_deal_delete', format('rollup_buyer_apply(ARRAY(%s))', format(deal_rows, 'rollup_old', '-1')), 'rollup_funnel_bought'),
		('rollup_deal_update', format('rollup_buyer_apply(ARRAY(%s UNION ALL %s))',
		                              format(deal_rows, 'rollup_new', '1'), format(deal_rows, 'rollup_old', '-1')), 'rollup_funnel_bought')
	LOOP
		EXECUTE format($t$
		CREATE FUNCTION %I() RETURNS trigger
			LANGUAGE plpgsql
			SET search_path = firstsight, pg_catalog, pg_temp
			AS $b$
		DECLARE
			k rollup_person_key[] := %s;
		BEGIN
			IF cardinality(k) > 0 THEN
				PERFORM %s(k);
			END IF;
			RETURN NULL;
		END
		$b$ $t$, fn, keys, apply);
	END LOOP;
END
$do$;

CREATE TRIGGER rollup_person_insert AFTER INSERT ON person
	REFERENCING NEW TABLE AS rollup_new
	FOR EACH STATEMENT EXECUTE FUNCTION rollup_person_insert();
CREATE TRIGGER rollup_person_update AFTER UPDATE ON person
	REFERENCING OLD TABLE AS rollup_old NEW TABLE AS rollup_new
	FOR EACH STATEMENT EXECUTE FUNCTION rollup_person_update();
CREATE TRIGGER rollup_person_delete AFTER DELETE ON person
	REFERENCING OLD TABLE AS rollup_old
	FOR EACH STATEMENT EXECUTE FUNCTION rollup_person_delete();
CREATE TRIGGER rollup_deal_insert AFTER INSERT ON deal
	REFERENCING NEW TABLE AS rollup_new
	FOR EACH STATEMENT EXECUTE FUNCTION rollup_deal_insert();
CREATE TRIGGER rollup_deal_update AFTER UPDATE ON deal
	REFERENCING OLD TABLE AS rollup_old NEW TABLE AS rollup_new
	FOR EACH STATEMENT EXECUTE FUNCTION rollup_deal_update();
CREATE TRIGGER rollup_deal_delete AFTER DELETE ON deal
	REFERENCING OLD TABLE AS rollup_old
	FOR EACH STATEMENT EXECUTE FUNCTION rollup_deal_delete();

-- a project's days and months are local: a new time zone moves every visit
CREATE FUNCTION rollup_project_time_zone() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
BEGIN
	PERFORM rebuild_rollups(NEW.project_id);
	RETURN NULL;
END
$$;
CREATE TRIGGER rollup_project_time_zone AFTER UPDATE OF time_zone ON project
	FOR EACH ROW WHEN (OLD.time_zone IS DISTINCT FROM NEW.time_zone)
	EXECUTE FUNCTION rollup_project_time_zone();

-- src/sql/320_views.sql
-- Views for BI tools and analysts.  Built only from visit, person, deal,
-- attribution, report and identity facts (never capture.face, capture.photo or
-- the gallery), so they hold no biometric column and give the same numbers
-- after biometric data is erased.  Days and months are the project's local ones.

-- the channel of a visit: the accompanying agent's, or natural
CREATE VIEW visit_channel AS
	SELECT v.project_id, v.visit_id, v.person_id, v.started_at, v.seen_before, v.consultant_id, v.agent_id,
	       coalesce(ag.channel_id, nc.channel_id) AS channel_id,
	       (v.started_at AT TIME ZONE p.time_zone)::date AS day
	FROM visit v
	JOIN project p ON p.project_id = v.project_id
	JOIN channel nc ON nc.project_id = v.project_id AND nc.kind = 'natural'
	LEFT JOIN agent ag ON ag.project_id = v.project_id AND ag.agent_id = v.agent_id;
COMMENT ON VIEW visit_channel IS 'each visit with its local day and channel (the accompanying agent''s, or natural)';

-- daily_traffic, channel_share, conversion_funnel and consultant_board read
-- the rollups of 315_rollups.sql (counters per project and local day or month,
-- kept by triggers) instead of grouping every visit; deals and attributions,
-- far fewer, are read as they are.  rollup_check() compares the rollups with
-- the facts.
CREATE VIEW daily_traffic AS
	SELECT r.project_id, r.day, r.visits, r.unique_persons, r.new_persons, r.returning_persons,
	       r.accompanied_visits, r.received_visits
	FROM rollup_day r
	WHERE r.visits > 0;
COMMENT ON VIEW daily_traffic IS 'visits per project and local day: unique, new and returning persons';
COMMENT ON COLUMN daily_traffic.day IS 'local date in the project''s time zone';
COMMENT ON COLUMN daily_traffic.visits IS 'visits that started that day';
COMMENT ON COLUMN daily_traffic.unique_persons IS 'distinct persons who visited that day';
COMMENT ON COLUMN daily_traffic.new_persons IS 'persons on their first visit';
COMMENT ON COLUMN daily_traffic.returning_persons IS 'persons who had visited before';
COMMENT ON COLUMN daily_traffic.accompanied_visits IS 'visits with an accompanying agent';
COMMENT ON COLUMN daily_traffic.received_visits IS 'visits a consultant received';

CREATE VIEW channel_share AS
	WITH va AS (
		-- visits per month and accompanying agent (NULL: came alone)
		SELECT r.project_id, r.month, r.agent_id, r.visits
		FROM rollup_month_agent r WHERE r.visits > 0),
	u AS (
		SELECT va.project_id, va.month, coalesce(ag.channel_id, nc.channel_id) AS channel_id,
		       va.visits, 0 AS deals, 0::numeric AS revenue
		FROM va
		JOIN channel nc ON nc.project_id = va.project_id AND nc.kind = 'natural'
		LEFT JOIN agent ag ON ag.project_id = va.project_id AND ag.agent_id = va.agent_id
		UNION ALL
		SELECT a.project_id, date_trunc('month', a.signed_at AT TIME ZONE p.time_zone)::date,
		       a.entitled_channel_id, 0, 1, x.price
		FROM attribution a
		JOIN project p ON p.project_id = a.project_id
		JOIN deal x ON x.project_id = a.project_id AND x.deal_id = a.deal_id
		WHERE a.is_current),
	j AS (
		SELECT project_id, month, channel_id, sum(visits)::bigint AS visits, sum(deals)::bigint AS deals, sum(revenue) AS revenue
		FROM u GROUP BY project_id, month, channel_id)
	SELECT j.project_id, j.month, j.channel_id, c.name AS channel, c.kind,
	       j.visits, round(j.visits::numeric / nullif(sum(j.visits) OVER w, 0), 4) AS visit_share,
	       j.deals, round(j.deals::numeric / nullif(sum(j.deals) OVER w, 0), 4) AS deal_share,
	       j.revenue
	FROM j JOIN channel c ON c.project_id = j.project_id AND c.channel_id = j.channel_id
	WINDOW w AS (PARTITION BY j.project_id, j.month);
COMMENT ON VIEW channel_share IS 'each channel''s share of visits and of (currently attributed) deals per project and local month';
COMMENT ON COLUMN channel_share.month IS 'first day of the local month';
COMMENT ON COLUMN channel_share.visits IS 'visits accompanied by the channel''s agents (natural: came alone)';
COMMENT ON COLUMN channel_share.visit_share IS 'visits / all visits of the month (0 to 1)';
COMMENT ON COLUMN channel_share.deals IS 'deals signed that month whose current attribution is this channel';
COMMENT ON COLUMN channel_share.deal_share IS 'deals / all deals of the month (0 to 1)';
COMMENT ON COLUMN channel_share.revenue IS 'sum of those deals'' prices';

CREATE VIEW conversion_funnel AS
	WITH fa AS (
		-- persons by month and accompanying agent of their first visit (the one not
		-- seen_before), how many have more than one visit and how many bought
		SELECT r.project_id, r.month, r.agent_id, r.first_visits, r.returned, r.bought
		FROM rollup_month_agent r WHERE r.first_visits > 0)
	SELECT fa.project_id, fa.month, c.channel_id, c.name AS channel, c.kind,
	       sum(fa.first_visits)::bigint AS first_visits,
	       sum(fa.returned)::bigint AS returned,
	       sum(fa.bought)::bigint AS bought,
	       round(sum(fa.bought) / sum(fa.first_visits), 4) AS conversion_rate
	FROM fa
	JOIN channel nc ON nc.project_id = fa.project_id AND nc.kind = 'natural'
	LEFT JOIN agent ag ON ag.project_id = fa.project_id AND ag.agent_id = fa.agent_id
	JOIN channel c ON c.project_id = fa.project_id AND c.channel_id = coalesce(ag.channel_id, nc.channel_id)
	GROUP BY fa.project_id, fa.month, c.channel_id, c.name, c.kind;
COMMENT ON VIEW conversion_funnel IS 'persons by local month and channel of their first visit: how many returned and how many bought';
COMMENT ON COLUMN conversion_funnel.month IS 'first day of the local month of the person''s first visit';
COMMENT ON COLUMN conversion_funnel.channel IS 'the channel that brought the person the first time (natural: came alone)';
COMMENT ON COLUMN conversion_funnel.first_visits IS 'persons whose first visit fell in this month and channel';
COMMENT ON COLUMN conversion_funnel.returned IS 'of those, persons with more than one visit';
COMMENT ON COLUMN conversion_funnel.bought IS 'of those, persons who are a buyer or co-buyer of a deal';
COMMENT ON COLUMN conversion_funnel.conversion_rate IS 'bought / first_visits';

CREATE VIEW flagged_deals AS
	SELECT a.project_id, a.deal_id, (a.signed_at AT TIME ZONE p.time_zone) AS signed_local, x.price,
	       x.channel_id AS claimed_channel_id, cc.name AS claimed_channel, x.agent_id AS claimed_agent_id,
	       a.entitled_channel_id, ec.name AS entitled_channel, a.entitled_agent_id, a.entitled_consultant_id,
	       a.commission, a.rule, a.flags, a.version, a.decided_at
	FROM attribution a
	JOIN project p ON p.project_id = a.project_id
	JOIN deal x ON x.project_id = a.project_id AND x.deal_id = a.deal_id
	JOIN channel ec ON ec.project_id = a.project_id AND ec.channel_id = a.entitled_channel_id
	LEFT JOIN channel cc ON cc.project_id = x.project_id AND cc.channel_id = x.channel_id
	WHERE a.is_current AND cardinality(a.flags) > 0;
COMMENT ON VIEW flagged_deals IS 'deals whose current attribution carries flags; firstsight.explain_attribution gives the timeline';
COMMENT ON COLUMN flagged_deals.signed_local IS 'signing time in the project''s time zone';
COMMENT ON COLUMN flagged_deals.claimed_channel IS 'the channel the deal was entered with';
COMMENT ON COLUMN flagged_deals.entitled_channel IS 'the channel the rules entitle';
COMMENT ON COLUMN flagged_deals.commission IS 'commission owed to the entitled channel (rate x price)';
COMMENT ON COLUMN flagged_deals.rule IS 'the rule that decided';
COMMENT ON COLUMN flagged_deals.flags IS 'flying_order, hanging_order_suspect, protection_conflict, consultant_conflict, abnormal_cycle, prior_visit_elsewhere';
COMMENT ON COLUMN flagged_deals.version IS 'the attribution version (highest = current)';

CREATE VIEW commission_ledger AS
	SELECT a.project_id, date_trunc('month', a.signed_at AT TIME ZONE p.time_zone)::date AS month,
	       a.entitled_channel_id AS channel_id, c.name AS channel, c.kind, c.commission_rate,
	       count(*) AS deals, sum(x.price) AS revenue, sum(a.commission) AS commission,
	       count(*) FILTER (WHERE cardinality(a.flags) > 0) AS flagged_deals,
	       coalesce(sum(a.commission) FILTER (WHERE cardinality(a.flags) > 0), 0) AS flagged_commission
	FROM attribution a
	JOIN project p ON p.project_id = a.project_id
	JOIN deal x ON x.project_id = a.project_id AND x.deal_id = a.deal_id
	JOIN channel c ON c.project_id = a.project_id AND c.channel_id = a.entitled_channel_id
	WHERE a.is_current
	GROUP BY a.project_id, 2, a.entitled_channel_id, c.name, c.kind, c.commission_rate;
COMMENT ON VIEW commission_ledger IS 'commission owed per project, local month and entitled channel, from current attributions';
COMMENT ON COLUMN commission_ledger.month IS 'first day of the local month of signing';
COMMENT ON COLUMN commission_ledger.deals IS 'deals attributed to the channel';
COMMENT ON COLUMN commission_ledger.revenue IS 'sum of their prices';
COMMENT ON COLUMN commission_ledger.commission IS 'sum of commissions (rate x price)';
COMMENT ON COLUMN commission_ledger.flagged_deals IS 'of those, deals with flags (to check before paying)';
COMMENT ON COLUMN commission_ledger.flagged_commission IS 'commission on flagged deals';

CREATE VIEW consultant_board AS
	WITH u AS (
		-- receptions, distinct persons received and first-visit receptions per month and consultant
		SELECT r.project_id, r.month, r.consultant_id, r.receptions, r.persons_received,
		       r.new_persons_received, 0 AS deals, 0::numeric AS revenue, 0 AS conflicts
		FROM rollup_consultant r WHERE r.receptions > 0
		UNION ALL
		SELECT a.project_id, date_trunc('month', a.signed_at AT TIME ZONE p.time_zone)::date, a.entitled_consultant_id,
		       0, 0, 0, 1, x.price, ('consultant_conflict' = ANY (a.flags))::int
		FROM attribution a
		JOIN project p ON p.project_id = a.project_id
		JOIN deal x ON x.project_id = a.project_id AND x.deal_id = a.deal_id
		WHERE a.is_current AND a.entitled_consultant_id IS NOT NULL)
	SELECT u.project_id, u.month, u.consultant_id, k.name AS consultant,
	       sum(u.receptions)::bigint AS receptions, sum(u.persons_received)::bigint AS persons_received,
	       sum(u.new_persons_received)::bigint AS new_persons_received,
	       sum(u.deals)::bigint AS deals, sum(u.revenue) AS revenue, sum(u.conflicts)::bigint AS conflicts
	FROM u
	LEFT JOIN consultant k ON k.project_id = u.project_id AND k.consultant_id = u.consultant_id
	GROUP BY u.project_id, u.month, u.consultant_id, k.name;
COMMENT ON VIEW consultant_board IS 'per consultant and local month: receptions and the deals the rules entitle them to';
COMMENT ON COLUMN consultant_board.month IS 'first day of the local month';
COMMENT ON COLUMN consultant_board.receptions IS 'visits the consultant received';
COMMENT ON COLUMN consultant_board.persons_received IS 'distinct persons received';
COMMENT ON COLUMN consultant_board.new_persons_received IS 'receptions of persons on their first visit';
COMMENT ON COLUMN consultant_board.deals IS 'deals signed that month whose entitled consultant is this one';
COMMENT ON COLUMN consultant_board.revenue IS 'sum of their prices';
COMMENT ON COLUMN consultant_board.conflicts IS 'of those, deals flagged consultant_conflict (another consultant closed them)';

-- the agency protection of each person's first touch, while it runs, for
-- persons no deal names (as buyer or co-buyer, or under a person merged into them)
CREATE INDEX deal_person ON deal (project_id, person_id);
-- accompanied first visits by time: the windows that may still run are the
-- recent ones (the view reads them from this index alone, not from every
-- accompanied visit of the agents)
CREATE INDEX visit_first_accompanied ON visit (project_id, started_at) INCLUDE (person_id, agent_id)
	WHERE agent_id IS NOT NULL AND NOT seen_before;
-- and their persons, if not merged away, without visiting the person rows
CREATE INDEX person_current ON person (project_id, person_id) WHERE merged_into IS NULL;
-- the longest protection period of any channel (evaluated once per query below)
CREATE FUNCTION max_protection_days() RETURNS integer
	LANGUAGE sql STABLE PARALLEL SAFE
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$ SELECT coalesce(max(protection_days), 0) FROM channel $$;
CREATE VIEW protection_expiring AS
	WITH ps AS MATERIALIZED (
		-- the two settings per project, read once per project rather than per visit
		SELECT p.project_id, p.time_zone,
		       (SELECT coalesce(s.value, setting_default(d, p.dims)) FROM setting_definition d
		        LEFT JOIN project_setting s ON s.project_id = p.project_id AND s.setting = d.setting
		        WHERE d.setting = 'attribution_mode') AS mode,
		       (SELECT coalesce(s.value, setting_default(d, p.dims)) FROM setting_definition d
		        LEFT JOIN project_setting s ON s.project_id = p.project_id AND s.setting = d.setting
		        WHERE d.setting = 'report_validity')::interval AS validity
		FROM project p),
	firsts AS (
		-- first visits (not seen_before) with an accompanying agent, recent enough for
		-- the longest protection to run (a window of N days ends at most N + 1 days
		-- and a daylight-saving hour after its visit)
		SELECT v.project_id, v.person_id, v.visit_id, v.started_at, v.agent_id
		FROM visit v
		JOIN person pe ON pe.project_id = v.project_id AND pe.person_id = v.person_id AND pe.merged_into IS NULL
		WHERE NOT v.seen_before AND v.agent_id IS NOT NULL
		  AND v.started_at > (SELECT now() - make_interval(days => max_protection_days() + 2)))
	SELECT f.project_id, f.person_id, ag.channel_id, c.name AS channel, f.agent_id,
	       f.started_at AT TIME ZONE ps.time_zone AS protected_from,
	       w.until_local AS protected_until,
	       w.until_local::date - (now() AT TIME ZONE ps.time_zone)::date AS days_left
	FROM firsts f
	JOIN ps ON ps.project_id = f.project_id
	JOIN agent ag ON ag.project_id = f.project_id AND ag.agent_id = f.agent_id
	JOIN channel c ON c.project_id = ag.project_id AND c.channel_id = ag.channel_id
	-- the window's end, computed once a row (OFFSET 0 keeps the planner from copying it into every use)
	CROSS JOIN LATERAL (SELECT e.until, e.until AT TIME ZONE ps.time_zone AS until_local
	                    FROM (SELECT local_days_end(f.started_at, c.protection_days, ps.time_zone) AS until OFFSET 0) e) w
	WHERE w.until > now()
	  -- no deal names the person (as buyer or co-buyer), nor a person merged into them
	  AND NOT EXISTS (SELECT 1 FROM rollup_buyer b
	                  WHERE b.project_id = f.project_id AND b.person_id = f.person_id AND b.deals > 0)
	  AND NOT EXISTS (SELECT 1 FROM person m
	                  JOIN rollup_buyer b ON b.project_id = m.project_id AND b.person_id = m.person_id AND b.deals > 0
	                  WHERE m.project_id = f.project_id AND m.merged_into = f.person_id)
	  AND (ps.mode = 'first_visit'
	       OR EXISTS (
			SELECT 1 FROM report r
			JOIN agent ra ON ra.project_id = r.project_id AND ra.agent_id = r.agent_id AND ra.channel_id = ag.channel_id
			JOIN identity i ON i.project_id = r.project_id AND i.person_id = f.person_id
			              AND (r.phone_hash = i.phone_hash OR (r.phone_hash IS NULL AND r.phone_masked_hash = i.phone_masked_hash))
			WHERE r.project_id = f.project_id AND r.reported_at < f.started_at
			  AND f.started_at < report_expiry(r.reported_at, c.report_cutoff, ps.validity, ps.time_zone)));
COMMENT ON VIEW protection_expiring IS 'running agency protection windows of persons no deal names as buyer or co-buyer, soonest end first when ordered by protected_until';
COMMENT ON COLUMN protection_expiring.channel IS 'the agency that brought the person first (with a valid report, in report_protection mode)';
COMMENT ON COLUMN protection_expiring.protected_from IS 'local time of the first visit';
COMMENT ON COLUMN protection_expiring.protected_until IS 'local time the window ends (exclusive)';
COMMENT ON COLUMN protection_expiring.days_left IS 'local calendar days from today to the end';

-- the columns the views share, documented once
DO $$
DECLARE
	c record;
	common jsonb := '{
		"project_id": "the project (sales office)",
		"channel_id": "the channel",
		"channel": "the channel''s name",
		"kind": "the channel''s kind: natural, agency, platform, referral, staff",
		"commission_rate": "the channel''s commission rate (0 to 1)",
		"consultant_id": "the consultant",
		"consultant": "the consultant''s name",
		"deal_id": "the deal",
		"price": "the deal''s price",
		"person_id": "the person (a face identity, no biometric data)",
		"agent_id": "the agent",
		"claimed_channel_id": "the channel the deal was entered with",
		"claimed_agent_id": "the agent the deal was entered with",
		"entitled_channel_id": "the channel the rules entitle",
		"entitled_agent_id": "the agent the rules entitle",
		"entitled_consultant_id": "the consultant the rules entitle",
		"decided_at": "when this attribution version was decided"
	}';
BEGIN
	FOR c IN
		SELECT a.attrelid::regclass AS rel, a.attname
		FROM pg_attribute a JOIN pg_class k ON k.oid = a.attrelid
		WHERE k.relnamespace = 'firstsight'::regnamespace
		  AND k.relname IN ('daily_traffic', 'channel_share', 'conversion_funnel', 'flagged_deals',
		                    'commission_ledger', 'consultant_board', 'protection_expiring')
		  AND a.attnum > 0 AND col_description(a.attrelid, a.attnum) IS NULL
		  AND common ? a.attname::text
	LOOP
		EXECUTE format('COMMENT ON COLUMN %s.%I IS %L', c.rel, c.attname, common->>c.attname::text);
	END LOOP;
END
$$;

-- src/sql/400_privacy_retention.sql
-- Privacy by design (issue 6): retention, consent and erasure.
-- Every biometric row (capture.face, capture.photo, face.face) carries an
-- expiry kept current by triggers from the project's retention policy and the
-- person's category and consent.  Erasure nulls the embedding and photo of a
-- capture (the capture row itself, its camera, time, person and visit stay, so
-- visits, deals, attribution and the BI views keep their numbers) and deletes
-- gallery rows, and with them their index entries at the next VACUUM.
-- No table here holds biometric data; logs name persons by id only.

ALTER TABLE capture ADD COLUMN photo_expires_at timestamptz;
ALTER TABLE capture ADD COLUMN erased_at timestamptz;
COMMENT ON COLUMN capture.expires_at IS 'when the embedding and photo are erased (privacy layer); null once erased';
COMMENT ON COLUMN capture.photo_expires_at IS 'when the photo is erased: 24 hours (photo_retention) unless consent covers photos';
COMMENT ON COLUMN capture.erased_at IS 'when the embedding and photo were erased; the non-biometric facts stay';
CREATE INDEX capture_expires ON capture (expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX capture_photo_expires ON capture (photo_expires_at) WHERE photo_expires_at IS NOT NULL;
-- no index on face.expires_at: re-dating a gallery row stays a HOT update, not a new HNSW index entry

ALTER TABLE person ADD COLUMN consent_given boolean;
ALTER TABLE person ADD COLUMN consent_scope text;
ALTER TABLE person ADD COLUMN consent_at timestamptz;
COMMENT ON COLUMN person.category IS 'retention category: visitor (no consent), consented, buyer (has a deal), or one with its own retention_policy row (staff, ...)';
COMMENT ON COLUMN person.consent_given IS 'the latest consent record: true given, false withdrawn, null never asked';
-- the retention clock: a person's biometric rows expire counted from the end
-- of the local day of last_seen, so a capture later on the same day moves no
-- expiry; the person's rows are re-dated only when this day end moves
ALTER TABLE person ADD COLUMN retention_day_end timestamptz;
COMMENT ON COLUMN person.retention_day_end IS 'end of the local day of last_seen that the expiry of the person''s biometric rows was last counted from (privacy layer)';

INSERT INTO setting_definition VALUES
	('photo_retention', 'interval', '24 hours', NULL, NULL,
	 'photos are erased this long after capture unless the person''s consent covers photos');

-- retention per project and category; a row per default category is made with each project
CREATE TABLE retention_policy (
	project_id bigint NOT NULL REFERENCES project ON DELETE CASCADE,
	category text NOT NULL CHECK (category ~ '^[a-z_]{1,40}$'),
	keep interval NOT NULL CHECK (keep > interval '0'),
	PRIMARY KEY (project_id, category)
);
COMMENT ON TABLE retention_policy IS 'how long biometric data is kept: visitor and consented after the end of the last visit''s day, buyer after the later of the last deal and that';
SELECT pg_catalog.pg_extension_config_dump('retention_policy', '');

CREATE TABLE retention_default (
	category text PRIMARY KEY,
	keep interval NOT NULL
);
INSERT INTO retention_default VALUES ('visitor', '30 days'), ('consented', '90 days'), ('buyer', '180 days');
COMMENT ON TABLE retention_default IS 'the retention_policy rows every new project starts with';

-- processing record: every consent given or withdrawn
CREATE SEQUENCE consent_id_seq;
CREATE TABLE consent (
	project_id bigint NOT NULL,
	consent_id bigint NOT NULL DEFAULT nextval('consent_id_seq'),
	person_id bigint NOT NULL,
	given boolean NOT NULL,
	method text NOT NULL,
	scope text NOT NULL,
	evidence text,
	recorded_at timestamptz NOT NULL DEFAULT statement_timestamp(),
	recorded_by name NOT NULL DEFAULT session_user,
	PRIMARY KEY (project_id, consent_id)
);
CREATE INDEX consent_person ON consent (project_id, person_id, recorded_at);
SELECT pg_catalog.pg_extension_config_dump('consent', '');

-- erasure record: what was erased for whom and why; never biometric content
CREATE SEQUENCE erasure_id_seq;
CREATE TABLE erasure_log (
	erasure_id bigint NOT NULL DEFAULT nextval('erasure_id_seq') PRIMARY KEY,
	project_id bigint NOT NULL,
	person_id bigint NOT NULL,
	kind text NOT NULL CHECK (kind IN ('request', 'consent_withdrawn')),
	reason text NOT NULL,
	requested_by name NOT NULL DEFAULT session_user,
	requested_at timestamptz NOT NULL,
	completed_at timestamptz NOT NULL,
	captures_erased integer NOT NULL,
	photos_erased integer NOT NULL,
	faces_erased integer NOT NULL
);
CREATE INDEX erasure_log_project ON erasure_log (project_id, requested_at);
SELECT pg_catalog.pg_extension_config_dump('erasure_log', '');

-- one row per enforce_retention call that erased something
CREATE SEQUENCE retention_run_id_seq;
CREATE TABLE retention_log (
	run_id bigint NOT NULL DEFAULT nextval('retention_run_id_seq') PRIMARY KEY,
	started_at timestamptz NOT NULL,
	finished_at timestamptz NOT NULL,
	as_of timestamptz NOT NULL,
	captures_erased bigint NOT NULL,
	photos_erased bigint NOT NULL,
	faces_erased bigint NOT NULL,
	by_project jsonb NOT NULL
);
SELECT pg_catalog.pg_extension_config_dump('retention_log', '');

-- records are kept at least three years: no updates, and no deletes of younger rows
CREATE FUNCTION records_guard() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	t timestamptz := (to_jsonb(OLD) ->> TG_ARGV[0])::timestamptz;
BEGIN
	IF TG_OP = 'UPDATE' THEN
		RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege',
			MESSAGE = format('%s records cannot be changed', TG_TABLE_NAME),
			HINT = 'Processing and erasure records are append-only.';
	END IF;
	IF t > now() - interval '3 years' THEN
		RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege',
			MESSAGE = format('%s records are kept for at least 3 years', TG_TABLE_NAME),
			DETAIL = 'Processing and erasure records must outlive the biometric data they describe.',
			HINT = 'Delete only records older than 3 years.';
	END IF;
	RETURN OLD;
END
$$;
CREATE TRIGGER consent_guard BEFORE UPDATE OR DELETE ON consent
	FOR EACH ROW EXECUTE FUNCTION records_guard('recorded_at');
CREATE TRIGGER erasure_log_guard BEFORE UPDATE OR DELETE ON erasure_log
	FOR EACH ROW EXECUTE FUNCTION records_guard('requested_at');
CREATE TRIGGER retention_log_guard BEFORE UPDATE OR DELETE ON retention_log
	FOR EACH ROW EXECUTE FUNCTION records_guard('started_at');

-- the end of the local day of ts in time zone tz
-- (expiry helpers run per row: no SET clause, so the planner inlines them; names are qualified)
CREATE FUNCTION end_of_day(ts timestamptz, tz text) RETURNS timestamptz
	LANGUAGE sql STABLE PARALLEL SAFE
	AS $$ SELECT (date_trunc('day', ts AT TIME ZONE tz) + interval '1 day') AT TIME ZONE tz $$;

-- how one person's biometric rows expire
CREATE TYPE retention_terms AS (
	end_of_day boolean,		-- consent mode and no consent: each row at the end of its day
	time_zone text,
	until timestamptz,		-- otherwise every row at this time
	photo_keep interval,	-- photos at most this long after capture ...
	photo_consent boolean	-- ... unless consent covers photos
);

-- the retention terms of a person now (one query with a cached plan: it runs for every capture);
-- p_seen: a last_seen the person is about to get (ingestion dates a statement's
-- new captures in the statement that updates the person)
CREATE FUNCTION retention_terms(p_project_id bigint, p_person_id bigint, p_seen timestamptz DEFAULT NULL) RETURNS retention_terms
	LANGUAGE plpgsql STABLE
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	t retention_terms;
BEGIN
	SELECT coalesce((SELECT s.value FROM project_setting s WHERE s.project_id = p.project_id AND s.setting = 'consent_mode'),
	                (SELECT d.default_value FROM setting_definition d WHERE d.setting = 'consent_mode')) = 'consent'
	           AND p.consent_given IS NOT TRUE,
	       pr.time_zone,
	       greatest(end_of_day(greatest(p.last_seen, p_seen), pr.time_zone),
	                CASE WHEN p.category = 'buyer' THEN
	                    (SELECT max(d.signed_at) FROM deal d
	                     WHERE d.project_id = p.project_id AND (d.person_id = p.person_id OR p.person_id = ANY (d.co_buyer_ids)))
	                END)
	         + coalesce(rp.keep, rv.keep, (SELECT r.keep FROM retention_default r WHERE r.category = 'visitor')),
	       coalesce((SELECT s.value FROM project_setting s WHERE s.project_id = p.project_id AND s.setting = 'photo_retention'),
	                (SELECT d.default_value FROM setting_definition d WHERE d.setting = 'photo_retention'))::interval,
	       p.consent_given IS TRUE AND 'photo' = ANY (string_to_array(p.consent_scope, ','))
	INTO t.end_of_day, t.time_zone, t.until, t.photo_keep, t.photo_consent
	FROM person p
	JOIN project pr ON pr.project_id = p.project_id
	LEFT JOIN retention_policy rp ON rp.project_id = p.project_id AND rp.category = p.category
	LEFT JOIN retention_policy rv ON rv.project_id = p.project_id AND rv.category = 'visitor'
	WHERE p.project_id = p_project_id AND p.person_id = p_person_id;
	IF NOT FOUND THEN
		RETURN NULL;
	END IF;
	RETURN t;
END
$$;

-- when a biometric row captured at ts expires under terms t
CREATE FUNCTION expiry(t firstsight.retention_terms, ts timestamptz) RETURNS timestamptz
	LANGUAGE sql STABLE PARALLEL SAFE
	AS $$ SELECT CASE WHEN t.end_of_day THEN firstsight.end_of_day(ts, t.time_zone) ELSE t.until END $$;

-- when a photo captured at ts expires under terms t
CREATE FUNCTION photo_expiry(t firstsight.retention_terms, ts timestamptz) RETURNS timestamptz
	LANGUAGE sql STABLE PARALLEL SAFE
	AS $$ SELECT CASE WHEN t.photo_consent THEN firstsight.expiry(t, ts) ELSE least(firstsight.expiry(t, ts), ts + t.photo_keep) END $$;

-- set expires_at on every biometric row of a person that is not yet erased,
-- and the person's retention clock (retention_day_end)
CREATE FUNCTION refresh_expiry(p_project_id bigint, p_person_id bigint) RETURNS void
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	t retention_terms := retention_terms(p_project_id, p_person_id);
BEGIN
	IF t IS NULL THEN
		RETURN;
	END IF;
	UPDATE capture c
	SET expires_at = CASE WHEN c.face IS NOT NULL THEN expiry(t, c.captured_at) END,
	    photo_expires_at = CASE WHEN c.photo IS NOT NULL THEN photo_expiry(t, c.captured_at) END
	WHERE c.project_id = p_project_id AND c.person_id = p_person_id
	  AND (c.face IS NOT NULL OR c.photo IS NOT NULL)
	  AND (c.expires_at IS DISTINCT FROM CASE WHEN c.face IS NOT NULL THEN expiry(t, c.captured_at) END
	       OR c.photo_expires_at IS DISTINCT FROM CASE WHEN c.photo IS NOT NULL THEN photo_expiry(t, c.captured_at) END);
	UPDATE face f SET expires_at = expiry(t, f.captured_at)
	WHERE f.project_id = p_project_id AND f.person_id = p_person_id
	  AND f.expires_at IS DISTINCT FROM expiry(t, f.captured_at);
	-- ingestion has set it already (most calls): then no UPDATE statement at
	-- all, whose statement triggers on person (rollups) would run for nothing
	PERFORM 1 FROM person p
	WHERE p.project_id = p_project_id AND p.person_id = p_person_id
	  AND p.retention_day_end IS DISTINCT FROM end_of_day(p.last_seen, t.time_zone);
	IF FOUND THEN
		UPDATE person p SET retention_day_end = end_of_day(p.last_seen, t.time_zone)
		WHERE p.project_id = p_project_id AND p.person_id = p_person_id;
	END IF;
END
$$;

-- refresh every person of a project (policy or setting changes)
CREATE FUNCTION refresh_project_expiry(p_project_id bigint, p_category text DEFAULT NULL) RETURNS void
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	pid bigint;
BEGIN
	FOR pid IN SELECT p.person_id FROM person p
	           WHERE p.project_id = p_project_id AND p.merged_into IS NULL
	             AND (p_category IS NULL OR p.category = p_category
	                  OR (p_category = 'visitor' AND NOT EXISTS (
	                      SELECT 1 FROM retention_policy r WHERE r.project_id = p_project_id AND r.category = p.category)))
	           ORDER BY p.person_id LOOP
		PERFORM refresh_expiry(p_project_id, pid);
	END LOOP;
END
$$;

-- gallery rows get their expiry as they are written (ingestion, rebuild_gallery)
CREATE FUNCTION face_expiry() RETURNS trigger
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	t retention_terms := retention_terms(NEW.project_id, NEW.person_id);
BEGIN
	-- expiry(t, captured_at), spelt out: a SQL function call per row costs more than the rest
	IF t.end_of_day THEN
		NEW.expires_at := (date_trunc('day', NEW.captured_at AT TIME ZONE t.time_zone) + interval '1 day') AT TIME ZONE t.time_zone;
	ELSE
		NEW.expires_at := t.until;
	END IF;
	RETURN NEW;
END
$$;
CREATE TRIGGER face_expiry BEFORE INSERT OR UPDATE OF person_id, captured_at, face ON face
	FOR EACH ROW EXECUTE FUNCTION face_expiry();

-- a person's stored rows are re-dated when the retention clock moves: when
-- last_seen changes, unless it moved forward within the stored day
-- (retention_day_end; ingestion sets the day end of the last_seen it writes,
-- refresh_expiry for every other writer), or when category or consent change.
-- A capture gets its own expiry as ingestion writes it, so a capture later on
-- the same day rewrites no older row (bench/RESULTS.md, Ingestion)
CREATE FUNCTION person_expiry() RETURNS trigger
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
BEGIN
	PERFORM refresh_expiry(NEW.project_id, NEW.person_id);
	RETURN NULL;
END
$$;
CREATE TRIGGER person_expiry AFTER UPDATE ON person
	FOR EACH ROW
	WHEN ((OLD.last_seen IS DISTINCT FROM NEW.last_seen
	       AND NOT (NEW.retention_day_end IS NOT DISTINCT FROM OLD.retention_day_end
	                AND NEW.last_seen >= OLD.last_seen AND NEW.last_seen < NEW.retention_day_end))
	      OR OLD.category IS DISTINCT FROM NEW.category OR OLD.consent_given IS DISTINCT FROM NEW.consent_given
	      OR OLD.consent_scope IS DISTINCT FROM NEW.consent_scope)
	EXECUTE FUNCTION person_expiry();

-- the category a person's deals and consent give them (custom categories stay unless a deal makes a buyer)
CREATE FUNCTION derived_category(p person) RETURNS text
	LANGUAGE sql STABLE
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
	SELECT CASE
		WHEN EXISTS (SELECT 1 FROM deal d WHERE d.project_id = p.project_id
		             AND (d.person_id = p.person_id OR p.person_id = ANY (d.co_buyer_ids))) THEN 'buyer'
		WHEN p.category NOT IN ('visitor', 'consented', 'buyer') THEN p.category
		WHEN p.consent_given THEN 'consented'
		ELSE 'visitor' END
	$$;

-- re-derive the category of some persons and refresh their expiry (deal dates move the buyer's);
-- p_buyers: a deal names them all, so they are buyers (what derived_category would find, without its search of the deals)
CREATE FUNCTION recategorize(p_project_id bigint, p_person_ids bigint[], p_buyers boolean DEFAULT false) RETURNS void
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	pid bigint;
BEGIN
	FOR pid IN SELECT DISTINCT u FROM unnest(p_person_ids) u WHERE u IS NOT NULL ORDER BY u LOOP
		IF p_buyers THEN
			UPDATE person p SET category = 'buyer'
			WHERE p.project_id = p_project_id AND p.person_id = pid AND p.category IS DISTINCT FROM 'buyer';
		ELSE
			UPDATE person p SET category = c.category
			FROM (SELECT q.person_id, derived_category(q) AS category FROM person q
			      WHERE q.project_id = p_project_id AND q.person_id = pid) c
			WHERE p.project_id = p_project_id AND p.person_id = pid AND p.category IS DISTINCT FROM c.category;
		END IF;
		-- a new category has refreshed the expiry already (person_expiry); otherwise
		-- the deal dates may still move a buyer's
		IF NOT FOUND THEN
			PERFORM refresh_expiry(p_project_id, pid);
		END IF;
	END LOOP;
END
$$;

-- deals make buyers (and stop making them when deleted or moved)
CREATE FUNCTION deal_category() RETURNS trigger
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
BEGIN
	IF TG_OP IN ('UPDATE', 'DELETE') THEN
		PERFORM recategorize(OLD.project_id, OLD.person_id || OLD.co_buyer_ids);
	END IF;
	IF TG_OP IN ('INSERT', 'UPDATE') THEN
		PERFORM recategorize(NEW.project_id, NEW.person_id || NEW.co_buyer_ids, true);
	END IF;
	RETURN NULL;
END
$$;
CREATE TRIGGER deal_category AFTER INSERT OR UPDATE OR DELETE ON deal
	FOR EACH ROW EXECUTE FUNCTION deal_category();

-- new projects start with the default policy rows
CREATE FUNCTION project_retention_defaults() RETURNS trigger
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
BEGIN
	INSERT INTO retention_policy (project_id, category, keep)
	SELECT NEW.project_id, d.category, d.keep FROM retention_default d
	ON CONFLICT DO NOTHING;
	RETURN NULL;
END
$$;
CREATE TRIGGER project_retention_defaults AFTER INSERT ON project
	FOR EACH ROW EXECUTE FUNCTION project_retention_defaults();

-- policy changes apply to the rows already stored
CREATE FUNCTION retention_policy_changed() RETURNS trigger
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
BEGIN
	IF TG_OP = 'DELETE' THEN
		PERFORM refresh_project_expiry(OLD.project_id, OLD.category);
	ELSE
		PERFORM refresh_project_expiry(NEW.project_id, NEW.category);
	END IF;
	RETURN NULL;
END
$$;
CREATE TRIGGER retention_policy_changed AFTER UPDATE OR DELETE ON retention_policy
	FOR EACH ROW EXECUTE FUNCTION retention_policy_changed();
CREATE TRIGGER retention_policy_added AFTER INSERT ON retention_policy
	FOR EACH ROW WHEN (NEW.category NOT IN ('visitor', 'consented', 'buyer'))
	EXECUTE FUNCTION retention_policy_changed();

-- consent_mode and photo_retention changes apply to the rows already stored
CREATE FUNCTION retention_setting_changed() RETURNS trigger
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
BEGIN
	IF TG_OP = 'DELETE' THEN
		IF OLD.setting IN ('consent_mode', 'photo_retention') THEN
			PERFORM refresh_project_expiry(OLD.project_id);
		END IF;
	ELSIF NEW.setting IN ('consent_mode', 'photo_retention') THEN
		PERFORM refresh_project_expiry(NEW.project_id);
	END IF;
	RETURN NULL;
END
$$;
CREATE TRIGGER retention_setting_changed AFTER INSERT OR UPDATE OR DELETE ON project_setting
	FOR EACH ROW EXECUTE FUNCTION retention_setting_changed();

-- set how long a category's biometric data is kept in a project; applies at once to stored rows
CREATE FUNCTION set_retention(project_id bigint, category text, keep interval) RETURNS interval
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
BEGIN
	PERFORM 1 FROM project p WHERE p.project_id = set_retention.project_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
			MESSAGE = format('project %s does not exist', coalesce(set_retention.project_id::text, 'NULL'));
	END IF;
	IF category IS NULL OR category !~ '^[a-z_]{1,40}$' THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = format('invalid retention category "%s"', coalesce(category, 'NULL')),
			DETAIL = 'Categories are visitor, consented, buyer, or a lower-case name of your own such as staff.';
	END IF;
	IF keep IS NULL OR keep <= interval '0' OR keep > interval '10 years' THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = format('invalid retention period "%s"', coalesce(keep::text, 'NULL')),
			DETAIL = 'Biometric data is never kept forever: give a positive interval of at most 10 years.',
			HINT = 'For example ''30 days''.';
	END IF;
	INSERT INTO retention_policy AS r (project_id, category, keep)
	VALUES (set_retention.project_id, set_retention.category, set_retention.keep)
	ON CONFLICT ON CONSTRAINT retention_policy_pkey DO UPDATE SET keep = excluded.keep;
	RETURN keep;
END
$$;
COMMENT ON FUNCTION set_retention(bigint, text, interval) IS 'set a project''s retention period for a category; recomputes expires_at of stored rows';

-- erase the biometric data of one person now; the log row (no biometric content)
CREATE FUNCTION erase_biometrics(p_project_id bigint, p_person_id bigint, p_kind text, p_reason text)
	RETURNS erasure_log
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	started timestamptz := clock_timestamp();
	persons bigint[];
	nc integer;
	np integer;
	nf integer;
	l erasure_log;
BEGIN
	-- the person and any merged into them (their captures moved, but be thorough)
	WITH RECURSIVE m(person_id) AS (
		SELECT p_person_id
		UNION
		SELECT p.person_id FROM person p JOIN m ON p.project_id = p_project_id AND p.merged_into = m.person_id)
	SELECT array_agg(person_id) INTO persons FROM m;
	PERFORM 1 FROM person p WHERE p.project_id = p_project_id AND p.person_id = ANY (persons)
	ORDER BY p.person_id FOR UPDATE;
	WITH u AS (
		UPDATE capture c SET face = NULL, photo = NULL, expires_at = NULL, photo_expires_at = NULL,
		                     erased_at = statement_timestamp()
		FROM (SELECT x.capture_id, x.face IS NOT NULL AS had_face, x.photo IS NOT NULL AS had_photo
		      FROM capture x WHERE x.project_id = p_project_id AND x.person_id = ANY (persons)
		        AND (x.face IS NOT NULL OR x.photo IS NOT NULL)) o
		WHERE c.project_id = p_project_id AND c.capture_id = o.capture_id
		RETURNING o.had_face, o.had_photo)
	SELECT count(*) FILTER (WHERE had_face), count(*) FILTER (WHERE had_photo) INTO nc, np FROM u;
	DELETE FROM face f WHERE f.project_id = p_project_id AND f.person_id = ANY (persons);
	GET DIAGNOSTICS nf = ROW_COUNT;
	INSERT INTO erasure_log (project_id, person_id, kind, reason, requested_at, completed_at,
	                         captures_erased, photos_erased, faces_erased)
	VALUES (p_project_id, p_person_id, p_kind, p_reason, started, clock_timestamp(), nc, np, nf)
	RETURNING * INTO l;
	RETURN l;
END
$$;

-- the current (unmerged) person of an id, or an error that names no biometric data
CREATE FUNCTION privacy_person(p_project_id bigint, p_person_id bigint) RETURNS bigint
	LANGUAGE plpgsql STABLE
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	pid bigint := current_person(p_project_id, p_person_id);
BEGIN
	IF pid IS NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'no_data_found',
			MESSAGE = format('person %s does not exist in project %s', coalesce(p_person_id::text, 'NULL'),
			                 coalesce(p_project_id::text, 'NULL')),
			HINT = 'Persons are numbered within a project; see firstsight.person.';
	END IF;
	RETURN pid;
END
$$;

-- erase a person's biometric data at once (their request); visits, deals and attribution stay
CREATE FUNCTION erase_person(project_id bigint, person_id bigint, reason text) RETURNS erasure_log
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	pid bigint := privacy_person(erase_person.project_id, erase_person.person_id);
BEGIN
	IF reason IS NULL OR btrim(reason) = '' THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = 'an erasure needs a reason',
			HINT = 'Give the request reference, for example ''request 2024-017 by email''.';
	END IF;
	RETURN erase_biometrics(erase_person.project_id, pid, 'request', reason);
END
$$;
COMMENT ON FUNCTION erase_person(bigint, bigint, text) IS 'erase a person''s embeddings, photos and gallery rows now; logged in erasure_log';

-- record consent given or withdrawn; withdrawal erases the person's biometric data at once
CREATE FUNCTION record_consent(project_id bigint, person_id bigint, given boolean, method text, scope text, evidence text)
	RETURNS bigint
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	pid bigint := privacy_person(record_consent.project_id, record_consent.person_id);
	parts text[] := string_to_array(scope, ',');
	id bigint;
BEGIN
	IF given IS NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = 'consent must be given (true) or withdrawn (false)';
	END IF;
	IF method IS NULL OR btrim(method) = '' THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = 'consent needs a method',
			HINT = 'Say how it was given or withdrawn, for example ''kiosk'', ''paper form'' or ''app''.';
	END IF;
	IF parts IS NULL OR cardinality(parts) = 0 OR NOT parts <@ ARRAY['face', 'photo'] THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = format('invalid consent scope "%s"', coalesce(scope, 'NULL')),
			DETAIL = 'The scope is face, photo or face,photo.',
			HINT = 'face keeps the embedding under the consented retention; photo also keeps photos past photo_retention.';
	END IF;
	INSERT INTO consent (project_id, person_id, given, method, scope, evidence)
	VALUES (record_consent.project_id, pid, given, method, scope, evidence)
	RETURNING consent_id INTO id;
	UPDATE person p SET consent_given = given, consent_scope = scope, consent_at = statement_timestamp()
	WHERE p.project_id = record_consent.project_id AND p.person_id = pid;
	PERFORM recategorize(record_consent.project_id, ARRAY[pid]);
	IF NOT given THEN
		PERFORM erase_biometrics(record_consent.project_id, pid, 'consent_withdrawn', 'consent ' || id || ' withdrawn');
	END IF;
	RETURN id;
END
$$;
COMMENT ON FUNCTION record_consent(bigint, bigint, boolean, text, text, text) IS
	'record consent given or withdrawn (method, scope face/photo, evidence reference); withdrawal erases biometric data at once';

-- erase expired biometric data in bounded batches; what it erased, and whether more is due.
-- Per erased capture: one index-ordered pick with a row lock (SKIP LOCKED),
-- one UPDATE found by its tid (no second primary-key descent), and never two
-- updates of one row (a photo due with its embedding goes with it).  The
-- update cannot be HOT (expires_at, which it clears, is indexed, and a full
-- heap page has no room for the new version in the same transaction), so each
-- erased capture also gets entries in the primary key, capture_person and
-- capture_visit; VACUUM removes the old ones.  Counts per project come from
-- the statements themselves (no temporary table: no catalog writes per call).
CREATE FUNCTION enforce_retention(batch_size integer DEFAULT 10000, as_of timestamptz DEFAULT now())
	RETURNS TABLE (captures_erased bigint, photos_erased bigint, faces_erased bigint, more boolean)
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = firstsight, pg_catalog, pg_temp
	-- the batch joins its rows by tid (or gallery key): a nested loop, never a
	-- hash of the whole table, whatever the estimates
	SET enable_hashjoin = off
	SET enable_mergejoin = off
	AS $$
DECLARE
	started timestamptz := clock_timestamp();
	n1 bigint;		-- captures of the embedding pass
	p1 bigint;		-- ... that had a photo
	n2 bigint;		-- captures of the photo pass
	c2 bigint;		-- ... whose embedding was due too
	nf bigint;		-- gallery rows
	j1 jsonb;		-- per project counts of each pass
	j2 jsonb;
	j3 jsonb;
	per jsonb;
	r record;
BEGIN
	IF batch_size IS NULL OR batch_size < 1 OR batch_size > 1000000 THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = format('batch size %s is out of range', coalesce(batch_size::text, 'NULL')),
			HINT = 'Give 1 to 1000000; 10000 keeps each call well under a second.';
	END IF;
	as_of := coalesce(as_of, now());

	-- 1. captures whose embedding is due: embedding and photo go; rows locked
	--    elsewhere (ingestion) are left for the next call, and neither waits
	WITH b AS (
		SELECT x.ctid AS tid, x.project_id, x.photo_expires_at IS NOT NULL AS had_photo
		FROM capture x
		WHERE x.expires_at <= as_of
		ORDER BY x.expires_at LIMIT batch_size
		FOR UPDATE SKIP LOCKED
	), u AS (
		UPDATE capture x SET face = NULL, photo = NULL, expires_at = NULL, photo_expires_at = NULL,
		                     erased_at = statement_timestamp()
		FROM b WHERE x.ctid = b.tid
		RETURNING b.project_id, b.had_photo
	), g AS (
		SELECT u.project_id, count(*) AS n, count(*) FILTER (WHERE u.had_photo) AS photos
		FROM u GROUP BY u.project_id
	)
	SELECT coalesce(sum(g.n), 0), coalesce(sum(g.photos), 0),
	       jsonb_object_agg(g.project_id::text, jsonb_build_object('captures', g.n, 'photos', g.photos))
	INTO n1, p1, j1 FROM g;

	-- 2. captures whose photo is past photo_retention (their embedding too, if due)
	WITH b AS (
		SELECT x.ctid AS tid, x.project_id, coalesce(x.expires_at <= as_of, false) AS face_due
		FROM capture x
		WHERE x.photo_expires_at <= as_of
		ORDER BY x.photo_expires_at LIMIT batch_size
		FOR UPDATE SKIP LOCKED
	), u AS (
		UPDATE capture x SET photo = NULL, photo_expires_at = NULL,
		                     face = CASE WHEN b.face_due THEN NULL ELSE x.face END,
		                     expires_at = CASE WHEN b.face_due THEN NULL ELSE x.expires_at END,
		                     erased_at = CASE WHEN b.face_due THEN statement_timestamp() ELSE x.erased_at END
		FROM b WHERE x.ctid = b.tid
		RETURNING b.project_id, b.face_due
	), g AS (
		SELECT u.project_id, count(*) AS n, count(*) FILTER (WHERE u.face_due) AS captures
		FROM u GROUP BY u.project_id
	)
	SELECT coalesce(sum(g.n), 0), coalesce(sum(g.captures), 0),
	       jsonb_object_agg(g.project_id::text, jsonb_build_object('captures', g.captures, 'photos', g.n))
	INTO n2, c2, j2 FROM g;

	-- 3. gallery rows (their index entries go at the next VACUUM and are never
	--    returned before).  face.expires_at has no index (re-dating a gallery row
	--    stays HOT), so this is a sequential scan: in table order, stopping at
	--    batch_size rows, rather than sorting every due row of every gallery
	WITH b AS (
		SELECT f.project_id, f.face_id FROM face f
		WHERE f.expires_at <= as_of
		LIMIT batch_size
		FOR UPDATE SKIP LOCKED
	), d AS (
		DELETE FROM face f USING b WHERE f.project_id = b.project_id AND f.face_id = b.face_id
		RETURNING f.project_id
	), g AS (
		SELECT d.project_id, count(*) AS n FROM d GROUP BY d.project_id
	)
	SELECT coalesce(sum(g.n), 0), jsonb_object_agg(g.project_id::text, jsonb_build_object('faces', g.n))
	INTO nf, j3 FROM g;

	IF n1 + n2 + nf > 0 THEN
		-- per project, only what was erased: {"captures": n, "photos": n, "faces": n}
		SELECT jsonb_object_agg(e.project, e.counts) INTO per
		FROM (SELECT j.project, jsonb_strip_nulls(jsonb_build_object(
		             'captures', nullif(sum((j.counts ->> 'captures')::bigint), 0),
		             'photos', nullif(sum((j.counts ->> 'photos')::bigint), 0),
		             'faces', nullif(sum((j.counts ->> 'faces')::bigint), 0))) AS counts
		      FROM (SELECT * FROM jsonb_each(coalesce(j1, '{}'))
		            UNION ALL SELECT * FROM jsonb_each(coalesce(j2, '{}'))
		            UNION ALL SELECT * FROM jsonb_each(coalesce(j3, '{}'))) j(project, counts)
		      GROUP BY j.project) e;
		INSERT INTO retention_log (started_at, finished_at, as_of, captures_erased, photos_erased, faces_erased, by_project)
		VALUES (started, clock_timestamp(), as_of, n1 + c2, p1 + n2, nf, per);
		IF to_regprocedure('firstsight.emit_event(bigint,text,text,jsonb)') IS NOT NULL THEN
			FOR r IN SELECT key::bigint AS project_id, value AS counts FROM jsonb_each(per) ORDER BY 1 LOOP
				PERFORM firstsight.emit_event(r.project_id, 'retention.completed', 'retention',
				                              r.counts || jsonb_build_object('as_of', as_of));
			END LOOP;
		END IF;
	END IF;
	RETURN QUERY SELECT n1 + c2, p1 + n2, nf, (n1 = batch_size OR n2 = batch_size OR nf = batch_size);
END
$$;
COMMENT ON FUNCTION enforce_retention(integer, timestamptz) IS
	'erase up to batch_size captures whose embedding is due, batch_size whose photo is due and batch_size gallery rows; call again while more is true';

-- pacing, shared by enforce_retention_all and the background worker.  After a
-- call of `size` rows a pass that took `took` seconds: the size of the next
-- call (aimed at batch_time: scaled by at most x2 or x1/2 a step, 1 to
-- batch_size) and the pause before it, took * (1 - s) / s, so that erasure
-- keeps its backend busy for a share s of the time: `share`, or half of it
-- while (auto)vacuum works on capture or face.  That vacuum mostly cleans up
-- after the erasure (old row versions, index entries, the gallery index's
-- repair) and competes for the same cores, so the two together stay near
-- `share` instead of adding up.  SECURITY DEFINER to see autovacuum's
-- progress; it reads no table data and says only whether vacuum is busy.
CREATE FUNCTION retention_pace(size integer, took float8, batch_size integer, share real, batch_time interval,
                               OUT next_size integer, OUT pause float8, OUT vacuum_busy boolean)
	LANGUAGE plpgsql STABLE SECURITY DEFINER
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	target float8 := extract(epoch FROM batch_time);
	s float8;
BEGIN
	IF share IS NULL OR NOT share > 0 OR share > 1 THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = format('share %s is out of range', coalesce(share::text, 'NULL')),
			DETAIL = 'share is the fraction of the time spent erasing, between its pauses.',
			HINT = 'Give more than 0 and at most 1; 0.3 erases 30% of the time, 1 without pauses.';
	END IF;
	IF batch_time IS NULL OR target <= 0 THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = 'batch_time must be positive',
			HINT = 'For example batch_time => ''500 ms''.';
	END IF;
	took := greatest(coalesce(took, 0), 0.001);
	next_size := greatest(1, least(coalesce(batch_size, 10000),
	                 round(greatest(coalesce(size, 1), 1) * least(2.0, greatest(0.5, target / took)))::integer));
	SELECT EXISTS (
		SELECT 1 FROM pg_stat_progress_vacuum v
		JOIN pg_class c ON c.oid IN ('firstsight.capture'::regclass, 'firstsight.face'::regclass)
		WHERE v.datid = (SELECT d.oid FROM pg_database d WHERE d.datname = current_database())
		  AND v.relid IN (c.oid, c.reltoastrelid))
	INTO vacuum_busy;
	s := CASE WHEN vacuum_busy AND share < 1 THEN share / 2 ELSE share END;
	pause := took * (1 - s) / s;
END
$$;
COMMENT ON FUNCTION retention_pace(integer, float8, integer, real, interval) IS
	'pacing of enforce_retention_all and the worker: the next call''s size and the pause before it (share of the time erasing, halved while vacuum works on capture or face)';

-- enforce retention to the end, committing after every call (pg_cron, psql).
-- Paced by elapsed time, not fixed sleeps (retention_pace): each call is sized
-- to take about batch_time (at most batch_size rows a pass), so row locks are
-- short on any machine, and after a call that took t the procedure sleeps
-- t * (1 - share) / share (share halved while vacuum works on capture or
-- face; plus pause), so erasure keeps its backend busy for about `share` of
-- the time.
CREATE PROCEDURE enforce_retention_all(batch_size integer DEFAULT 10000, pause interval DEFAULT '0',
                                       share real DEFAULT 0.3, batch_time interval DEFAULT '500 ms')
	LANGUAGE plpgsql
	AS $$
DECLARE
	more boolean := true;
	size integer;
	t0 timestamptz;
	took float8;
	p record;
BEGIN
	-- the share is checked where it is used, before anything is erased
	PERFORM firstsight.retention_pace(1, 1, 1, share, interval '1 s');
	IF batch_time IS NULL OR extract(epoch FROM batch_time) <= 0 OR pause IS NULL OR pause < interval '0' THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = 'batch_time must be positive and pause not negative',
			HINT = 'For example batch_time => ''500 ms'', pause => ''0''.';
	END IF;
	size := least(batch_size, 1000);	-- then sized by the time calls take
	WHILE more LOOP
		t0 := pg_catalog.clock_timestamp();
		SELECT r.more INTO more FROM firstsight.enforce_retention(size) r;
		COMMIT;
		took := extract(epoch FROM pg_catalog.clock_timestamp() - t0);
		IF more THEN
			SELECT * INTO p FROM firstsight.retention_pace(size, took, batch_size, share, batch_time);
			size := p.next_size;
			PERFORM pg_catalog.pg_sleep(p.pause + extract(epoch FROM pause));
		END IF;
	END LOOP;
END
$$;

-- src/sql/410_privacy_roles.sql
-- Least privilege (issue 6): four NOLOGIN roles, row-level security for
-- project managers, and audited functions as the only way to read photos and
-- embeddings.  setup_roles() is idempotent: run it again after upgrades so
-- new views and functions get their grants.

-- which roles manage which projects (firstsight.grant_project)
CREATE TABLE project_access (
	role_name name NOT NULL,
	project_id bigint NOT NULL REFERENCES project ON DELETE CASCADE,
	granted_at timestamptz NOT NULL DEFAULT statement_timestamp(),
	granted_by name NOT NULL DEFAULT session_user,
	PRIMARY KEY (role_name, project_id)
);
SELECT pg_catalog.pg_extension_config_dump('project_access', '');

-- every read of a photo or embedding: who, when, which person, why; no biometric content
CREATE SEQUENCE biometric_access_id_seq;
CREATE TABLE biometric_access_log (
	access_id bigint NOT NULL DEFAULT nextval('biometric_access_id_seq') PRIMARY KEY,
	accessed_at timestamptz NOT NULL DEFAULT clock_timestamp(),
	accessed_by name NOT NULL DEFAULT session_user,
	project_id bigint NOT NULL,
	capture_id bigint NOT NULL,
	person_id bigint,
	what text NOT NULL CHECK (what IN ('photo', 'embedding')),
	purpose text NOT NULL,
	returned boolean NOT NULL
);
CREATE INDEX biometric_access_log_person ON biometric_access_log (project_id, person_id, accessed_at);
SELECT pg_catalog.pg_extension_config_dump('biometric_access_log', '');
CREATE TRIGGER biometric_access_log_guard BEFORE UPDATE OR DELETE ON biometric_access_log
	FOR EACH ROW EXECUTE FUNCTION records_guard('accessed_at');

-- true when the current role manages the project (used by row-level security)
CREATE FUNCTION has_project_access(project_id bigint) RETURNS boolean
	LANGUAGE sql STABLE
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
	SELECT EXISTS (SELECT 1 FROM project_access a JOIN pg_roles r ON r.rolname = a.role_name
	               WHERE a.project_id = has_project_access.project_id AND pg_has_role(r.oid, 'MEMBER'))
	$$;

-- may the session user read biometric data of a project (privacy officer, or manager of it)
CREATE FUNCTION may_read_biometrics(p_project_id bigint, p_what text) RETURNS boolean
	LANGUAGE sql STABLE
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
	SELECT (SELECT rolsuper FROM pg_roles WHERE rolname = session_user)
	    OR (to_regrole('firstsight_privacy_officer') IS NOT NULL
	        AND pg_has_role(session_user, 'firstsight_privacy_officer', 'MEMBER'))
	    OR (p_what = 'photo' AND to_regrole('firstsight_manager') IS NOT NULL
	        AND pg_has_role(session_user, 'firstsight_manager', 'MEMBER')
	        AND EXISTS (SELECT 1 FROM project_access a JOIN pg_roles r ON r.rolname = a.role_name
	                    WHERE a.project_id = p_project_id AND pg_has_role(session_user, r.oid, 'MEMBER')))
	$$;

-- check and log one read of a capture's biometric data; the capture's person
CREATE FUNCTION audit_biometric_read(p_project_id bigint, p_capture_id bigint, p_what text, p_purpose text,
                                     p_returned boolean, p_person_id bigint) RETURNS void
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
BEGIN
	INSERT INTO biometric_access_log (project_id, capture_id, person_id, what, purpose, returned)
	VALUES (p_project_id, p_capture_id, p_person_id, p_what, p_purpose, p_returned);
END
$$;

-- refuse a biometric read that has no purpose or no right
CREATE FUNCTION check_biometric_read(p_project_id bigint, p_capture_id bigint, p_what text, p_purpose text) RETURNS void
	LANGUAGE plpgsql STABLE
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
BEGIN
	IF p_purpose IS NULL OR length(btrim(p_purpose)) < 3 THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = format('reading a %s needs a purpose', p_what),
			DETAIL = 'Every read of biometric data is logged with its purpose in firstsight.biometric_access_log.',
			HINT = 'Give the reason, for example ''dispute 2024-031: agency claims this visit''.';
	END IF;
	IF NOT may_read_biometrics(p_project_id, p_what) THEN
		RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege',
			MESSAGE = format('permission denied to read this %s', p_what),
			DETAIL = format('Capture %s of project %s; nothing was returned or logged.',
			                coalesce(p_capture_id::text, 'NULL'), coalesce(p_project_id::text, 'NULL')),
			HINT = CASE WHEN p_what = 'photo'
			            THEN 'Photos are for the privacy officer and for managers of the project (firstsight.grant_project).'
			            ELSE 'Embeddings are for the privacy officer (firstsight_privacy_officer).' END;
	END IF;
END
$$;

-- a capture's photo, for a stated purpose; every call is logged (NULL once erased)
CREATE FUNCTION photo(project_id bigint, capture_id bigint, purpose text) RETURNS bytea
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	img bytea;
	pid bigint;
BEGIN
	PERFORM check_biometric_read(photo.project_id, photo.capture_id, 'photo', purpose);
	SELECT c.photo, c.person_id INTO img, pid FROM capture c
	WHERE c.project_id = photo.project_id AND c.capture_id = photo.capture_id;
	PERFORM audit_biometric_read(photo.project_id, photo.capture_id, 'photo', purpose, img IS NOT NULL, pid);
	RETURN img;
END
$$;
COMMENT ON FUNCTION photo(bigint, bigint, text) IS 'a capture''s photo for a stated purpose, logged in biometric_access_log; NULL once erased';

-- a capture's face embedding, for a stated purpose; every call is logged (NULL once erased)
CREATE FUNCTION face_embedding(project_id bigint, capture_id bigint, purpose text) RETURNS embedding
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	e embedding;
	pid bigint;
BEGIN
	PERFORM check_biometric_read(face_embedding.project_id, face_embedding.capture_id, 'embedding', purpose);
	SELECT c.face, c.person_id INTO e, pid FROM capture c
	WHERE c.project_id = face_embedding.project_id AND c.capture_id = face_embedding.capture_id;
	PERFORM audit_biometric_read(face_embedding.project_id, face_embedding.capture_id, 'embedding', purpose, e IS NOT NULL, pid);
	RETURN e;
END
$$;
COMMENT ON FUNCTION face_embedding(bigint, bigint, text) IS 'a capture''s embedding for a stated purpose, logged in biometric_access_log; NULL once erased';

-- let a role manage one project: it becomes a firstsight_manager that sees only its projects
CREATE FUNCTION grant_project(role name, project_id bigint) RETURNS boolean
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	r name;
BEGIN
	SELECT rolname INTO r FROM pg_roles WHERE rolname = grant_project.role;
	IF r IS NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'undefined_object',
			MESSAGE = format('role "%s" does not exist', coalesce(grant_project.role::text, 'NULL')),
			HINT = 'Create the manager''s login role first.';
	END IF;
	IF to_regrole('firstsight_manager') IS NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'undefined_object',
			MESSAGE = 'role "firstsight_manager" does not exist',
			HINT = 'Run SELECT firstsight.setup_roles() first.';
	END IF;
	IF r IN ('firstsight_camera', 'firstsight_analyst', 'firstsight_privacy_officer', 'firstsight_manager')
	   OR (SELECT rolsuper FROM pg_roles WHERE rolname = r) THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = format('role "%s" cannot be scoped to a project', r),
			HINT = 'Grant projects to a manager''s own role, not to the firstsight roles or a superuser.';
	END IF;
	PERFORM 1 FROM project p WHERE p.project_id = grant_project.project_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
			MESSAGE = format('project %s does not exist', coalesce(grant_project.project_id::text, 'NULL'));
	END IF;
	-- the role name comes from the catalog, quoted as an identifier
	IF NOT EXISTS (SELECT 1 FROM pg_auth_members m
	               WHERE m.roleid = 'firstsight_manager'::regrole AND m.member = r::regrole) THEN
		EXECUTE format('GRANT firstsight_manager TO %I', r);
	END IF;
	INSERT INTO project_access (role_name, project_id) VALUES (r, grant_project.project_id)
	ON CONFLICT DO NOTHING;
	RETURN FOUND;
END
$$;
COMMENT ON FUNCTION grant_project(name, bigint) IS 'make a role a firstsight_manager of one more project (row-level security)';

-- stop a role managing a project
CREATE FUNCTION revoke_project(role name, project_id bigint) RETURNS boolean
	LANGUAGE sql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
	WITH d AS (DELETE FROM project_access a WHERE a.role_name = revoke_project.role AND a.project_id = revoke_project.project_id
	           RETURNING 1)
	SELECT EXISTS (SELECT 1 FROM d)
	$$;

-- create the four roles and give each the least it needs; idempotent
CREATE FUNCTION setup_roles() RETURNS void
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	SET client_min_messages = warning
	AS $$
DECLARE
	r text;
	t text;
	f regprocedure;
	scoped text[] := ARRAY['project', 'camera', 'consultant', 'channel', 'agent', 'person', 'visit', 'deal', 'attribution'];
	views text[] := ARRAY['daily_traffic', 'channel_share', 'conversion_funnel', 'flagged_deals', 'commission_ledger',
	                      'consultant_board', 'protection_expiring', 'project_settings'];
BEGIN
	-- identifiers below are constants or come from the catalog; nothing from a caller
	FOREACH r IN ARRAY ARRAY['firstsight_camera', 'firstsight_analyst', 'firstsight_manager', 'firstsight_privacy_officer'] LOOP
		IF to_regrole(r) IS NULL THEN
			EXECUTE format('CREATE ROLE %I NOLOGIN', r);
		END IF;
		EXECUTE format('GRANT USAGE ON SCHEMA firstsight TO %I', r);
	END LOOP;

	-- SECURITY DEFINER functions run as the owner: nobody calls them unless granted below
	FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
	         WHERE p.pronamespace = 'firstsight'::regnamespace AND p.prosecdef ORDER BY 1 LOOP
		EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
	END LOOP;
	REVOKE ALL ON hash_key FROM PUBLIC;

	-- camera: insert captures (camera-supplied columns only), read nothing back
	GRANT INSERT (project_id, camera_id, captured_at, face, quality, masked, photo) ON capture TO firstsight_camera;
	GRANT USAGE ON SEQUENCE capture_id_seq TO firstsight_camera;

	-- analyst: the BI views that are installed (no biometric columns)
	FOREACH t IN ARRAY views LOOP
		IF to_regclass('firstsight.' || t) IS NOT NULL THEN
			EXECUTE format('GRANT SELECT ON firstsight.%I TO firstsight_analyst', t);
		END IF;
	END LOOP;

	-- manager: non-biometric tables and capture columns, rows of their projects only
	FOREACH t IN ARRAY scoped LOOP
		IF to_regclass('firstsight.' || t) IS NOT NULL THEN
			EXECUTE format('GRANT SELECT ON firstsight.%I TO firstsight_manager', t);
			EXECUTE format('ALTER TABLE firstsight.%I ENABLE ROW LEVEL SECURITY', t);
			EXECUTE format('DROP POLICY IF EXISTS manager_projects ON firstsight.%I', t);
			EXECUTE format('CREATE POLICY manager_projects ON firstsight.%I FOR SELECT TO firstsight_manager
			                USING (firstsight.has_project_access(project_id))', t);
			EXECUTE format('DROP POLICY IF EXISTS privacy_officer_all ON firstsight.%I', t);
			EXECUTE format('CREATE POLICY privacy_officer_all ON firstsight.%I FOR SELECT TO firstsight_privacy_officer
			                USING (true)', t);
		END IF;
	END LOOP;
	GRANT SELECT (project_id, capture_id, camera_id, captured_at, quality, masked, person_id, visit_id,
	              match_distance, inserted_at, expires_at, photo_expires_at, erased_at) ON capture TO firstsight_manager;
	ALTER TABLE capture ENABLE ROW LEVEL SECURITY;
	DROP POLICY IF EXISTS manager_projects ON capture;
	CREATE POLICY manager_projects ON capture FOR SELECT TO firstsight_manager USING (has_project_access(project_id));
	DROP POLICY IF EXISTS camera_insert ON capture;
	CREATE POLICY camera_insert ON capture FOR INSERT TO firstsight_camera WITH CHECK (true);
	GRANT SELECT ON project_access TO firstsight_manager;
	ALTER TABLE project_access ENABLE ROW LEVEL SECURITY;
	DROP POLICY IF EXISTS own_grants ON project_access;
	-- a grant to a role dropped since stays in project_access: pg_has_role(name) would fail on it
	-- (and with it every manager's query through has_project_access), so roles are matched by oid
	CREATE POLICY own_grants ON project_access FOR SELECT TO firstsight_manager
		USING (EXISTS (SELECT 1 FROM pg_roles r WHERE r.rolname = role_name AND pg_has_role(r.oid, 'MEMBER')));
	GRANT EXECUTE ON FUNCTION photo(bigint, bigint, text) TO firstsight_manager;

	-- privacy officer: consent, erasure, retention, audit, and the audited reads
	GRANT EXECUTE ON FUNCTION record_consent(bigint, bigint, boolean, text, text, text), erase_person(bigint, bigint, text),
		enforce_retention(integer, timestamptz), retention_pace(integer, float8, integer, real, interval),
		set_retention(bigint, text, interval),
		photo(bigint, bigint, text), face_embedding(bigint, bigint, text) TO firstsight_privacy_officer;
	GRANT SELECT ON consent, erasure_log, retention_log, biometric_access_log, retention_policy, project_access,
		project, person TO firstsight_privacy_officer;
	DROP POLICY IF EXISTS privacy_officer_all ON project_access;
	CREATE POLICY privacy_officer_all ON project_access FOR SELECT TO firstsight_privacy_officer USING (true);
	GRANT SELECT (project_id, capture_id, camera_id, captured_at, person_id, visit_id, inserted_at, expires_at,
	              photo_expires_at, erased_at) ON capture TO firstsight_privacy_officer;
	DROP POLICY IF EXISTS privacy_officer_all ON capture;
	CREATE POLICY privacy_officer_all ON capture FOR SELECT TO firstsight_privacy_officer USING (true);
	IF to_regclass('firstsight.compliance') IS NOT NULL THEN
		GRANT SELECT ON compliance TO firstsight_privacy_officer;
	END IF;
END
$$;
COMMENT ON FUNCTION setup_roles() IS 'create firstsight_camera, firstsight_analyst, firstsight_manager and firstsight_privacy_officer with least privilege; idempotent';
REVOKE EXECUTE ON FUNCTION setup_roles(), grant_project(name, bigint), revoke_project(name, bigint) FROM PUBLIC;

-- src/sql/420_privacy_compliance.sql
-- The compliance view (issue 6): what biometric data is held, by project,
-- category and age; what is overdue for erasure; erasure requests and how
-- long they took; and distinct persons with biometric data per operator
-- against the regulatory filing threshold.  No biometric column.

INSERT INTO setting_definition VALUES
	('filing_threshold', 'integer', '100000', NULL, NULL,
	 'persons with biometric data per operator at which the compliance view warns (regulatory filing)');

CREATE VIEW compliance AS
WITH held AS (
	SELECT c.project_id, c.person_id, c.captured_at, c.expires_at, c.photo_expires_at,
	       c.face IS NOT NULL AS has_face, c.photo IS NOT NULL AS has_photo, false AS gallery
	FROM capture c WHERE c.face IS NOT NULL OR c.photo IS NOT NULL
	UNION ALL
	SELECT f.project_id, f.person_id, f.captured_at, f.expires_at, NULL, true, false, true
	FROM face f
), bio AS (
	SELECT h.project_id, coalesce(p.category, 'unmatched') AS category,
	       CASE WHEN now() - h.captured_at < interval '1 day' THEN '1: under 1 day'
	            WHEN now() - h.captured_at < interval '7 days' THEN '2: 1 to 7 days'
	            WHEN now() - h.captured_at < interval '30 days' THEN '3: 7 to 30 days'
	            WHEN now() - h.captured_at < interval '90 days' THEN '4: 30 to 90 days'
	            WHEN now() - h.captured_at < interval '180 days' THEN '5: 90 to 180 days'
	            ELSE '6: over 180 days' END AS age,
	       count(*) FILTER (WHERE h.has_face AND NOT h.gallery) AS embeddings,
	       count(*) FILTER (WHERE h.has_photo) AS photos,
	       count(*) FILTER (WHERE h.gallery) AS gallery_faces,
	       count(*) FILTER (WHERE h.expires_at <= now() OR h.photo_expires_at <= now()
	                        OR (h.expires_at IS NULL AND h.has_face) OR (h.photo_expires_at IS NULL AND h.has_photo)) AS overdue,
	       count(DISTINCT h.person_id) AS persons
	FROM held h LEFT JOIN person p ON p.project_id = h.project_id AND p.person_id = h.person_id
	GROUP BY 1, 2, 3
), operators AS (
	SELECT coalesce(pr.group_name, pr.name) AS operator, count(DISTINCT (h.project_id, h.person_id)) AS persons,
	       min(project_setting_value(pr.project_id, 'filing_threshold')::bigint) AS threshold
	FROM held h JOIN project pr ON pr.project_id = h.project_id
	GROUP BY 1
), erasures AS (
	SELECT e.project_id, count(*) AS requests,
	       count(*) FILTER (WHERE e.kind = 'consent_withdrawn') AS withdrawals,
	       max(e.completed_at - e.requested_at) AS longest,
	       avg(e.completed_at - e.requested_at) AS average
	FROM erasure_log e GROUP BY 1
)
SELECT 'biometric data'::text AS section, b.project_id, coalesce(pr.group_name, pr.name) AS operator, b.category, b.age,
       b.embeddings, b.photos, b.gallery_faces, b.overdue, b.persons,
       NULL::bigint AS erasure_requests, NULL::interval AS longest_erasure, NULL::interval AS average_erasure,
       NULL::text AS warning
FROM bio b JOIN project pr ON pr.project_id = b.project_id
UNION ALL
SELECT 'erasure requests', e.project_id, coalesce(pr.group_name, pr.name), NULL, NULL,
       NULL, NULL, NULL, NULL, NULL, e.requests, e.longest, e.average,
       CASE WHEN e.longest > interval '1 hour' THEN 'an erasure took over an hour' END
FROM erasures e JOIN project pr ON pr.project_id = e.project_id
UNION ALL
SELECT 'operator persons', NULL, o.operator, NULL, NULL,
       NULL, NULL, NULL, NULL, o.persons, NULL, NULL, NULL,
       CASE WHEN o.persons >= o.threshold
            THEN format('%s persons with biometric data: at or over the filing threshold of %s; file with the regulator', o.persons, o.threshold)
            WHEN o.persons >= o.threshold * 0.9
            THEN format('%s persons with biometric data: within 10%% of the filing threshold of %s', o.persons, o.threshold) END
FROM operators o;
COMMENT ON VIEW compliance IS 'biometric rows by project, category and age with overdue expirations; erasure requests and their duration; persons with biometric data per operator against the filing threshold';

-- src/sql/500_notifications.sql
-- Notifications (issue 7): webhook endpoints, a transactional outbox, per-webhook
-- delivery state and the view operators read.  The background worker
-- (src/worker) delivers; see src/worker/README.md.  Payloads never carry
-- biometric data: emit_event refuses anything that looks like a face,
-- an embedding or a photo.

-- the event names of the public contract
CREATE FUNCTION event_names() RETURNS text[]
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	AS $$ SELECT ARRAY['visitor.new', 'visitor.returned', 'deal.attributed', 'deal.flagged', 'retention.completed']::text[] $$;
COMMENT ON FUNCTION event_names() IS 'the events emit_event accepts and webhooks subscribe to';

-- C helpers (src/worker/outbox.c)
CREATE FUNCTION outbox_check_payload(payload jsonb) RETURNS void
	AS 'MODULE_PATHNAME', 'fs_outbox_check_payload' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outbox_check_payload(jsonb) IS
	'raise an error when an event payload is not an object, is too large, or looks like it carries biometric data';
CREATE FUNCTION outbox_wake_at_commit() RETURNS void
	AS 'MODULE_PATHNAME', 'fs_outbox_wake_at_commit' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION outbox_wake_at_commit() IS 'wake the delivery worker when the current transaction commits';
CREATE FUNCTION webhook_signature(secret text, body text) RETURNS text
	AS 'MODULE_PATHNAME', 'fs_webhook_signature' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION webhook_signature(text, text) IS
	'the X-Firstsight-Signature header value for body: sha256=<hex HMAC-SHA256 under secret>';
CREATE FUNCTION webhook_host_check(url text) RETURNS text
	AS 'MODULE_PATHNAME', 'fs_webhook_host_check' LANGUAGE C STABLE STRICT;
COMMENT ON FUNCTION webhook_host_check(text) IS
	'why the worker would refuse to send to url under firstsight.webhook_allowed_hosts, or NULL when it would send';
CREATE FUNCTION webhook_retry_delay(attempts integer) RETURNS interval
	AS 'MODULE_PATHNAME', 'fs_webhook_retry_delay' LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION webhook_retry_delay(integer) IS
	'a delay the worker waits after the attempts-th failed attempt: uniform in [d/2, d], d = min(webhook_retry_max, webhook_retry_base * 2^(attempts-1))';
REVOKE ALL ON FUNCTION outbox_wake_at_commit() FROM PUBLIC;

CREATE SEQUENCE webhook_id_seq;
CREATE TABLE webhook (
	project_id bigint NOT NULL REFERENCES project ON DELETE CASCADE,
	webhook_id bigint NOT NULL DEFAULT nextval('webhook_id_seq'),
	url text NOT NULL,
	secret text NOT NULL DEFAULT encode(random_bytes(32), 'hex'),
	events text[] NOT NULL DEFAULT event_names(),
	enabled boolean NOT NULL DEFAULT true,
	created_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (project_id, webhook_id)
);
ALTER SEQUENCE webhook_id_seq OWNED BY webhook.webhook_id;
COMMENT ON TABLE webhook IS
	'webhook endpoints per project: URL, signing secret, event filter, enabled; the secret never leaves this table';
SELECT pg_catalog.pg_extension_config_dump('webhook', '');
SELECT pg_catalog.pg_extension_config_dump('webhook_id_seq', '');
REVOKE ALL ON webhook FROM PUBLIC;

-- refuse URLs the worker could not or should not call, secrets too weak to sign with,
-- and unknown events
CREATE FUNCTION webhook_validate() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	authority text;
	bad text;
	why text;
BEGIN
	-- NOT NULL violations would print the row, secret included: refuse NULLs here first
	IF NEW.project_id IS NULL OR NEW.webhook_id IS NULL OR NEW.url IS NULL OR NEW.secret IS NULL
	   OR NEW.events IS NULL OR NEW.enabled IS NULL OR NEW.created_at IS NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'not_null_violation',
			MESSAGE = 'webhook columns must not be null',
			DETAIL = 'project_id, webhook_id, url, secret, events, enabled and created_at are required.',
			HINT = 'Leave secret, events and enabled out to get their defaults.';
	END IF;
	IF NEW.url !~* '^https?://' THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = 'webhook URL must start with http:// or https://',
			DETAIL = 'The worker only speaks HTTP and HTTPS.',
			HINT = 'Give a URL such as https://apps.example.com/firstsight.';
	END IF;
	IF NEW.url ~ '[[:space:][:cntrl:]]' OR length(NEW.url) > 2048 THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = 'webhook URL is not valid',
			DETAIL = 'A URL has no spaces or control characters and at most 2048 characters.';
	END IF;
	authority := substring(NEW.url FROM '^[A-Za-z]+://([^/?#]*)');
	IF authority LIKE '%@%' THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = 'webhook URL must not carry credentials',
			DETAIL = 'User names and passwords in URLs end up in logs.',
			HINT = 'Authenticate the request with the signature header instead.';
	END IF;
	IF authority = '' OR authority ~ '^:' THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = 'webhook URL has no host';
	END IF;
	IF length(NEW.secret) < 16 THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = 'webhook secret is too short',
			DETAIL = 'A signing secret has at least 16 characters.',
			HINT = 'Leave the column out to get a random 64-character secret.';
	END IF;
	IF cardinality(NEW.events) = 0 OR array_position(NEW.events, NULL) IS NOT NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = 'webhook must subscribe to at least one event',
			HINT = format('Events: %s.', array_to_string(event_names(), ', '));
	END IF;
	SELECT string_agg(e, ', ') INTO bad FROM unnest(NEW.events) e WHERE NOT e = ANY (event_names());
	IF bad IS NOT NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = format('unknown webhook event: %s', bad),
			HINT = format('Events: %s.', array_to_string(event_names(), ', '));
	END IF;
	NEW.events := ARRAY(SELECT DISTINCT e FROM unnest(NEW.events) e ORDER BY 1);
	why := webhook_host_check(NEW.url);
	IF why IS NOT NULL AND NEW.enabled THEN
		RAISE NOTICE USING MESSAGE = 'the worker will refuse this webhook for now',
			DETAIL = why,
			HINT = 'Add the host to firstsight.webhook_allowed_hosts and reload the configuration.';
	END IF;
	RETURN NEW;
END
$$;
CREATE TRIGGER webhook_validate BEFORE INSERT OR UPDATE OF url, secret, events, enabled ON webhook
	FOR EACH ROW EXECUTE FUNCTION webhook_validate();

-- the outbox: one row per event, written in the emitting transaction
CREATE SEQUENCE outbox_event_id_seq;
CREATE TABLE outbox (
	project_id bigint NOT NULL REFERENCES project ON DELETE CASCADE,
	event_id bigint NOT NULL DEFAULT nextval('outbox_event_id_seq'),
	event text NOT NULL,
	subject text NOT NULL,
	payload jsonb NOT NULL,
	created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
	PRIMARY KEY (project_id, event_id)
);
ALTER SEQUENCE outbox_event_id_seq OWNED BY outbox.event_id;
COMMENT ON TABLE outbox IS
	'events written by emit_event in the emitting transaction; never biometric data';
SELECT pg_catalog.pg_extension_config_dump('outbox', '');
SELECT pg_catalog.pg_extension_config_dump('outbox_event_id_seq', '');
REVOKE ALL ON outbox FROM PUBLIC;

-- what the worker has done for each (event, webhook): made by emit_event for the
-- enabled webhooks subscribed to the event
CREATE TABLE outbox_delivery (
	project_id bigint NOT NULL,
	event_id bigint NOT NULL,
	webhook_id bigint NOT NULL,
	subject text NOT NULL,
	attempts integer NOT NULL DEFAULT 0,
	next_attempt_at timestamptz NOT NULL DEFAULT clock_timestamp(),
	last_attempt_at timestamptz,
	last_status integer,
	last_error text,
	delivered_at timestamptz,
	dead boolean NOT NULL DEFAULT false,
	refused boolean NOT NULL DEFAULT false,
	PRIMARY KEY (project_id, event_id, webhook_id),
	FOREIGN KEY (project_id, event_id) REFERENCES outbox ON DELETE CASCADE,
	FOREIGN KEY (project_id, webhook_id) REFERENCES webhook ON DELETE CASCADE
);
COMMENT ON TABLE outbox_delivery IS
	'delivery state per event and webhook: attempts, next attempt, last error, delivered or dead';
-- the worker's queue: each webhook's pending deliveries in event order.  The worker
-- reads the oldest 1024 or more of each enabled webhook (an ordered scan of this
-- index that stops there) and keeps the head of each subject among them; see
-- src/worker/README.md.  (Indexes that served a per-row "is there an earlier
-- pending delivery of this subject" check were dropped with that check: with the
-- stale statistics a queue table always has, the planner turned it into a
-- rescan of the queue per candidate.)
CREATE INDEX outbox_delivery_queue ON outbox_delivery (project_id, webhook_id, event_id)
	WHERE delivered_at IS NULL AND NOT dead;
SELECT pg_catalog.pg_extension_config_dump('outbox_delivery', '');
REVOKE ALL ON outbox_delivery FROM PUBLIC;

-- record an event in the caller's transaction; the worker delivers it after commit.
-- subject is the ordering key ('person:42'): a webhook receives the events of one
-- subject in emit order.  Returns the event id.
CREATE FUNCTION emit_event(project_id bigint, event text, subject text, payload jsonb DEFAULT '{}')
	RETURNS bigint
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	id bigint;
BEGIN
	IF event IS NULL OR NOT event = ANY (event_names()) THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = format('unknown event "%s"', coalesce(event, 'NULL')),
			HINT = format('Events: %s.', array_to_string(event_names(), ', '));
	END IF;
	IF emit_event.project_id IS NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'null_value_not_allowed',
			MESSAGE = 'an event needs a project';
	END IF;
	IF subject IS NULL OR subject = '' OR length(subject) > 200 THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = 'an event needs a subject of 1 to 200 characters',
			DETAIL = 'The subject is the ordering key: events of one subject reach a webhook in order.',
			HINT = 'Use the entity the event is about, such as ''person:42'' or ''deal:7''.';
	END IF;
	payload := coalesce(payload, '{}'::jsonb);
	PERFORM outbox_check_payload(payload);
	INSERT INTO outbox (project_id, event, subject, payload)
	VALUES (emit_event.project_id, emit_event.event, emit_event.subject, payload)
	RETURNING outbox.event_id INTO id;
	INSERT INTO outbox_delivery (project_id, event_id, webhook_id, subject)
	SELECT w.project_id, id, w.webhook_id, emit_event.subject
	FROM webhook w
	WHERE w.project_id = emit_event.project_id AND w.enabled AND emit_event.event = ANY (w.events);
	IF FOUND THEN
		PERFORM outbox_wake_at_commit();
	END IF;
	RETURN id;
END
$$;
COMMENT ON FUNCTION emit_event(bigint, text, text, jsonb) IS
	'record an event in the current transaction for delivery to the project''s webhooks after commit';
REVOKE ALL ON FUNCTION emit_event(bigint, text, text, jsonb) FROM PUBLIC;

-- send dead or refused deliveries again (after fixing the receiver or the allowed hosts)
CREATE FUNCTION redeliver(project_id bigint, webhook_id bigint DEFAULT NULL) RETURNS bigint
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	n bigint;
BEGIN
	UPDATE outbox_delivery d
	SET dead = false, refused = false, attempts = 0, next_attempt_at = clock_timestamp()
	WHERE d.project_id = redeliver.project_id
	  AND (redeliver.webhook_id IS NULL OR d.webhook_id = redeliver.webhook_id)
	  AND d.dead AND d.delivered_at IS NULL;
	GET DIAGNOSTICS n = ROW_COUNT;
	IF n > 0 THEN
		PERFORM outbox_wake_at_commit();
	END IF;
	RETURN n;
END
$$;
COMMENT ON FUNCTION redeliver(bigint, bigint) IS
	'queue dead and refused deliveries of a project (or one webhook) again; returns how many';
REVOKE ALL ON FUNCTION redeliver(bigint, bigint) FROM PUBLIC;

-- visitor.new and visitor.returned for visits a camera batch has just opened; called
-- by ingest_batch (src/sql/230_ingest.sql) in the inserting transaction, after the
-- visit chain is current.  A visit with an earlier visit of the same person is a
-- return; the first visit of a person created by this batch is new; a late capture
-- that opens a visit before every known visit of a known person is neither.
-- Subject 'person:<id>': a webhook gets one person's events in order (the batch
-- holds the person's row lock until commit).  Identifiers, times, camera and zone,
-- consultants: nothing biometric.  Returns how many events were written.
CREATE FUNCTION emit_visit_events(p_project_id bigint, p_visit_ids bigint[], p_new_person_ids bigint[])
	RETURNS integer
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	r record;
	n integer := 0;
BEGIN
	FOR r IN
		SELECT v.person_id,
		       CASE WHEN pv.visit_id IS NOT NULL THEN 'visitor.returned'
		            WHEN v.person_id = ANY (p_new_person_ids) THEN 'visitor.new' END AS event,
		       jsonb_build_object('person_id', v.person_id, 'visit_id', v.visit_id,
		                          'started_at', v.started_at, 'camera_id', v.first_camera_id, 'zone', c.zone)
		       || CASE WHEN pv.visit_id IS NULL THEN '{}'::jsonb ELSE jsonb_build_object(
		              'visits', p.visits, 'first_seen', p.first_seen,
		              'previous_visit_id', pv.visit_id, 'previous_visit_at', pv.started_at,
		              'previous_visit_ended_at', pv.ended_at,
		              -- who received the person last time they were received, and the first time
		              'previous_consultant_id', lc.consultant_id, 'previous_consultant_name', lcn.name,
		              'previous_received_at', lc.received_at, 'previous_received_visit_id', lc.visit_id,
		              'first_consultant_id', fc.consultant_id, 'first_consultant_name', fcn.name) END AS payload
		FROM visit v
		JOIN person p ON p.project_id = v.project_id AND p.person_id = v.person_id
		LEFT JOIN camera c ON c.project_id = v.project_id AND c.camera_id = v.first_camera_id
		LEFT JOIN visit pv ON pv.project_id = v.project_id AND pv.visit_id = v.previous_visit_id
		LEFT JOIN LATERAL (
			SELECT x.visit_id, x.consultant_id, x.received_at FROM visit x
			WHERE x.project_id = v.project_id AND x.person_id = v.person_id AND x.started_at < v.started_at
			  AND x.consultant_id IS NOT NULL
			ORDER BY x.started_at DESC LIMIT 1) lc ON pv.visit_id IS NOT NULL
		LEFT JOIN consultant lcn ON lcn.project_id = v.project_id AND lcn.consultant_id = lc.consultant_id
		LEFT JOIN LATERAL (
			SELECT x.consultant_id FROM visit x
			WHERE x.project_id = v.project_id AND x.person_id = v.person_id AND x.started_at < v.started_at
			  AND x.consultant_id IS NOT NULL
			ORDER BY x.started_at LIMIT 1) fc ON pv.visit_id IS NOT NULL
		LEFT JOIN consultant fcn ON fcn.project_id = v.project_id AND fcn.consultant_id = fc.consultant_id
		WHERE v.project_id = p_project_id AND v.visit_id = ANY (p_visit_ids)
		ORDER BY v.started_at, v.visit_id
	LOOP
		CONTINUE WHEN r.event IS NULL;
		PERFORM emit_event(p_project_id, r.event, 'person:' || r.person_id, r.payload);
		n := n + 1;
	END LOOP;
	RETURN n;
END
$$;
COMMENT ON FUNCTION emit_visit_events(bigint, bigint[], bigint[]) IS
	'write visitor.new / visitor.returned for visits just opened by a camera batch (called by ingest_batch)';
REVOKE ALL ON FUNCTION emit_visit_events(bigint, bigint[], bigint[]) FROM PUBLIC;

-- a webhook enabled again, or with a new URL: wake the worker for what waited
CREATE FUNCTION webhook_changed() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
BEGIN
	IF NEW.enabled THEN
		PERFORM outbox_wake_at_commit();
	END IF;
	RETURN NULL;
END
$$;
CREATE TRIGGER webhook_changed AFTER UPDATE OF url, enabled ON webhook
	FOR EACH ROW EXECUTE FUNCTION webhook_changed();

-- delivery state per event and webhook, for operators: no secret, no payload
CREATE VIEW delivery_status AS
SELECT d.project_id, d.webhook_id, d.event_id, o.event, o.subject,
       CASE WHEN d.delivered_at IS NOT NULL THEN 'delivered'
            WHEN d.refused THEN 'refused'
            WHEN d.dead THEN 'dead'
            WHEN NOT w.enabled THEN 'paused'
            WHEN d.attempts > 0 THEN 'failed'
            ELSE 'pending' END AS state,
       d.attempts, o.created_at, d.last_attempt_at,
       CASE WHEN d.delivered_at IS NULL AND NOT d.dead THEN d.next_attempt_at END AS next_attempt_at,
       d.delivered_at,
       d.delivered_at - o.created_at AS latency,
       d.last_status, d.last_error,
       lower(substring(w.url FROM '^[A-Za-z]+://([^/?#]*)')) AS host
FROM outbox_delivery d
JOIN outbox o ON o.project_id = d.project_id AND o.event_id = d.event_id
JOIN webhook w ON w.project_id = d.project_id AND w.webhook_id = d.webhook_id;
COMMENT ON VIEW delivery_status IS
	'per event and webhook: pending, failed (will retry), delivered, dead, refused (host not allowed) or paused (webhook disabled), with latency and last error';

-- one row per webhook: counts by state and delivery latency
CREATE VIEW delivery_summary AS
SELECT w.project_id, w.webhook_id, w.enabled,
       lower(substring(w.url FROM '^[A-Za-z]+://([^/?#]*)')) AS host,
       count(s.event_id) FILTER (WHERE s.state IN ('pending', 'paused')) AS pending,
       count(s.event_id) FILTER (WHERE s.state = 'failed') AS failed,
       count(s.event_id) FILTER (WHERE s.state = 'delivered') AS delivered,
       count(s.event_id) FILTER (WHERE s.state = 'dead') AS dead,
       count(s.event_id) FILTER (WHERE s.state = 'refused') AS refused,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY s.latency) AS latency_p50,
       percentile_cont(0.99) WITHIN GROUP (ORDER BY s.latency) AS latency_p99,
       max(s.delivered_at) AS last_delivered_at
FROM webhook w
LEFT JOIN delivery_status s ON s.project_id = w.project_id AND s.webhook_id = w.webhook_id
GROUP BY w.project_id, w.webhook_id, w.enabled, w.url;
COMMENT ON VIEW delivery_summary IS 'per webhook: deliveries by state and latency percentiles';
