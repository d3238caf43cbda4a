-- Identity binding: keyed hashes (HMAC-SHA256 with a per-database key) of
-- ID-card and phone numbers; the raw numbers are never stored or logged.
-- (functions the state of 240_identity.sql needs; created before it)

CREATE OR REPLACE FUNCTION random_bytes(n integer) RETURNS bytea
	AS 'MODULE_PATHNAME', 'fs_random_bytes' LANGUAGE C VOLATILE STRICT;
