-- Due deliveries are claimed in next_attempt_at order among the pending ones: a partial index
-- walks them in that order without reading the delivered ones.
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';
