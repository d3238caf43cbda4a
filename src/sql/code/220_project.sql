-- Projects and their galleries.  Each project's gallery is a partition of
-- face with its own HNSW index over face::embedding(dims), so every project
-- matches at index speed whatever its face model's dimension.

-- the gallery partition of a project
CREATE OR REPLACE FUNCTION gallery_table(project_id bigint) RETURNS regclass
	LANGUAGE sql STABLE
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$ SELECT to_regclass(format('firstsight.%I', 'face_p' || project_id)) $$;

-- create the HNSW index on a project's gallery if embedding_hnsw exists; true when one exists afterwards
CREATE OR REPLACE FUNCTION create_gallery_index(project_id bigint) RETURNS boolean
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
CREATE OR REPLACE FUNCTION create_gallery_indexes() RETURNS SETOF bigint
	LANGUAGE sql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
	SELECT p.project_id FROM project p
	WHERE to_regclass(format('firstsight.%I', 'face_p' || p.project_id || '_hnsw')) IS NULL
	  AND create_gallery_index(p.project_id)
	ORDER BY p.project_id
	$$;

-- a new sales office with its natural channel and gallery; returns its id.
-- project_id: the id headquarters gave the project (unique across the group);
-- required once the database publishes its facts (docs/scale-out.md), drawn
-- from project_id_seq otherwise; headquarters (a database subscribed to
-- offices' facts) makes none
CREATE OR REPLACE FUNCTION create_project(name text, time_zone text DEFAULT 'Asia/Shanghai', dims integer DEFAULT 512,
                                          project_id bigint DEFAULT NULL)
	RETURNS bigint
	LANGUAGE plpgsql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	id bigint;
	why text;
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
			HINT = 'Give a dimension from 1 to 1937 (the gallery index''s limit at its default m = 16).';
	END IF;
	-- the gallery index (embedding_hnsw) holds at most 2,000 dimensions: refuse before anything is made
	IF dims > 2000 THEN
		RAISE EXCEPTION USING ERRCODE = 'feature_not_supported',
			MESSAGE = format('face model dimension %s is more than the gallery index supports', dims),
			DETAIL = 'Each project''s gallery is matched through an embedding_hnsw index, which holds at most 2000 dimensions.',
			HINT = 'Face models use 128 to 512 dimensions; the index holds up to 1937 at its default m = 16.';
	END IF;
	IF create_project.project_id IS NULL
	   AND EXISTS (SELECT 1 FROM pg_publication WHERE pubname = 'firstsight_facts') THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = 'a project of an edge office needs the project id headquarters gave it',
			DETAIL = 'This database publishes its facts to headquarters (publication firstsight_facts), where ids drawn here would collide with other offices''.',
			HINT = 'Call firstsight.create_project(name, ..., project_id => N) with the id from headquarters.';
	END IF;
	IF EXISTS (SELECT 1 FROM pg_subscription s JOIN pg_database d ON d.oid = s.subdbid
	           WHERE d.datname = current_database() AND 'firstsight_facts' = ANY (s.subpublications)) THEN
		RAISE EXCEPTION USING ERRCODE = 'feature_not_supported',
			MESSAGE = 'headquarters makes no projects of its own',
			DETAIL = 'This database subscribes to offices'' facts (firstsight_facts); a project made here would collide with an office''s rows.',
			HINT = 'Create the project at its office, with the id headquarters gives it.';
	END IF;
	IF create_project.project_id IS NOT NULL AND create_project.project_id < 1 THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = format('project id %s is not positive', create_project.project_id);
	END IF;
	INSERT INTO project (project_id, name, time_zone, dims)
		VALUES (coalesce(create_project.project_id, nextval('project_id_seq')), name, time_zone, dims)
		RETURNING project.project_id INTO id;
	IF ingest_on_citus() THEN
		-- central ingestion on Citus: project_retention_defaults is disabled
		-- there (it would run on the reference table's shards), its rows are made here
		INSERT INTO retention_policy (project_id, category, keep)
		SELECT id, d.category, d.keep FROM retention_default d
		ON CONFLICT DO NOTHING;
	END IF;
	INSERT INTO channel (project_id, kind, name) VALUES (id, 'natural', 'natural visitor');
	-- fillfactor 60: room on each page for a new version of a row, so an
	-- update that leaves the face alone (privacy's expires_at, refreshed when
	-- a person returns) is a HOT update with no index entry; on a full page
	-- it cost an HNSW insert per gallery row (docs/domain.md, Gallery storage)
	-- the keys are the partition's own (the parent has none: a restore
	-- attaching the dumped partition would otherwise get them twice)
	EXECUTE format('CREATE TABLE firstsight.%I PARTITION OF firstsight.face (PRIMARY KEY (project_id, face_id), '
	               'UNIQUE (project_id, person_id, kind)) FOR VALUES IN (%s) WITH (fillfactor = 60)',
	               'face_p' || id, id);
	EXECUTE format('CREATE INDEX ON firstsight.%I (project_id, masked)', 'face_p' || id);
	BEGIN
		PERFORM create_gallery_index(id);
	EXCEPTION WHEN program_limit_exceeded THEN
		-- an element and its links must fit one index page: 1937 dimensions at m = 16
		GET STACKED DIAGNOSTICS why = MESSAGE_TEXT;
		RAISE EXCEPTION USING ERRCODE = 'feature_not_supported',
			MESSAGE = format('face model dimension %s is more than the gallery index supports', dims),
			DETAIL = format('The gallery index (embedding_hnsw) refused it: %s.', why),
			HINT = 'Face models use 128 to 512 dimensions; the index holds up to 1937 at its default m = 16.';
	END;
	RETURN id;
END
$$;
COMMENT ON FUNCTION create_project(text, text, integer, bigint) IS 'new project with its natural channel and gallery partition; returns project_id (given by headquarters at an edge office)';
