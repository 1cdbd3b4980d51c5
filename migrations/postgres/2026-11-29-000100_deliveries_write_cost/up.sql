-- Every delivery is written three times (enqueued, leased, recorded). The claim and the metrics
-- use the partial index of pending deliveries; the older (state, next_attempt_at) index only
-- cost an index entry per row version.
DROP INDEX webhook_deliveries_due;
-- Room on each page so that the lease (a column no index holds) is a HOT update: no new index
-- entries for it.
ALTER TABLE webhook_deliveries SET (fillfactor = 70);
