-- Purging compares expires as an instant (strftime reads 'T', 'Z' and '+02:00' forms that
-- text comparison gets wrong): these indexes hold that instant, so that each purge batch is
-- an index range scan instead of a scan of the table. strftime without 'now' is
-- deterministic, which SQLite requires of an index expression.
CREATE INDEX IF NOT EXISTS sessions_expires_instant
  ON sessions(strftime('%Y-%m-%d %H:%M:%f', expires));
CREATE INDEX IF NOT EXISTS verification_requests_expires_instant
  ON verification_requests(strftime('%Y-%m-%d %H:%M:%f', expires));
