-- Identity binding: keyed hashes (HMAC-SHA256 with a per-database key) of
-- ID-card and phone numbers; the raw numbers are never stored or logged.

CREATE OR REPLACE FUNCTION hmac_sha256(key bytea, data bytea) RETURNS bytea
	AS 'MODULE_PATHNAME', 'fs_hmac_sha256' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
REVOKE ALL ON FUNCTION hmac_sha256(bytea, bytea) FROM PUBLIC;

-- an ID-card number in canonical form: upper case, no spaces; 18-character
-- PRC numbers must carry a valid check character
CREATE OR REPLACE FUNCTION normalize_id_card(id_card text) RETURNS text
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
CREATE OR REPLACE FUNCTION normalize_phone(phone text) RETURNS text
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
CREATE OR REPLACE FUNCTION phone_mask(phone text) RETURNS text
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

-- the keyed hash of a normalised value of some kind (id_card, phone, phone_masked);
-- the database's key is made on first use, not at install, so that a restore
-- (the extension created, then the dumped key loaded) keeps the dumped key
CREATE OR REPLACE FUNCTION identity_hash(kind text, value text) RETURNS bytea
	LANGUAGE plpgsql VOLATILE STRICT
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	k bytea;
BEGIN
	SELECT h.secret INTO k FROM hash_key h WHERE h.key_id = 1;
	IF k IS NULL THEN
		-- two first uses at once: one key wins, the other waits for it
		INSERT INTO hash_key (key_id, secret) VALUES (1, random_bytes(32)) ON CONFLICT (key_id) DO NOTHING;
		SELECT h.secret INTO STRICT k FROM hash_key h WHERE h.key_id = 1;
	END IF;
	RETURN hmac_sha256(k, convert_to(kind || ':' || value, 'UTF8'));
END
$$;
REVOKE ALL ON FUNCTION identity_hash(text, text) FROM PUBLIC;

-- the person a (possibly merged) person now is
-- (a loop of one-row reads, PL/pgSQL: Citus plans no SQL function with
-- parameters, and each read goes to the project's shard; NULL for a person
-- that is not there, or a chain longer than 100 merges)
CREATE OR REPLACE FUNCTION current_person(p_project_id bigint, p_person_id bigint) RETURNS bigint
	LANGUAGE plpgsql STABLE
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	cur bigint := p_person_id;
	nxt bigint;
BEGIN
	FOR depth IN 0 .. 100 LOOP
		SELECT p.merged_into INTO nxt FROM person p WHERE p.project_id = p_project_id AND p.person_id = cur;
		IF NOT FOUND THEN
			RETURN NULL;
		ELSIF nxt IS NULL THEN
			RETURN cur;
		END IF;
		cur := nxt;
	END LOOP;
	RETURN NULL;
END
$$;

-- bind verified ID-card and phone hashes to the person seen in a capture; returns the person
CREATE OR REPLACE FUNCTION bind_identity(project_id bigint, capture_id bigint, id_card text, phone text)
	RETURNS bigint
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = firstsight, pg_catalog, pg_temp
	AS $$
DECLARE
	pid bigint := bind_identity.project_id;
	who bigint;
	card bytea;
	gcard bytea;
	ph bytea;
	phm bytea;
BEGIN
	PERFORM require_project(pid);	-- sales apps: their projects (issue 16)
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
		gcard := group_identity_hash('id_card', normalize_id_card(id_card));	-- NULL without a group key
	END IF;
	IF phone IS NOT NULL THEN
		ph := identity_hash('phone', normalize_phone(phone));
		phm := identity_hash('phone_masked', phone_mask(phone));
	END IF;
	-- no merge: persons sharing an ID card or a full phone are linked when a
	-- deal is decided (decision_buyers), and a wrong binding is undone by
	-- deleting it, not by splitting persons; the binding's triggers record it
	-- and decide again the deals it links (redecide_on_change)
	INSERT INTO identity (project_id, person_id, capture_id, id_card_hash, phone_hash, phone_masked_hash, group_id_card_hash)
		VALUES (pid, who, bind_identity.capture_id, card, ph, phm, gcard);
	RETURN who;
END
$$;
COMMENT ON FUNCTION bind_identity(bigint, bigint, text, text) IS
	'bind keyed hashes of an ID card and phone to the person of a capture; persons sharing a card or a full phone are linked (never merged) and their decided deals decided again';
