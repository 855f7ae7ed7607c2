-- The locale a user chose in the mini-app (PUT /me/locale); NULL means "negotiate".
ALTER TABLE users ADD COLUMN locale TEXT;
