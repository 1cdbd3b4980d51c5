DROP TABLE mail_outbox;
DROP TABLE notice_contacts;
