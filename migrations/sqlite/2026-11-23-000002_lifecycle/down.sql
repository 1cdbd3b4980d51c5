DROP TABLE objection_windows;
DROP TABLE changes;
