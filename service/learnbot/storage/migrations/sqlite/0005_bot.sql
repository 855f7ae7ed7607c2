-- The bot (POST /telegram/webhook). Numbered 0005 so that it never shares a number with the
-- account-linking migrations (0003, 0004).
-- The payload of the first /start that carried one (a t.me/<bot>?start=<payload> link): where
-- the user came from; NULL until then.
ALTER TABLE users ADD COLUMN source TEXT;

-- The update ids acted on: Telegram redelivers an update until it has its 200, so one that is
-- here already is not acted on again. Rows older than a week are pruned as new ones arrive.
CREATE TABLE bot_updates (
    update_id BIGINT PRIMARY KEY,
    received_at TEXT NOT NULL
);
CREATE INDEX bot_updates_received_at ON bot_updates (received_at);
