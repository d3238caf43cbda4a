-- Human labels for the codes the rules, flags and worklists use (issue 16),
-- in Chinese and English, for the dispute meeting and the sales office's
-- reports: views and explain_attribution join this table.  The rows are the
-- extension's own (not dumped: CREATE EXTENSION brings them back).
CREATE TABLE label (
	kind text NOT NULL CHECK (kind IN ('rule', 'flag', 'worklist', 'channel_kind', 'verdict')),
	code text NOT NULL,
	zh text NOT NULL,
	en text NOT NULL,
	PRIMARY KEY (kind, code)
);
INSERT INTO label (kind, code, zh, en) VALUES
	('rule', 'first_touch_natural', '自然到访首访', 'natural visitor on the first visit'),
	('rule', 'first_touch_agency', '渠道带看首访', 'agency brought the first visit'),
	('rule', 'agency_after_natural_lapse', '自然归属失效后渠道带看', 'agency visit after natural ownership lapsed'),
	('rule', 'agency_after_protection_lapse', '保护期失效后渠道带看', 'agency visit after another agency''s protection lapsed'),
	('rule', 'protection_expired', '渠道保护期已过', 'agency protection ended before signing'),
	('rule', 'no_recorded_visit', '无到访记录', 'no recorded visit'),
	('flag', 'claim_mismatch', '申报与判定不符', 'claim differs from the entitlement'),
	('flag', 'late_change', '判定后变更', 'changed after the decision'),
	('flag', 'flying_order', '飞单', 'flying order: a natural visitor claimed by a channel'),
	('flag', 'hanging_order_suspect', '疑似挂单', 'suspected hanging order'),
	('flag', 'protection_conflict', '保护期冲突', 'protection conflict'),
	('flag', 'consultant_conflict', '置业顾问撞单', 'consultant conflict'),
	('flag', 'abnormal_cycle', '成交周期异常', 'abnormal first-visit-to-deal time'),
	('flag', 'prior_visit_elsewhere', '曾到访集团其他项目', 'seen earlier at a sister project'),
	('flag', 'backdated_deal', '成交日期倒签', 'deal back-dated: signed long before it was entered'),
	('worklist', 'unreceived_visit', '未接待到访', 'visit not received'),
	('worklist', 'unreported_visit', '带看无有效报备', 'accompanied visit without a valid report'),
	('worklist', 'returning_visitor', '复访客户', 'returning visitor'),
	('worklist', 'report_lapsing', '报备即将失效', 'report about to lapse'),
	('worklist', 'low_confidence_match', '低置信度识别', 'low-confidence match'),
	('worklist', 'possible_duplicate', '疑似同一人', 'possible duplicate person'),
	('channel_kind', 'natural', '自然到访', 'natural visitor'),
	('channel_kind', 'agency', '中介分销', 'agency'),
	('channel_kind', 'platform', '平台', 'platform'),
	('channel_kind', 'referral', '老带新', 'referral'),
	('channel_kind', 'staff', '全民营销', 'staff'),
	('verdict', 'accepted', '报备有效', 'accepted'),
	('verdict', 'duplicate', '重复报备', 'duplicate'),
	('verdict', 'protected', '他人保护中', 'protected by another channel'),
	('verdict', 'visited', '客户已到访', 'already visited');
