-- the outbox: emit_event validation, same-transaction writes, delivery_status
SELECT firstsight.create_project('webhook outbox') AS p \gset
INSERT INTO firstsight.webhook (project_id, url, secret, events)
VALUES (:p, 'https://sales.example.com/a', 'sixteen-chars-ok', '{visitor.new,visitor.returned}')
RETURNING webhook_id AS wa \gset
INSERT INTO firstsight.webhook (project_id, url, secret, events)
VALUES (:p, 'https://managers.example.com/b?token=abc', 'sixteen-chars-ok', '{deal.flagged}')
RETURNING webhook_id AS wb \gset
INSERT INTO firstsight.webhook (project_id, url, secret, enabled)
VALUES (:p, 'https://off.example.com/', 'sixteen-chars-ok', false);

-- bad event names, subjects and payloads
SELECT firstsight.emit_event(:p, 'visitor.left', 'person:1', '{}');
SELECT firstsight.emit_event(:p, NULL, 'person:1', '{}');
SELECT firstsight.emit_event(:p, 'visitor.new', '', '{}');
SELECT firstsight.emit_event(NULL, 'visitor.new', 'person:1', '{}');
SELECT firstsight.emit_event(:p, 'visitor.new', 'person:1', '[1, 2]');
SELECT firstsight.emit_event(:p, 'visitor.new', 'person:1', '"text"');
SELECT firstsight.emit_event(-1, 'visitor.new', 'person:1', '{}');

-- biometric-looking payloads are refused
SELECT firstsight.emit_event(:p, 'visitor.new', 'person:1', '{"person_id": 1, "face": [0.1, 0.2]}');
SELECT firstsight.emit_event(:p, 'visitor.new', 'person:1', '{"person_id": 1, "embedding": "[0.1,0.2]"}');
SELECT firstsight.emit_event(:p, 'visitor.new', 'person:1', '{"visit": {"photoUrl": "https://cdn/x.jpg"}}');
SELECT firstsight.emit_event(:p, 'visitor.new', 'person:1', '{"visit": {"face_image": {"w": 1}}}');
SELECT firstsight.emit_event(:p, 'visitor.new', 'person:1', '{"snapshot_b64": "abc"}');
SELECT firstsight.emit_event(:p, 'visitor.new', 'person:1', '{"v": "data:image/jpeg;base64,/9j/4AAQSkZJRgABAQ"}');
SELECT firstsight.emit_event(:p, 'visitor.new', 'person:1',
	jsonb_build_object('x', (SELECT jsonb_agg(i / 100.0) FROM generate_series(1, 128) i)));
SELECT firstsight.emit_event(:p, 'visitor.new', 'person:1',
	jsonb_build_object('x', repeat('QUJD', 400)));
SELECT firstsight.emit_event(:p, 'visitor.new', 'person:1',
	jsonb_build_object('notes', repeat('x', 70000)));
-- ... but counts and flags under such names, and ordinary words, are fine
SELECT firstsight.emit_event(:p, 'retention.completed', 'retention', '{"faces": 3, "photos": 2, "captures": 5}') > 0 AS ok;
SELECT firstsight.emit_event(:p, 'visitor.new', 'person:1', '{"person_id": 1, "masked": true, "surface": "lobby", "zones": [1, 2, 3]}') > 0 AS ok;

-- rows are written in the caller's transaction: rolled back with it
BEGIN;
SELECT firstsight.emit_event(:p, 'visitor.returned', 'person:1', '{"person_id": 1}') AS e \gset
SELECT count(*) AS events, (SELECT count(*) FROM firstsight.outbox_delivery d WHERE d.project_id = :p AND d.event_id = :e) AS deliveries
FROM firstsight.outbox o WHERE o.project_id = :p AND o.event_id = :e;
ROLLBACK;
SELECT count(*) AS after_rollback FROM firstsight.outbox WHERE project_id = :p AND event_id = :e;

-- committed: one delivery per enabled webhook subscribed to the event
SELECT firstsight.emit_event(:p, 'visitor.returned', 'person:1', '{"person_id": 1}') AS e1 \gset
SELECT firstsight.emit_event(:p, 'deal.flagged', 'deal:7', '{"deal_id": 7, "flags": ["flying_order"]}') AS e2 \gset
SELECT firstsight.emit_event(:p, 'deal.attributed', 'deal:7', '{"deal_id": 7}') AS e3 \gset
SELECT o.event, count(d.webhook_id) AS deliveries,
       array_agg(d.webhook_id = :wa ORDER BY d.webhook_id) FILTER (WHERE d.webhook_id IS NOT NULL) AS to_a
FROM firstsight.outbox o LEFT JOIN firstsight.outbox_delivery d USING (project_id, event_id)
WHERE o.project_id = :p AND o.event_id IN (:e1, :e2, :e3)
GROUP BY o.event ORDER BY o.event;

-- delivery_status: no secret, no payload, the host but not the query string
SELECT column_name, data_type FROM information_schema.columns
WHERE table_schema = 'firstsight' AND table_name = 'delivery_status' ORDER BY ordinal_position;
SELECT event, subject, state, attempts, delivered_at IS NULL AS undelivered, latency, host
FROM firstsight.delivery_status WHERE project_id = :p ORDER BY event_id, webhook_id;

-- a disabled webhook's deliveries wait (paused); dead and refused can be queued again
UPDATE firstsight.webhook SET enabled = false WHERE project_id = :p AND webhook_id = :wb;
UPDATE firstsight.outbox_delivery SET dead = true, refused = true, last_error = 'refused for the test'
WHERE project_id = :p AND webhook_id = :wa AND event_id = :e1;
SELECT event, state, last_error FROM firstsight.delivery_status
WHERE project_id = :p AND event_id IN (:e1, :e2) ORDER BY event_id;
SELECT firstsight.redeliver(:p, :wa) AS requeued;
SELECT state, last_error FROM firstsight.delivery_status WHERE project_id = :p AND event_id = :e1;

-- per-webhook summary
SELECT enabled, host, pending, failed, delivered, dead, refused FROM firstsight.delivery_summary
WHERE project_id = :p ORDER BY webhook_id;

-- only the extension's own code may emit events
SELECT has_function_privilege('public', 'firstsight.emit_event(bigint,text,text,jsonb)', 'execute') AS public_may_emit;
SELECT event_names FROM firstsight.event_names();

-- the retry schedule (defaults: base 1 s, max 1 h): after the n-th failed attempt the
-- worker waits a random delay in [d/2, d], d = min(1 h, 1 s * 2^(n-1)) (exponential
-- backoff with equal jitter); 300 draws per n spread over that range
WITH s AS (
	SELECT n, least(1000 * 2 ^ (n - 1), 3600000) AS d,
	       extract(epoch FROM firstsight.webhook_retry_delay(n)) * 1000 AS ms
	FROM generate_series(1, 14) n, generate_series(1, 300) k)
SELECT n, d AS max_ms, min(ms) >= d / 2 AND max(ms) <= d AS in_range,
       min(ms) < 0.6 * d AND max(ms) > 0.9 * d AND count(DISTINCT ms) > 250 AS jittered
FROM s GROUP BY n, d ORDER BY n;
SELECT firstsight.webhook_retry_delay(0);

DELETE FROM firstsight.outbox WHERE project_id = :p;
DELETE FROM firstsight.webhook WHERE project_id = :p;
