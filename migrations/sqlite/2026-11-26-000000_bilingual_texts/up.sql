-- Texts a processor writes may be given in English beside the main (Danish) text; and the
-- delimitation of responsibilities that Annex IV of decision 2021/915 asks for where several
-- sub-processors share a task.
ALTER TABLE subprocessors ADD COLUMN purpose_en TEXT;
ALTER TABLE subprocessors ADD COLUMN responsibilities TEXT;
ALTER TABLE subprocessors ADD COLUMN responsibilities_en TEXT;
ALTER TABLE changes ADD COLUMN summary_en TEXT;
