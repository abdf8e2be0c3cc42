package store

import (
	"context"
	"database/sql"
	"fmt"
)

// migrations bring an older database up to date, in order; PRAGMA user_version counts those
// applied. Append only: a released migration is never edited.
var migrations = []string{
	// 1: delivery follow-up (DSN, MDN) on jobs, and the received-message ledger of the inbox.
	`ALTER TABLE jobs ADD COLUMN delivery TEXT NOT NULL DEFAULT '';
	 ALTER TABLE jobs ADD COLUMN delivery_detail TEXT NOT NULL DEFAULT '';
	 CREATE TABLE IF NOT EXISTS received (
		id           TEXT PRIMARY KEY,
		box          TEXT NOT NULL,
		mailbox      TEXT NOT NULL,
		uidvalidity  INTEGER NOT NULL,
		uid          INTEGER NOT NULL,
		message_id   TEXT NOT NULL DEFAULT '',
		kind         TEXT NOT NULL DEFAULT '',
		state        TEXT NOT NULL,
		files        TEXT NOT NULL DEFAULT '',
		reason       TEXT NOT NULL DEFAULT '',
		job          TEXT NOT NULL DEFAULT '',
		created_at   INTEGER NOT NULL,
		updated_at   INTEGER NOT NULL,
		UNIQUE (box, mailbox, uidvalidity, uid)
	 );
	 CREATE INDEX IF NOT EXISTS received_message_id ON received(box, message_id);`,
}

func migrate(ctx context.Context, db *sql.DB) error {
	var v int
	if err := db.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&v); err != nil {
		return fmt.Errorf("read store version: %w", err)
	}
	for i := v; i < len(migrations); i++ {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("migrate store to %d: %w", i+1, err)
		}
		if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
			tx.Rollback()
			return fmt.Errorf("migrate store to %d: %w", i+1, err)
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA user_version = %d`, i+1)); err != nil {
			tx.Rollback()
			return fmt.Errorf("migrate store to %d: %w", i+1, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migrate store to %d: %w", i+1, err)
		}
	}
	return nil
}
