-- Issue 16: referrals (老带新).  A deal of a referral channel may name the
-- referring owner, a person who bought before; the ledger credits them the
-- channel's commission_rate of the price.
ALTER TABLE deal ADD COLUMN referrer_person_id bigint;
