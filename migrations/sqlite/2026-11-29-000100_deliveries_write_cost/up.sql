-- Every delivery is written three times (enqueued, leased, recorded). The claim and the metrics
-- use the partial index of pending deliveries; the older (state, next_attempt_at) index only
-- cost an index entry per row version.
DROP INDEX webhook_deliveries_due;
