-- A neutralized copy of the platform database (staging, a restore to test)
-- must not post the copy's events to the real receivers.
UPDATE ipai_webhook SET active = false;
UPDATE ipai_webhook_delivery SET state = 'failed', next_attempt_at = NULL WHERE state = 'pending';
UPDATE ipai_webhook_event SET fan_out_pending = false WHERE fan_out_pending;
