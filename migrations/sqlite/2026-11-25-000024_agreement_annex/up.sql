-- An agreement's own annex (Bilag B): the entries it authorises, with the decision that did and
-- from when. Recorded at signing (the processor's list then, or what an import names).
CREATE TABLE agreement_annex_entries (
    agreement_id TEXT NOT NULL REFERENCES agreements (id),
    subprocessor_id TEXT NOT NULL REFERENCES subprocessors (id),
    authorised_by TEXT NOT NULL,
    decided_at TIMESTAMP NOT NULL,
    PRIMARY KEY (agreement_id, subprocessor_id)
);
CREATE INDEX agreement_annex_entries_subprocessor ON agreement_annex_entries (subprocessor_id);
-- Agreements recorded before: their annex was the processor's list at signing, as judged then.
INSERT INTO agreement_annex_entries (agreement_id, subprocessor_id, authorised_by, decided_at)
SELECT a.id, s.id, 'agreement', a.signed_at
FROM agreements a
JOIN subprocessors s ON s.processor_id = a.processor_id
WHERE s.active_from IS NOT NULL AND s.active_from <= a.signed_at;
