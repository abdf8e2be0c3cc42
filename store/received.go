package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Received is one message taken from a box's IMAP mailbox. Its UIDVALIDITY and UID are
// recorded before anything is done with it, so that a restart never acts twice on it.
type Received struct {
	ID          string
	Box         string
	Mailbox     string
	UIDValidity uint32
	UID         uint32
	MessageID   string
	Kind        string   // document, dsn, mdn, quarantine, duplicate
	State       string   // fetched, deposited, done
	Files       []string // names written in the import (or quarantine) folder
	Reason      string   // why quarantined, in French
	Job         string   // the sent job a DSN or MDN is about
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

const receivedColumns = `id, box, mailbox, uidvalidity, uid, message_id, kind, state, files, reason, job, created_at, updated_at`

func scanReceived(r scanner) (Received, error) {
	var x Received
	var files string
	var created, updated int64
	if err := r.Scan(&x.ID, &x.Box, &x.Mailbox, &x.UIDValidity, &x.UID, &x.MessageID, &x.Kind, &x.State, &files, &x.Reason, &x.Job, &created, &updated); err != nil {
		return Received{}, err
	}
	if files != "" {
		json.Unmarshal([]byte(files), &x.Files)
	}
	x.CreatedAt, x.UpdatedAt = fromMS(created), fromMS(updated)
	return x, nil
}

// PutReceived inserts or replaces the record of a received message.
func (s *SQLite) PutReceived(ctx context.Context, x Received) error {
	now := time.Now().UTC()
	if x.CreatedAt.IsZero() {
		x.CreatedAt = now
	}
	x.UpdatedAt = now
	files, _ := json.Marshal(x.Files)
	if x.Files == nil {
		files = nil
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO received (`+receivedColumns+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)
		ON CONFLICT(id) DO UPDATE SET message_id=excluded.message_id, kind=excluded.kind, state=excluded.state,
		files=excluded.files, reason=excluded.reason, job=excluded.job, updated_at=excluded.updated_at`,
		x.ID, x.Box, x.Mailbox, x.UIDValidity, x.UID, x.MessageID, x.Kind, x.State, string(files), x.Reason, x.Job, ms(x.CreatedAt), ms(x.UpdatedAt))
	if err != nil {
		return fmt.Errorf("record received message %s: %w", x.ID, err)
	}
	return nil
}

// GetReceived finds a message by its place in the mailbox.
func (s *SQLite) GetReceived(ctx context.Context, box, mailbox string, uidValidity, uid uint32) (Received, bool, error) {
	return s.oneReceived(ctx, `WHERE box = ? AND mailbox = ? AND uidvalidity = ? AND uid = ?`, box, mailbox, uidValidity, uid)
}

// ReceivedByMessageID finds an earlier message with the same Message-ID in the same box (the
// same message delivered twice).
func (s *SQLite) ReceivedByMessageID(ctx context.Context, box, messageID string) (Received, bool, error) {
	if messageID == "" {
		return Received{}, false, nil
	}
	return s.oneReceived(ctx, `WHERE box = ? AND message_id = ? AND kind IN ('document', 'dsn', 'mdn') ORDER BY created_at LIMIT 1`, box, messageID)
}

func (s *SQLite) oneReceived(ctx context.Context, where string, a ...any) (Received, bool, error) {
	x, err := scanReceived(s.db.QueryRowContext(ctx, `SELECT `+receivedColumns+` FROM received `+where, a...))
	if errors.Is(err, sql.ErrNoRows) {
		return Received{}, false, nil
	}
	if err != nil {
		return Received{}, false, fmt.Errorf("read received message: %w", err)
	}
	return x, true, nil
}

// ListReceived lists received messages in a state ("" for all), newest first.
func (s *SQLite) ListReceived(ctx context.Context, box, state string, limit int) ([]Received, error) {
	q := `SELECT ` + receivedColumns + ` FROM received WHERE box = ?`
	a := []any{box}
	if state != "" {
		q += ` AND state = ?`
		a = append(a, state)
	}
	q += ` ORDER BY created_at DESC`
	if limit > 0 {
		q += fmt.Sprintf(` LIMIT %d`, limit)
	}
	rows, err := s.db.QueryContext(ctx, q, a...)
	if err != nil {
		return nil, fmt.Errorf("list received messages: %w", err)
	}
	defer rows.Close()
	var out []Received
	for rows.Next() {
		x, err := scanReceived(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	return out, rows.Err()
}

// JobByMessageID finds the sent job a notification is about.
func (s *SQLite) JobByMessageID(ctx context.Context, messageID string) (Job, error) {
	j, err := scanJob(s.db.QueryRowContext(ctx, `SELECT `+columns+` FROM jobs WHERE message_id = ?`, messageID))
	if errors.Is(err, sql.ErrNoRows) {
		return Job{}, fmt.Errorf("job with Message-ID %s: %w", messageID, ErrNotFound)
	}
	return j, err
}
