-- A custom model: users get a phone number. Custom migrations are numbered from 1001 so that
-- no future asyncauth migration can take their number. Additive and nullable, like asyncauth's.
ALTER TABLE users ADD COLUMN phone VARCHAR(32);
CREATE INDEX users_phone ON users(phone);
