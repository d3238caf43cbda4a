-- Human labels (issue 16): every rule, flag, worklist kind, channel kind and
-- filing verdict has a Chinese and an English label in firstsight.label, which
-- the views and explain_attribution join.  Everyone reads them; nobody but the
-- owner changes them (an agency cannot rename "flying order").
SET search_path = firstsight, public;
\set SHOW_CONTEXT never

SELECT kind, code, zh, en FROM label ORDER BY kind, code;

-- every rule and flag the decision can produce has a label
SELECT r AS rule_without_label
FROM unnest(ARRAY['first_touch_natural', 'first_touch_agency', 'agency_after_natural_lapse',
                  'agency_after_protection_lapse', 'protection_expired', 'no_recorded_visit']) r
WHERE NOT EXISTS (SELECT 1 FROM label l WHERE l.kind = 'rule' AND l.code = r);
SELECT f AS flag_without_label
FROM unnest(ARRAY['claim_mismatch', 'late_change', 'flying_order', 'hanging_order_suspect', 'protection_conflict',
                  'consultant_conflict', 'abnormal_cycle', 'prior_visit_elsewhere']) f
WHERE NOT EXISTS (SELECT 1 FROM label l WHERE l.kind = 'flag' AND l.code = f);
-- and so does every rule and flag the tests before this one decided
SELECT count(*) > 0 AS decisions_seen FROM attribution;
SELECT DISTINCT a.rule AS decided_rule_without_label FROM attribution a
WHERE NOT EXISTS (SELECT 1 FROM label l WHERE l.kind = 'rule' AND l.code = a.rule);
SELECT DISTINCT f AS decided_flag_without_label FROM attribution a, unnest(a.flags) f
WHERE NOT EXISTS (SELECT 1 FROM label l WHERE l.kind = 'flag' AND l.code = f);
-- the verdicts file_report_verdict gives, and the channel kinds
SELECT v AS verdict_without_label FROM unnest(ARRAY['accepted', 'duplicate', 'protected', 'visited']) v
WHERE NOT EXISTS (SELECT 1 FROM label l WHERE l.kind = 'verdict' AND l.code = v);
SELECT k AS channel_kind_without_label FROM unnest(ARRAY['natural', 'agency', 'platform', 'referral', 'staff']) k
WHERE NOT EXISTS (SELECT 1 FROM label l WHERE l.kind = 'channel_kind' AND l.code = k);

-- the helpers: 'zh / en', the code itself when unknown; flags in one language or both
SELECT label_text('flag', 'flying_order') AS flying_order, label_text('flag', 'no_such_flag') AS unknown;
SELECT flag_labels(ARRAY['flying_order', 'consultant_conflict'], 'zh') AS zh,
       flag_labels(ARRAY['flying_order', 'consultant_conflict'], 'en') AS en,
       flag_labels(ARRAY['flying_order', 'made_up'], NULL) AS both_languages,
       flag_labels('{}', 'zh') AS none;

-- an unprivileged role reads them, and cannot change them
CREATE ROLE regress_fs_label_agency;
GRANT USAGE ON SCHEMA firstsight TO regress_fs_label_agency;
SET ROLE regress_fs_label_agency;
SELECT zh FROM firstsight.label WHERE kind = 'flag' AND code = 'flying_order';
UPDATE firstsight.label SET zh = '正常', en = 'normal' WHERE kind = 'flag' AND code = 'flying_order';
INSERT INTO firstsight.label VALUES ('flag', 'all_fine', '正常', 'normal');
DELETE FROM firstsight.label;
RESET ROLE;
SELECT zh, en FROM label WHERE kind = 'flag' AND code = 'flying_order';
REVOKE USAGE ON SCHEMA firstsight FROM regress_fs_label_agency;
DROP ROLE regress_fs_label_agency;

-- an unknown kind, or a second label for a code, is refused
INSERT INTO label VALUES ('zone', 'entrance', '入口', 'entrance');
INSERT INTO label VALUES ('flag', 'flying_order', '飞单', 'again');
