-- Newest-first pagination walks `id DESC`; the primary key index serves it.
CREATE TABLE users (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    telegram_id BIGINT NOT NULL,
    username TEXT,
    first_name TEXT NOT NULL,
    last_name TEXT,
    language_code TEXT,
    is_premium BOOLEAN NOT NULL DEFAULT false,
    photo_url TEXT,
    is_blocked BOOLEAN NOT NULL DEFAULT false,
    created_at TIMESTAMPTZ NOT NULL,
    last_seen_at TIMESTAMPTZ NOT NULL,
    CONSTRAINT users_telegram_id_key UNIQUE (telegram_id)
);

-- The (user_id, provider) unique index also serves list_accounts and the cascade.
CREATE TABLE linked_accounts (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider TEXT NOT NULL,
    external_id TEXT NOT NULL,
    display_name TEXT,
    linked_at TIMESTAMPTZ NOT NULL,
    CONSTRAINT linked_accounts_provider_external_id_key UNIQUE (provider, external_id),
    CONSTRAINT linked_accounts_user_id_provider_key UNIQUE (user_id, provider)
);
