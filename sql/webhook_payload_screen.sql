-- issue 14 item 10: the payload screen refuses raw phone and ID-card numbers
-- and embeddings written as text or as nested arrays, whether the event comes
-- through emit_event (a sales app's integration, the owner) or is written
-- into the outbox by hand
\set SHOW_CONTEXT never
SELECT firstsight.create_project('payload screen') AS p \gset
INSERT INTO firstsight.webhook (project_id, url, secret)
VALUES (:p, 'https://sales.example.com/screen', 'sixteen-chars-ok');

-- the payload of the issue
SELECT firstsight.emit_event(:p, 'visitor.new', 'person:1', '{"id_card":"11010519491231002X","phone":"13812348000"}');
-- each alone, under any key, in any usual spelling
SELECT firstsight.emit_event(:p, 'visitor.new', 'person:1', '{"phone": "13812348000"}');
SELECT firstsight.emit_event(:p, 'visitor.new', 'person:1', '{"mobile": 13812348000}');
SELECT firstsight.emit_event(:p, 'visitor.new', 'person:1', '{"contact": "+86 138-1234-8000"}');
SELECT firstsight.emit_event(:p, 'visitor.new', 'person:1', '{"note": "call 138 1234 8000 after 6"}');
SELECT firstsight.emit_event(:p, 'visitor.new', 'person:1', '{"id_card": "11010519491231002X"}');
SELECT firstsight.emit_event(:p, 'visitor.new', 'person:1', '{"buyer": {"idCardNo": "110105194912310"}}');
SELECT firstsight.emit_event(:p, 'visitor.new', 'person:1', '{"who": "11010519491231002x"}');
SELECT firstsight.emit_event(:p, 'visitor.new', 'person:1', '{"tels": ["13812348000"]}');
-- embeddings as text and as nested arrays
SELECT firstsight.emit_event(:p, 'visitor.new', 'person:1',
	jsonb_build_object('v', (SELECT '[' || string_agg((i / 100.0)::text, ',') || ']' FROM generate_series(1, 128) i)));
SELECT firstsight.emit_event(:p, 'visitor.new', 'person:1',
	jsonb_build_object('v', (SELECT string_agg((i / 100.0)::text, ' ') FROM generate_series(1, 40) i)));
SELECT firstsight.emit_event(:p, 'visitor.new', 'person:1',
	jsonb_build_object('v', (SELECT jsonb_agg(x) FROM (SELECT jsonb_agg(i / 100.0) AS x FROM generate_series(1, 128) i
	                                                  GROUP BY i % 8) s)));
SELECT firstsight.emit_event(:p, 'visitor.new', 'person:1',
	jsonb_build_object('v', (SELECT jsonb_agg(jsonb_build_array(i / 100.0, -i / 100.0)) FROM generate_series(1, 16) i)));
SELECT firstsight.emit_event(:p, 'visitor.new', 'person:1',
	jsonb_build_object('v', (SELECT jsonb_agg((i / 100.0)::text) FROM generate_series(1, 64) i)));
-- embeddings as an object of numbers
SELECT firstsight.emit_event(:p, 'visitor.new', 'person:1',
	(SELECT jsonb_object_agg('d' || i, i / 100.0) FROM generate_series(1, 128) i));
SELECT firstsight.emit_event(:p, 'visitor.new', 'person:1',
	jsonb_build_object('v', (SELECT jsonb_object_agg('d' || i, (i / 100.0)::text) FROM generate_series(1, 128) i)));
-- written into the outbox by hand: the same screen
INSERT INTO firstsight.outbox (project_id, event, subject, payload)
VALUES (:p, 'visitor.new', 'person:1', '{"phone": "13812348000"}');

-- what events really carry passes: ids, times, masked and hashed identifiers,
-- prices, short lists, dates that look like long digit runs
SELECT firstsight.emit_event(:p, 'visitor.returned', 'person:1',
	'{"person_id": 13812348000, "visit_id": 11010519491231002, "capture_id": 42,
	  "started_at": "2024-03-01T10:00:00.123456+08:00", "local": "2024-03-01 10:00:00",
	  "phone_masked": "138****8000", "phone_hash": "9f86d081884c7d659a2feaa0c55ad015", "id_card_hash": "2c26b46b68ffc68ff99b453c1d304134", "price": 1500000.50,
	  "co_buyer_ids": [1, 2, 3], "flags": ["flying_order"], "zones": [[1, 2], [3, 4]], "note": "room 1302, 3 visits"}') > 0 AS ok;
SELECT firstsight.emit_event(:p, 'deal.flagged', 'deal:7',
	jsonb_build_object('deal_id', 7, 'visits', (SELECT jsonb_agg(i) FROM generate_series(1, 20) i))) > 0 AS ok;
-- a list of objects with a few ids each (door_state's reports) passes, however long
SELECT firstsight.emit_event(:p, 'visitor.returned', 'person:1',
	jsonb_build_object('reports', (SELECT jsonb_agg(jsonb_build_object('report_id', i, 'agent_id', 20 + i, 'channel_id', 3))
	                               FROM generate_series(1, 40) i))) > 0 AS ok;
SELECT count(*) AS events_written FROM firstsight.outbox WHERE project_id = :p;
