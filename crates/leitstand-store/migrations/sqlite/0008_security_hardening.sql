-- Security hardening.
--
-- A one-time password (set by an administrator or at the first start)
-- stops working at `password_expires_at`; NULL for passwords the user chose.
ALTER TABLE users ADD COLUMN password_expires_at BIGINT;

-- Sign-in throttling is keyed by pseudonyms from now on: the rows keyed by
-- user names and addresses in clear go (they are short-lived counters;
-- any running lock ends with them).
DELETE FROM login_throttle;
