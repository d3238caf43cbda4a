-- Casts between pgvector's vector and embedding, whichever extension came
-- first.  Both types share one binary layout, so the casts need no function;
-- typmods are still checked by each type's length coercion.
--
-- The casts are members of firstsight, so DROP EXTENSION firstsight removes
-- them.  Event triggers keep them in step with pgvector: created when vector
-- appears, and removed at the start of any DROP EXTENSION (recreated at its end
-- when vector is still there), so DROP EXTENSION vector works without CASCADE.
-- (functions the state of 050_pgvector_casts.sql needs; created before it)

CREATE OR REPLACE FUNCTION vector_casts_on_create() RETURNS event_trigger
	LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	PERFORM firstsight.create_vector_casts();
END
$$;

CREATE OR REPLACE FUNCTION vector_casts_on_drop() RETURNS event_trigger
	LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	PERFORM firstsight.drop_vector_casts();
END
$$;
