DROP TABLE agreement_annex_entries;
