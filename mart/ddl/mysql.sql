-- Mart schema, version 4, MySQL 8 / MariaDB 10.6+ (mart/migrate.py brings a version 1, 2 or 3 mart here in place).
-- Each "-- table:" block creates one table; {table} is the name it is created under (the live
-- name, or a staging name during a publish) and {tag} keeps index names unique per creation.
-- Keys compare byte for byte (utf8mb4_bin): name keys are normalized by mart.names.name_key.
-- `rank` is quoted everywhere: it is a reserved word in MySQL 8.

-- table: artists
CREATE TABLE {table} (
  artist_id    VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  name         VARCHAR(512) NOT NULL,
  name_key     VARCHAR(512) COLLATE utf8mb4_bin NOT NULL,
  image_url    VARCHAR(1024),
  spotify_url  VARCHAR(1024),
  genres       TEXT,
  popularity   SMALLINT,
  rev_key      VARCHAR(512) COLLATE utf8mb4_bin NOT NULL DEFAULT '',
  initials     VARCHAR(512) COLLATE utf8mb4_bin,
  PRIMARY KEY (artist_id),
  KEY ix_artists_name_key_{tag} (name_key),
  KEY ix_artists_rev_key_{tag} (rev_key),
  KEY ix_artists_initials_{tag} (initials)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci

-- table: artist_aliases
CREATE TABLE {table} (
  alias_key    VARCHAR(512) COLLATE utf8mb4_bin NOT NULL,
  artist_id    VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  rev_key      VARCHAR(512) COLLATE utf8mb4_bin NOT NULL DEFAULT '',
  initials     VARCHAR(512) COLLATE utf8mb4_bin,
  PRIMARY KEY (alias_key),
  KEY ix_aliases_rev_key_{tag} (rev_key),
  KEY ix_aliases_initials_{tag} (initials)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci

-- table: top_tracks
CREATE TABLE {table} (
  artist_id    VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  `rank`       SMALLINT NOT NULL,
  track_id     VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  name         VARCHAR(512) NOT NULL,
  album_name   VARCHAR(512),
  image_url    VARCHAR(1024),
  PRIMARY KEY (artist_id, `rank`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci

-- table: related_artists
CREATE TABLE {table} (
  artist_id    VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  `rank`       SMALLINT NOT NULL,
  related_id   VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  distance     DOUBLE NOT NULL,
  -- why: sound, listeners or both (mart.schema.REASONS; the publish checks refuse any other value)
  reason       VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT 'sound',
  PRIMARY KEY (artist_id, `rank`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci

-- table: artist_requests
CREATE TABLE {table} (
  name_key           VARCHAR(512) COLLATE utf8mb4_bin NOT NULL,
  name               VARCHAR(512) NOT NULL,
  spotify_artist_id  VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin,
  first_requested_at DATETIME(3) NOT NULL,
  last_requested_at  DATETIME(3) NOT NULL,
  times              INT NOT NULL DEFAULT 1,
  spotify_name       VARCHAR(512),
  searched_at        DATETIME(3),
  not_found_at       DATETIME(3),
  resolved_at        DATETIME(3),
  added_by           VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT 'unsigned',
  PRIMARY KEY (name_key),
  KEY ix_requests_added_by_{tag} (added_by, first_requested_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci

-- table: artist_request_users
CREATE TABLE {table} (
  name_key           VARCHAR(512) COLLATE utf8mb4_bin NOT NULL,
  user_hash          CHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  first_requested_at DATETIME(3) NOT NULL,
  PRIMARY KEY (name_key, user_hash)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci

-- table: alias_confirmations
CREATE TABLE {table} (
  alias_key    VARCHAR(512) COLLATE utf8mb4_bin NOT NULL,
  artist_id    VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  user_hash    CHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  typed        VARCHAR(512) NOT NULL,
  confirmed_at DATETIME(3) NOT NULL,
  PRIMARY KEY (alias_key, artist_id, user_hash),
  KEY ix_confirmations_user_{tag} (user_hash, confirmed_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci

-- table: chat_listens
-- The known artists the chatbot answered, per signed user (keyed hash) and UTC day; bounded by the
-- chatbot (mart/listens.py). The key starts with the user and the day: the per-day cap counts one
-- short range; `day` is indexed for the retention deletes.
CREATE TABLE {table} (
  user_hash    CHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  artist_id    VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  day          DATE NOT NULL,
  asks         SMALLINT NOT NULL DEFAULT 1,
  PRIMARY KEY (user_hash, day, artist_id),
  KEY ix_listens_day_{tag} (day)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci

-- table: publish_log
CREATE TABLE {table} (
  run_id          VARCHAR(64) CHARACTER SET ascii NOT NULL,
  action          VARCHAR(16) CHARACTER SET ascii NOT NULL,
  dt              CHAR(10) CHARACTER SET ascii,
  published_at    DATETIME(3) NOT NULL,
  artists         BIGINT,
  artist_aliases  BIGINT,
  top_tracks      BIGINT,
  related_artists BIGINT,
  forced          BOOLEAN NOT NULL DEFAULT FALSE,
  parameters      TEXT,
  PRIMARY KEY (run_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
