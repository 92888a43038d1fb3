-- The sender's time of an alert's current status (alert.Alert.StateSince,
-- microseconds; 0: not known): a late copy of an older notification, as an
-- HA pair of Alertmanagers sends, is recognised by it and cannot undo a
-- newer status.
ALTER TABLE alerts ADD COLUMN state_since BIGINT NOT NULL DEFAULT 0;
