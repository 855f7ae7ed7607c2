-- Timestamps are ISO-8601 UTC text with microseconds, so they also sort as text.
-- AUTOINCREMENT keeps ids growing after deletes: newest-first pagination walks `id DESC`
-- on the primary key.
CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    telegram_id BIGINT NOT NULL,
    username TEXT,
    first_name TEXT NOT NULL,
    last_name TEXT,
    language_code TEXT,
    is_premium BOOLEAN NOT NULL DEFAULT false,
    photo_url TEXT,
    is_blocked BOOLEAN NOT NULL DEFAULT false,
    created_at TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    CONSTRAINT users_telegram_id_key UNIQUE (telegram_id)
);

CREATE TABLE linked_accounts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider TEXT NOT NULL,
    external_id TEXT NOT NULL,
    display_name TEXT,
    linked_at TEXT NOT NULL,
    CONSTRAINT linked_accounts_provider_external_id_key UNIQUE (provider, external_id),
    CONSTRAINT linked_accounts_user_id_provider_key UNIQUE (user_id, provider)
);
