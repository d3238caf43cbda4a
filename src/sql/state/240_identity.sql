-- Identity binding: keyed hashes (HMAC-SHA256 with a per-database key) of
-- ID-card and phone numbers; the raw numbers are never stored or logged.

INSERT INTO hash_key (key_id, secret) VALUES (1, random_bytes(32));
