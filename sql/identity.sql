-- Identity binding: keyed hashes only; an ID card bound twice links persons, never merges them.
SET search_path = firstsight, public;
\set SHOW_CONTEXT never
\set VERBOSITY default

-- HMAC-SHA256 is the standard one (RFC 4231, test case 2)
SELECT encode(hmac_sha256('Jefe', 'what do ya want for nothing?'), 'hex') = '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843' AS rfc4231;
-- the per-database key exists, is 32 random bytes, and no one but the owner may read it
SELECT length(secret) AS key_bytes FROM hash_key;
SELECT has_table_privilege('public', 'firstsight.hash_key', 'SELECT') AS public_reads_key,
       has_function_privilege('public', 'firstsight.identity_hash(text, text)', 'EXECUTE') AS public_hashes;

-- normalisation
SELECT normalize_phone('+86 138-1234-8000') AS phone, phone_mask('13812348000') AS mask_full, phone_mask('138****8000') AS mask_masked;
SELECT normalize_id_card(' 11010519491231002x ') AS id_card;
SELECT normalize_id_card('110105194912310029');
SELECT normalize_id_card('12-34');
SELECT normalize_phone('call me');

SELECT setval('firstsight.project_id_seq', greatest(3000, (SELECT last_value FROM firstsight.project_id_seq))) IS NOT NULL AS ok;
SELECT create_project('Identity', dims => 4) AS p \gset
INSERT INTO camera VALUES (:p, 'desk', 'sign_in');
INSERT INTO capture (project_id, camera_id, captured_at, face, quality, masked) VALUES
	(:p, 'desk', '2024-03-01 10:00+08', '[1,0,0,0]', 0.9, false),
	(:p, 'desk', '2024-03-01 10:00+08', '[0,1,0,0]', 0.9, false),
	(:p, 'desk', '2024-03-08 11:00+08', '[0,0,1,0]', 0.9, false);
CREATE TEMP TABLE cap AS
	SELECT row_number() OVER (ORDER BY capture_id) AS n, capture_id, person_id FROM capture WHERE project_id = :p;
SELECT count(DISTINCT person_id) AS persons FROM cap;

-- binding returns the person seen in the capture; only hashes are stored
SELECT bind_identity(:p, capture_id, '11010519491231002X', '+86 138 1234 8000') = person_id AS same_person FROM cap WHERE n = 1;
SELECT bind_identity(:p, capture_id, NULL, '139 0000 1111') = person_id AS same_person FROM cap WHERE n = 2;
SELECT length(id_card_hash) AS card_hash_bytes, length(phone_hash) AS phone_hash_bytes,
       phone_masked_hash = identity_hash('phone_masked', phone_mask('138****8000')) AS masked_phone_matches,
       phone_hash = identity_hash('phone', normalize_phone('13812348000')) AS phone_matches
FROM identity WHERE project_id = :p ORDER BY identity_id;
-- no raw number anywhere in the table: not in a column's text, not as bytes
-- inside a hash column (the hashes' hex text is random and may well contain
-- '8000' by chance, so the last four digits are looked for as bytes)
SELECT count(*) AS raw_numbers FROM identity i
WHERE i.project_id = :p
  AND (i::text LIKE '%13812348000%' OR i::text LIKE '%11010519491231002X%'
       OR EXISTS (SELECT 1 FROM unnest(ARRAY[i.id_card_hash, i.phone_hash, i.phone_masked_hash]) h
                  WHERE position(convert_to('8000', 'UTF8') IN h) > 0
                     OR position(convert_to('13812348000', 'UTF8') IN h) > 0));

-- the same ID card at a later capture of a face not matched: the persons are
-- linked, not merged (each keeps its captures, visits and gallery); a
-- decision treats them as one buyer (linked_persons)
SELECT bind_identity(:p, capture_id, '11010519491231002x', NULL) = person_id AS bound_to_its_own_person
FROM cap WHERE n = 3;
SELECT c.n, current_person(:p, c.person_id) = c.person_id AS still_itself, p.merged_into IS NOT NULL AS merged,
       p.visits
FROM cap c JOIN person p ON p.project_id = :p AND p.person_id = c.person_id ORDER BY c.n;
SELECT count(DISTINCT person_id) AS persons_with_card FROM identity WHERE project_id = :p AND id_card_hash IS NOT NULL;
SELECT c.n, linked_persons(:p, ARRAY[c.person_id]) = ARRAY(SELECT person_id FROM cap WHERE n IN (1, 3) ORDER BY 1) AS linked_to_1_and_3
FROM cap c ORDER BY c.n;

-- refused
SELECT bind_identity(:p, -1, '11010519491231002X', NULL);
SELECT bind_identity(:p, (SELECT capture_id FROM cap WHERE n = 1), NULL, NULL);
