-- The controller's documented instruction given with an approval (GDPR Art. 28(3)(a)): needed to
-- approve an entry the agreement does not allow by itself (a blocking conflict).
ALTER TABLE objection_windows ADD COLUMN approval_instruction TEXT;
