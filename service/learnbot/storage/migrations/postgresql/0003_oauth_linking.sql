-- Links stored before providers proved them came from the client (POST /me/accounts): they
-- stay, marked unverified.
ALTER TABLE linked_accounts ADD COLUMN verified BOOLEAN NOT NULL DEFAULT false;

-- A pending OAuth authorization, under the SHA-256 (hex) of its state; taken (deleted) once.
CREATE TABLE oauth_states (
    state_hash TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider TEXT NOT NULL,
    code_verifier TEXT NOT NULL,
    nonce TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);

-- Serves the removal of expired states and the cascade from users.
CREATE INDEX oauth_states_expires_at_idx ON oauth_states (expires_at);
CREATE INDEX oauth_states_user_id_idx ON oauth_states (user_id);
