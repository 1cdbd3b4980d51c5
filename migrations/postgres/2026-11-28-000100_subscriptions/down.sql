DROP INDEX mail_outbox_recipient;
DROP TABLE subscriptions;
