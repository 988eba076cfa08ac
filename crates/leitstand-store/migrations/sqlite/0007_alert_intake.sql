-- How far the alert engine has applied each replica's intake log (the
-- write-ahead log accepted alerts are in before the sender is answered).
-- Written in the same transaction as what the records changed, so after a
-- crash a replica replays exactly the records after `applied`.
CREATE TABLE alert_intake_progress (
    journal  TEXT    PRIMARY KEY,
    applied  BIGINT  NOT NULL
);
