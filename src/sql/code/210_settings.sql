-- Per-project settings: definitions with defaults, validated configure(),
-- and the project_settings view.  Later layers add their own settings by
-- inserting definitions.

COMMENT ON TABLE setting_definition IS 'project settings firstsight.configure accepts, with their defaults';

-- the default of a setting for a project of dims dimensions
CREATE OR REPLACE FUNCTION setting_default(d setting_definition, dims integer) RETURNS text
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	AS $$ SELECT CASE WHEN dims OPERATOR(pg_catalog.<=) 128 AND d.small_dims_default IS NOT NULL
	                  THEN d.small_dims_default ELSE d.default_value END $$;

CREATE OR REPLACE VIEW project_settings AS
	SELECT p.project_id, d.setting,
	       coalesce(s.value, setting_default(d, p.dims)) AS value,
	       s.value IS NULL AS is_default
	FROM project p
	CROSS JOIN setting_definition d
	LEFT JOIN project_setting s ON s.project_id = p.project_id AND s.setting = d.setting
	WHERE reads_project(p.project_id);
COMMENT ON VIEW project_settings IS 'every setting of every project the reader is granted, with is_default when not configured';

-- the value of one setting of a project (NULL for an unknown project)
-- (PL/pgSQL, and setting_default's rule written out: on Citus it runs next to
-- the shards in central ingestion, where Citus plans no SQL function with
-- parameters and a whole-row argument gets the shard's row type)
CREATE OR REPLACE FUNCTION project_setting_value(p_project_id bigint, p_setting text) RETURNS text
	LANGUAGE plpgsql STABLE PARALLEL SAFE
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
BEGIN
	RETURN (SELECT coalesce(s.value, CASE WHEN p.dims <= 128 AND d.small_dims_default IS NOT NULL
	                                      THEN d.small_dims_default ELSE d.default_value END)
	        FROM project p
	        JOIN setting_definition d ON d.setting = p_setting
	        LEFT JOIN project_setting s ON s.project_id = p.project_id AND s.setting = d.setting
	        WHERE p.project_id = p_project_id);
END
$$;

-- check a value against its definition; returns the normalised text
CREATE OR REPLACE FUNCTION setting_check(d setting_definition, value text) RETURNS text
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
		-- upper bounds: a camera clock is never trusted an hour ahead, and no
		-- period (a visit gap, a report's validity, a photo's life) reaches past
		-- the 10 years that bound every retention
		IF i > (CASE WHEN d.setting = 'max_clock_skew' THEN interval '1 hour' ELSE interval '10 years' END) THEN
			RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
				MESSAGE = format('invalid value for setting "%s": "%s"', d.setting, value),
				DETAIL = CASE WHEN d.setting = 'max_clock_skew'
				              THEN 'Captures may be at most 1 hour ahead of the server clock: the value must be at most 1 hour.'
				              ELSE 'The value must be at most 10 years.' END,
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
	WHEN 'quality' THEN
		BEGIN
			n := value::float8;
		EXCEPTION WHEN invalid_text_representation THEN
			n := NULL;
		END;
		IF n IS NULL OR n = 'NaN'::float8 OR n < 0 OR n > 1 THEN
			RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
				MESSAGE = format('invalid value for setting "%s": "%s"', d.setting, value),
				DETAIL = 'A capture quality is a number from 0 to 1, as cameras send it.',
				HINT = 'For example ''0.3''; 0 lets every capture make a person.';
		END IF;
		RETURN n::text;
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
CREATE OR REPLACE FUNCTION configure(project_id bigint, setting text, value text) RETURNS text
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
	-- a photo is never kept longer than its embedding: photo_retention is at
	-- most the longest retention of the project's policy
	IF d.setting = 'photo_retention' AND v::interval > (SELECT max(r.keep) FROM retention_policy r
	                                                    WHERE r.project_id = configure.project_id) THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = format('invalid value for setting "photo_retention": "%s"', value),
			DETAIL = format('A photo is never kept longer than its embedding; the longest retention of project %s is %s.',
			                configure.project_id,
			                (SELECT max(r.keep) FROM retention_policy r WHERE r.project_id = configure.project_id)),
			HINT = 'Give at most that, or lengthen the retention first with firstsight.set_retention.';
	END IF;
	INSERT INTO project_setting AS s (project_id, setting, value)
		VALUES (configure.project_id, d.setting, v)
		ON CONFLICT ON CONSTRAINT project_setting_pkey DO UPDATE SET value = excluded.value;
	RETURN v;
END
$$;
COMMENT ON FUNCTION configure(bigint, text, text) IS 'change a project setting; unknown settings and bad values are refused';

-- return a project setting to its default
CREATE OR REPLACE FUNCTION reset_setting(project_id bigint, setting text) RETURNS void
	LANGUAGE sql
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$ DELETE FROM project_setting s WHERE s.project_id = reset_setting.project_id AND s.setting = reset_setting.setting $$;
