-- Deliveries left pending for endpoints already disabled (leased ones included) were never
-- going to be sent: they fail now, as the dispatcher fails them from this version on.
UPDATE webhook_deliveries
SET state = 'failed',
    leased_until = NULL,
    last_error = 'not sent: endpoint disabled'
WHERE state = 'pending'
  AND endpoint_id IN (SELECT id FROM webhook_endpoints WHERE NOT enabled);
