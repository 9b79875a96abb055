import type { Migration } from './migration';

/**
 * What the stored usage counts for each file open for writing under a writer lease, so that a
 * process that dies mid-upload leaves usage that is made exact once its lease runs out:
 * `file_key` (device:inode) of the file the holder opened; `charged` 1 once a settle of the
 * holder's quota recorded `charged_size` (the size the stored usage counts for the file, per
 * name) and `charged_names` (its names in the home) in the transaction that committed them;
 * `seen_size`, the size another process found the file at when it opened it while the lease
 * still ran (its own writes are charged from there); `released` 1 when the holder closed the
 * file before a settle committed its last size (the settle that does deletes the lease).
 *
 * `lease_corrections`: what a correction added for a holder's file (at, by the database's
 * clock), so that if that holder was not dead after all (cut off from the store for longer than
 * its lease) its next settle, which commits the same bytes once more, takes the correction back.
 */
export const leaseCharges: Migration = {
  id: '0006_lease_charges',
  sqlite: `
    ALTER TABLE upload_leases ADD COLUMN file_key TEXT NOT NULL DEFAULT '';
    ALTER TABLE upload_leases ADD COLUMN charged INTEGER NOT NULL DEFAULT 0 CHECK (charged IN (0, 1));
    ALTER TABLE upload_leases ADD COLUMN charged_size INTEGER NOT NULL DEFAULT 0 CHECK (charged_size >= 0);
    ALTER TABLE upload_leases ADD COLUMN charged_names INTEGER NOT NULL DEFAULT 0 CHECK (charged_names >= 0);
    ALTER TABLE upload_leases ADD COLUMN seen_size INTEGER CHECK (seen_size >= 0);
    ALTER TABLE upload_leases ADD COLUMN released INTEGER NOT NULL DEFAULT 0 CHECK (released IN (0, 1));
    CREATE INDEX upload_leases_expiry ON upload_leases (expires_at);

    CREATE TABLE lease_corrections (
      user     TEXT    NOT NULL REFERENCES users (name) ON DELETE CASCADE,
      holder   TEXT    NOT NULL,
      file_key TEXT    NOT NULL,
      bytes    INTEGER NOT NULL,
      at       INTEGER NOT NULL,
      PRIMARY KEY (user, holder, file_key)
    ) STRICT, WITHOUT ROWID;
    CREATE INDEX lease_corrections_at ON lease_corrections (at);
  `,
  postgres: `
    ALTER TABLE upload_leases ADD COLUMN file_key TEXT COLLATE "C" NOT NULL DEFAULT '';
    ALTER TABLE upload_leases ADD COLUMN charged INTEGER NOT NULL DEFAULT 0 CHECK (charged IN (0, 1));
    ALTER TABLE upload_leases ADD COLUMN charged_size BIGINT NOT NULL DEFAULT 0 CHECK (charged_size >= 0);
    ALTER TABLE upload_leases ADD COLUMN charged_names INTEGER NOT NULL DEFAULT 0 CHECK (charged_names >= 0);
    ALTER TABLE upload_leases ADD COLUMN seen_size BIGINT CHECK (seen_size >= 0);
    ALTER TABLE upload_leases ADD COLUMN released INTEGER NOT NULL DEFAULT 0 CHECK (released IN (0, 1));
    CREATE INDEX upload_leases_expiry ON upload_leases (expires_at);

    CREATE TABLE lease_corrections (
      "user"   TEXT COLLATE "C" NOT NULL REFERENCES users (name) ON DELETE CASCADE,
      holder   TEXT   NOT NULL,
      file_key TEXT COLLATE "C" NOT NULL,
      bytes    BIGINT NOT NULL,
      at       BIGINT NOT NULL,
      PRIMARY KEY ("user", holder, file_key)
    );
    CREATE INDEX lease_corrections_at ON lease_corrections (at);
  `,
};
