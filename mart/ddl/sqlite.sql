-- Mart schema, version 4, SQLite 3.26+ (the embedded default; mart/migrate.py brings a version 1, 2 or 3 mart here).
-- Each "-- table:" block creates one table; {table} is the name it is created under (the live
-- name, or a staging name during a publish) and {tag} keeps index names unique: in SQLite an
-- index name is global and stays with its table through a rename.
-- Text compares byte for byte (BINARY), like utf8mb4_bin in the MySQL schema.

-- table: artists
CREATE TABLE {table} (
  artist_id    TEXT NOT NULL PRIMARY KEY,
  name         TEXT NOT NULL,
  name_key     TEXT NOT NULL,
  image_url    TEXT,
  spotify_url  TEXT,
  genres       TEXT,
  popularity   INTEGER,
  rev_key      TEXT NOT NULL DEFAULT '',
  initials     TEXT
);
CREATE INDEX ix_artists_name_key_{tag} ON {table} (name_key);
CREATE INDEX ix_artists_rev_key_{tag} ON {table} (rev_key);
CREATE INDEX ix_artists_initials_{tag} ON {table} (initials)

-- table: artist_aliases
CREATE TABLE {table} (
  alias_key    TEXT NOT NULL PRIMARY KEY,
  artist_id    TEXT NOT NULL,
  rev_key      TEXT NOT NULL DEFAULT '',
  initials     TEXT
);
CREATE INDEX ix_aliases_rev_key_{tag} ON {table} (rev_key);
CREATE INDEX ix_aliases_initials_{tag} ON {table} (initials)

-- table: top_tracks
CREATE TABLE {table} (
  artist_id    TEXT NOT NULL,
  `rank`       INTEGER NOT NULL,
  track_id     TEXT NOT NULL,
  name         TEXT NOT NULL,
  album_name   TEXT,
  image_url    TEXT,
  PRIMARY KEY (artist_id, `rank`)
)

-- table: related_artists
CREATE TABLE {table} (
  artist_id    TEXT NOT NULL,
  `rank`       INTEGER NOT NULL,
  related_id   TEXT NOT NULL,
  distance     REAL NOT NULL,
  reason       TEXT NOT NULL DEFAULT 'sound',
  PRIMARY KEY (artist_id, `rank`)
)

-- table: artist_requests
CREATE TABLE {table} (
  name_key           TEXT NOT NULL PRIMARY KEY,
  name               TEXT NOT NULL,
  spotify_artist_id  TEXT,
  first_requested_at TEXT NOT NULL,
  last_requested_at  TEXT NOT NULL,
  times              INTEGER NOT NULL DEFAULT 1,
  spotify_name       TEXT,
  searched_at        TEXT,
  not_found_at       TEXT,
  resolved_at        TEXT,
  added_by           TEXT NOT NULL DEFAULT 'unsigned'
);
CREATE INDEX ix_requests_added_by_{tag} ON {table} (added_by, first_requested_at)

-- table: artist_request_users
CREATE TABLE {table} (
  name_key           TEXT NOT NULL,
  user_hash          TEXT NOT NULL,
  first_requested_at TEXT NOT NULL,
  PRIMARY KEY (name_key, user_hash)
)

-- table: alias_confirmations
CREATE TABLE {table} (
  alias_key    TEXT NOT NULL,
  artist_id    TEXT NOT NULL,
  user_hash    TEXT NOT NULL,
  typed        TEXT NOT NULL,
  confirmed_at TEXT NOT NULL,
  PRIMARY KEY (alias_key, artist_id, user_hash)
);
CREATE INDEX ix_confirmations_user_{tag} ON {table} (user_hash, confirmed_at)

-- table: chat_listens
-- Known artists answered per signed user and UTC day (YYYY-MM-DD); see the MySQL schema.
CREATE TABLE {table} (
  user_hash    TEXT NOT NULL,
  artist_id    TEXT NOT NULL,
  day          TEXT NOT NULL,
  asks         INTEGER NOT NULL DEFAULT 1,
  PRIMARY KEY (user_hash, day, artist_id)
);
CREATE INDEX ix_listens_day_{tag} ON {table} (day)

-- table: publish_log
CREATE TABLE {table} (
  run_id          TEXT NOT NULL PRIMARY KEY,
  action          TEXT NOT NULL,
  dt              TEXT,
  published_at    TEXT NOT NULL,
  artists         INTEGER,
  artist_aliases  INTEGER,
  top_tracks      INTEGER,
  related_artists INTEGER,
  forced          INTEGER NOT NULL DEFAULT 0,
  parameters      TEXT
)
