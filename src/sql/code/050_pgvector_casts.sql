-- Casts between pgvector's vector and embedding, whichever extension came
-- first.  Both types share one binary layout, so the casts need no function;
-- typmods are still checked by each type's length coercion.
--
-- The casts are members of firstsight, so DROP EXTENSION firstsight removes
-- them.  Event triggers keep them in step with pgvector: created when vector
-- appears, and removed at the start of any DROP EXTENSION (recreated at its end
-- when vector is still there), so DROP EXTENSION vector works without CASCADE.

CREATE OR REPLACE FUNCTION vector_type() RETURNS regtype
	LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
	SELECT t.oid::regtype
	FROM pg_type t
	JOIN pg_depend d ON d.classid = 'pg_type'::regclass AND d.objid = t.oid AND d.deptype = 'e'
	JOIN pg_extension e ON d.refclassid = 'pg_extension'::regclass AND d.refobjid = e.oid
	WHERE e.extname = 'vector' AND t.typname = 'vector'
$$;

CREATE OR REPLACE FUNCTION create_vector_casts() RETURNS boolean
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

CREATE OR REPLACE FUNCTION drop_vector_casts() RETURNS boolean
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

REVOKE ALL ON FUNCTION create_vector_casts(), drop_vector_casts(),
	vector_casts_on_create(), vector_casts_on_drop() FROM PUBLIC;

SELECT create_vector_casts();
