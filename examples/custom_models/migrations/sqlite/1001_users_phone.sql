-- A custom model: users get a phone number. Custom migrations are numbered from 1001 so that
-- no future asyncauth migration can take their number. Additive and nullable, like asyncauth's.
ALTER TABLE users ADD COLUMN phone varchar(32);
CREATE INDEX IF NOT EXISTS users_phone ON users(phone);
