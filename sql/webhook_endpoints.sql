-- webhook endpoints: URL, secret and event validation
SELECT firstsight.create_project('webhook endpoints') AS p \gset

-- a valid endpoint gets a random 64-character secret and every event by default
-- (the regression cluster lists no allowed hosts: a notice says the worker would refuse it)
INSERT INTO firstsight.webhook (project_id, url) VALUES (:p, 'https://apps.example.com/firstsight')
RETURNING length(secret) AS secret_length, events, enabled;

-- event filter: sorted, duplicates dropped
INSERT INTO firstsight.webhook (project_id, url, secret, events, enabled)
VALUES (:p, 'http://127.0.0.1:9/hook', 'sixteen-chars-ok', '{deal.flagged,visitor.new,deal.flagged}', false)
RETURNING events;

-- refused: other schemes, credentials in the URL, no host, spaces
INSERT INTO firstsight.webhook (project_id, url) VALUES (:p, 'ftp://files.example.com/x');
INSERT INTO firstsight.webhook (project_id, url) VALUES (:p, 'file:///etc/passwd');
INSERT INTO firstsight.webhook (project_id, url) VALUES (:p, 'https://user:pw@apps.example.com/');
INSERT INTO firstsight.webhook (project_id, url) VALUES (:p, 'https:///path');
INSERT INTO firstsight.webhook (project_id, url) VALUES (:p, 'https://apps.example.com/a b');
INSERT INTO firstsight.webhook (project_id, url) VALUES (:p, NULL);

-- refused: weak secrets, unknown or no events
INSERT INTO firstsight.webhook (project_id, url, secret) VALUES (:p, 'https://apps.example.com/', 'short');
INSERT INTO firstsight.webhook (project_id, url, events) VALUES (:p, 'https://apps.example.com/', '{visitor.new,visitor.left}');
INSERT INTO firstsight.webhook (project_id, url, events) VALUES (:p, 'https://apps.example.com/', '{}');
INSERT INTO firstsight.webhook (project_id, url, events) VALUES (:p, 'https://apps.example.com/', '{visitor.new,NULL}');

-- updates are validated too
UPDATE firstsight.webhook SET url = 'gopher://old.example.com/' WHERE project_id = :p;

-- an unknown project
INSERT INTO firstsight.webhook (project_id, url) VALUES (-1, 'https://apps.example.com/');

-- project_id leads the primary key
SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
WHERE i.indrelid = 'firstsight.webhook'::regclass AND i.indisprimary;

-- the signature receivers check: sha256=<hex HMAC-SHA256 of the body under the secret>
-- (RFC 4231 test case 2)
SELECT firstsight.webhook_signature('Jefe', 'what do ya want for nothing?');

-- the host check the worker applies (nothing allowed here)
SELECT firstsight.webhook_host_check('https://apps.example.com/x');
SELECT firstsight.webhook_host_check('https://[::1]:8443/x');
SELECT current_setting('firstsight.webhook_allowed_hosts') = '' AS none_allowed;

-- settings exist with their defaults
SELECT name, setting, unit, context FROM pg_settings
WHERE name LIKE 'firstsight.webhook%' OR name LIKE 'firstsight.worker%' OR name LIKE 'firstsight.retention%'
ORDER BY name;

DELETE FROM firstsight.webhook WHERE project_id = :p;
