-- Casts between pgvector's vector and embedding, whichever extension came
-- first.  Both types share one binary layout, so the casts need no function;
-- typmods are still checked by each type's length coercion.
--
-- The casts are members of firstsight, so DROP EXTENSION firstsight removes
-- them.  Event triggers keep them in step with pgvector: created when vector
-- appears, and removed at the start of any DROP EXTENSION (recreated at its end
-- when vector is still there), so DROP EXTENSION vector works without CASCADE.

CREATE EVENT TRIGGER firstsight_vector_casts_create ON ddl_command_end
	WHEN TAG IN ('CREATE EXTENSION', 'DROP EXTENSION')
	EXECUTE FUNCTION vector_casts_on_create();
CREATE EVENT TRIGGER firstsight_vector_casts_drop ON ddl_command_start
	WHEN TAG IN ('DROP EXTENSION')
	EXECUTE FUNCTION vector_casts_on_drop();
