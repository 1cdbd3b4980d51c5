ALTER TABLE webhook_deliveries RESET (fillfactor);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt_at);
