DROP TABLE test_clock;
DROP TABLE events;
DROP TABLE subprocessors;
DROP TABLE agreements;
DROP TABLE controllers;
DROP TABLE processors;
