// Package store keeps every job's state in a SQLite database (pure Go, WAL, synchronous=FULL,
// one writer): what was claimed, read, routed and sent, the tries and the last error, and the
// Message-ID fixed before the first try. The SQL is plain so that a PostgreSQL store shared by
// two bridges can implement the same Store interface later.
package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" driver

	"github.com/mssbridge/mssbridge/safefile"
)

// State is where a job is in its life.
type State string

// The states, in the order a job normally goes through them.
const (
	// Claiming: the row exists, the file may still be on its way from the input into the spool.
	// A restart finishes or undoes the move; nothing is read in this state.
	StateClaiming State = "claiming"
	StateClaimed  State = "claimed" // the document is in the spool, not yet read
	StateRouted   State = "routed"  // read and routed: waiting to be sent (or retried)
	StateSending  State = "sending" // handed to SMTP; a restart sends again with the same Message-ID
	StateSent     State = "sent"
	StateHeld     State = "held"     // waiting for a human
	StateFailed   State = "failed"   // gave up; a human may retry
	StateRejected State = "rejected" // a human decided not to send
)

// AllStates lists the states for status displays.
var AllStates = []State{StateClaiming, StateClaimed, StateRouted, StateSending, StateSent, StateHeld, StateFailed, StateRejected}

// ErrNotFound is returned for an unknown job id.
var ErrNotFound = errors.New("job not found")

// Job is one document from claim to its end. Reading and Route are JSON owned by the stages
// above the store (it never interprets them).
type Job struct {
	ID          string
	Input       string
	Box         string
	SourceName  string // the file's name in the input folder (may name the patient: never logged)
	SHA256      string
	Size        int64
	HasSidecar  bool
	State       State
	Tries       int
	NextAttempt time.Time
	LastError   string // in French, for the secretary
	ServerReply string // the SMTP server's reply, as received
	MessageID   string // fixed at claim, the same on every try
	DSN         string // "requested", "unsupported" (server does not advertise DSN), or ""
	Reading     []byte // JSON of what was read
	Route       []byte // JSON of the routing decision
	PrintJob    string // job name and user from a print stream
	PrintUser   string
	CreatedAt   time.Time
	UpdatedAt   time.Time
	SentAt      time.Time
	FirstTryAt  time.Time
	// Delivery is what the recipients' side said after the 250: "delivered", "failed",
	// "delayed" (DSN) or "read" (MDN); DeliveryDetail the remote reason or status.
	Delivery       string
	DeliveryDetail string
}

// Filter selects jobs for List.
type Filter struct {
	States []State
	Input  string
	Box    string
	Limit  int
}

// Count is the number of jobs in one state for one box and input.
type Count struct {
	State State
	Box   string
	Input string
	N     int
}

// Store is what the pipeline needs from a job store.
type Store interface {
	Create(ctx context.Context, j Job) error
	Get(ctx context.Context, id string) (Job, error)
	// Update reads the job, lets fn change it, and writes it back in one transaction.
	Update(ctx context.Context, id string, fn func(*Job) error) (Job, error)
	List(ctx context.Context, f Filter) ([]Job, error)
	// Due lists jobs in state whose NextAttempt has come, oldest first, with only their ID,
	// Box, State and NextAttempt: the loop calls it at every wake-up, and Get reads the one
	// job a worker takes.
	Due(ctx context.Context, state State, now time.Time, limit int) ([]Job, error)
	Counts(ctx context.Context) ([]Count, error)
	JobByMessageID(ctx context.Context, messageID string) (Job, error)
	// Forget removes a job that never held a document (a claim abandoned before its file
	// moved); it refuses any other.
	Forget(ctx context.Context, id string) error
	// NextAttempt is the earliest retry time after now of the jobs in state; ok is false when
	// none waits.
	NextAttempt(ctx context.Context, state State, now time.Time) (next time.Time, ok bool, err error)
	// Reschedule moves to "to" every job in state whose NextAttempt is later than "after": a
	// retry time no backoff could have set, left by a clock that went back.
	Reschedule(ctx context.Context, state State, after, to time.Time) (int, error)
	Close() error
}

// SQLite is the single-site store.
type SQLite struct {
	db *sql.DB
}

const schema = `
CREATE TABLE IF NOT EXISTS jobs (
	id            TEXT PRIMARY KEY,
	input         TEXT NOT NULL,
	box           TEXT NOT NULL DEFAULT '',
	source_name   TEXT NOT NULL DEFAULT '',
	sha256        TEXT NOT NULL DEFAULT '',
	size          INTEGER NOT NULL DEFAULT 0,
	has_sidecar   INTEGER NOT NULL DEFAULT 0,
	state         TEXT NOT NULL,
	tries         INTEGER NOT NULL DEFAULT 0,
	next_attempt  INTEGER NOT NULL DEFAULT 0,
	last_error    TEXT NOT NULL DEFAULT '',
	server_reply  TEXT NOT NULL DEFAULT '',
	message_id    TEXT NOT NULL,
	dsn           TEXT NOT NULL DEFAULT '',
	reading       TEXT NOT NULL DEFAULT '',
	route         TEXT NOT NULL DEFAULT '',
	print_job     TEXT NOT NULL DEFAULT '',
	print_user    TEXT NOT NULL DEFAULT '',
	created_at    INTEGER NOT NULL,
	updated_at    INTEGER NOT NULL,
	sent_at       INTEGER NOT NULL DEFAULT 0,
	first_try_at  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS jobs_state_due ON jobs(state, next_attempt);
CREATE UNIQUE INDEX IF NOT EXISTS jobs_message_id ON jobs(message_id);
`

// OpenSQLite opens (creating if needed) the store at path.
func OpenSQLite(ctx context.Context, path string) (*SQLite, error) {
	if err := safefile.MkdirAll(filepath.Dir(path)); err != nil {
		return nil, err
	}
	// _txlock=immediate: every transaction takes the write lock at BEGIN, so two processes (the
	// service and a CLI command) never deadlock upgrading a read lock.
	dsn := "file:" + filepath.ToSlash(path) + "?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(15000)&_pragma=foreign_keys(1)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open job store %s: %w", path, err)
	}
	// One connection: one writer, and no surprise of a second connection without the pragmas.
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("create job store schema: %w", err)
	}
	if err := migrate(ctx, db); err != nil {
		db.Close()
		return nil, err
	}
	if err := restrictFiles(path); err != nil {
		db.Close()
		return nil, err
	}
	return &SQLite{db: db}, nil
}

// Close closes the database.
func (s *SQLite) Close() error { return s.db.Close() }

const columns = `id, input, box, source_name, sha256, size, has_sidecar, state, tries, next_attempt,
	last_error, server_reply, message_id, dsn, reading, route, print_job, print_user,
	created_at, updated_at, sent_at, first_try_at, delivery, delivery_detail`

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

func args(j *Job) []any {
	return []any{j.ID, j.Input, j.Box, j.SourceName, j.SHA256, j.Size, j.HasSidecar, string(j.State), j.Tries, ms(j.NextAttempt),
		j.LastError, j.ServerReply, j.MessageID, j.DSN, string(j.Reading), string(j.Route), j.PrintJob, j.PrintUser,
		ms(j.CreatedAt), ms(j.UpdatedAt), ms(j.SentAt), ms(j.FirstTryAt), j.Delivery, j.DeliveryDetail}
}

type scanner interface{ Scan(dest ...any) error }

func scanJob(r scanner) (Job, error) {
	var j Job
	var state, reading, route string
	var next, created, updated, sent, first int64
	err := r.Scan(&j.ID, &j.Input, &j.Box, &j.SourceName, &j.SHA256, &j.Size, &j.HasSidecar, &state, &j.Tries, &next,
		&j.LastError, &j.ServerReply, &j.MessageID, &j.DSN, &reading, &route, &j.PrintJob, &j.PrintUser,
		&created, &updated, &sent, &first, &j.Delivery, &j.DeliveryDetail)
	if err != nil {
		return Job{}, err
	}
	j.State = State(state)
	j.NextAttempt, j.CreatedAt, j.UpdatedAt, j.SentAt, j.FirstTryAt = fromMS(next), fromMS(created), fromMS(updated), fromMS(sent), fromMS(first)
	if reading != "" {
		j.Reading = []byte(reading)
	}
	if route != "" {
		j.Route = []byte(route)
	}
	return j, nil
}

// Create inserts a new job.
func (s *SQLite) Create(ctx context.Context, j Job) error {
	now := time.Now().UTC()
	if j.CreatedAt.IsZero() {
		j.CreatedAt = now
	}
	j.UpdatedAt = now
	if j.ID == "" || j.MessageID == "" || j.State == "" {
		return fmt.Errorf("create job: id, message id and state are required")
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO jobs (`+columns+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`, args(&j)...)
	if err != nil {
		return fmt.Errorf("create job %s: %w", j.ID, err)
	}
	return nil
}

// Get reads one job.
func (s *SQLite) Get(ctx context.Context, id string) (Job, error) {
	j, err := scanJob(s.db.QueryRowContext(ctx, `SELECT `+columns+` FROM jobs WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Job{}, fmt.Errorf("job %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Job{}, fmt.Errorf("read job %s: %w", id, err)
	}
	return j, nil
}

// Update changes a job in one transaction. fn's error aborts it and is returned as is.
func (s *SQLite) Update(ctx context.Context, id string, fn func(*Job) error) (Job, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return Job{}, fmt.Errorf("update job %s: %w", id, err)
	}
	defer tx.Rollback()
	j, err := scanJob(tx.QueryRowContext(ctx, `SELECT `+columns+` FROM jobs WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Job{}, fmt.Errorf("job %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Job{}, fmt.Errorf("update job %s: %w", id, err)
	}
	if err := fn(&j); err != nil {
		return Job{}, err
	}
	j.UpdatedAt = time.Now().UTC()
	a := args(&j)
	_, err = tx.ExecContext(ctx, `UPDATE jobs SET input=?, box=?, source_name=?, sha256=?, size=?, has_sidecar=?, state=?, tries=?,
		next_attempt=?, last_error=?, server_reply=?, message_id=?, dsn=?, reading=?, route=?, print_job=?, print_user=?,
		created_at=?, updated_at=?, sent_at=?, first_try_at=?, delivery=?, delivery_detail=? WHERE id=?`, append(a[1:], j.ID)...)
	if err != nil {
		return Job{}, fmt.Errorf("update job %s: %w", id, err)
	}
	if err := tx.Commit(); err != nil {
		return Job{}, fmt.Errorf("commit job %s: %w", id, err)
	}
	return j, nil
}

// List returns jobs matching f, newest first.
func (s *SQLite) List(ctx context.Context, f Filter) ([]Job, error) {
	var where []string
	var a []any
	if len(f.States) > 0 {
		ph := make([]string, len(f.States))
		for i, st := range f.States {
			ph[i] = "?"
			a = append(a, string(st))
		}
		where = append(where, "state IN ("+strings.Join(ph, ",")+")")
	}
	if f.Input != "" {
		where = append(where, "input = ?")
		a = append(a, f.Input)
	}
	if f.Box != "" {
		where = append(where, "box = ?")
		a = append(a, f.Box)
	}
	q := `SELECT ` + columns + ` FROM jobs`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY created_at DESC, id DESC"
	if f.Limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", f.Limit)
	}
	return s.query(ctx, q, a...)
}

// Due lists jobs in state whose time has come, oldest first.
func (s *SQLite) Due(ctx context.Context, state State, now time.Time, limit int) ([]Job, error) {
	if limit <= 0 {
		limit = 100
	}
	// Only what dispatching needs: reading every column (the reading and route JSON) of the
	// jobs in flight at every wake-up was the largest source of allocations in a burst.
	rows, err := s.db.QueryContext(ctx, `SELECT id, box, state, next_attempt FROM jobs WHERE state = ? AND next_attempt <= ? ORDER BY next_attempt, created_at, id LIMIT ?`,
		string(state), ms(now), limit)
	if err != nil {
		return nil, fmt.Errorf("due jobs: %w", err)
	}
	defer rows.Close()
	var out []Job
	for rows.Next() {
		var j Job
		var st string
		var next int64
		if err := rows.Scan(&j.ID, &j.Box, &st, &next); err != nil {
			return nil, fmt.Errorf("due jobs: %w", err)
		}
		j.State, j.NextAttempt = State(st), fromMS(next)
		out = append(out, j)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("due jobs: %w", err)
	}
	return out, nil
}

func (s *SQLite) query(ctx context.Context, q string, a ...any) ([]Job, error) {
	rows, err := s.db.QueryContext(ctx, q, a...)
	if err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	defer rows.Close()
	var out []Job
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, fmt.Errorf("list jobs: %w", err)
		}
		out = append(out, j)
	}
	return out, rows.Err()
}

// Counts returns the number of jobs per state, box and input.
func (s *SQLite) Counts(ctx context.Context) ([]Count, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT state, box, input, COUNT(*) FROM jobs GROUP BY state, box, input ORDER BY state, box, input`)
	if err != nil {
		return nil, fmt.Errorf("count jobs: %w", err)
	}
	defer rows.Close()
	var out []Count
	for rows.Next() {
		var c Count
		var st string
		if err := rows.Scan(&st, &c.Box, &c.Input, &c.N); err != nil {
			return nil, fmt.Errorf("count jobs: %w", err)
		}
		c.State = State(st)
		out = append(out, c)
	}
	return out, rows.Err()
}

// NewID returns a job id that sorts by creation time and is readable by IT staff:
// 20261123-230501-3f9a2c1b.
func NewID(now time.Time) string {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return now.UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b[:])
}

// NewMessageID returns the Message-ID for a job, fixed before the first try so that a retry or
// a resend after a crash carries the same one.
func NewMessageID(jobID, domain string) string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	if domain == "" {
		domain = "mssbridge.invalid"
	}
	return "<" + jobID + "." + hex.EncodeToString(b[:]) + "@" + domain + ">"
}

// Forget removes a job still in state claiming.
func (s *SQLite) Forget(ctx context.Context, id string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM jobs WHERE id = ? AND state = ?`, id, string(StateClaiming))
	if err != nil {
		return fmt.Errorf("forget job %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("forget job %s: not an abandoned claim", id)
	}
	return nil
}

// Reschedule moves to "to" the jobs in state whose next attempt is after "after".
func (s *SQLite) Reschedule(ctx context.Context, state State, after, to time.Time) (int, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE jobs SET next_attempt = ? WHERE state = ? AND next_attempt > ?`, ms(to), string(state), ms(after))
	if err != nil {
		return 0, fmt.Errorf("reschedule %s jobs: %w", state, err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// NextAttempt is the earliest next attempt after now among the jobs in state.
func (s *SQLite) NextAttempt(ctx context.Context, state State, now time.Time) (time.Time, bool, error) {
	var next sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT MIN(next_attempt) FROM jobs WHERE state = ? AND next_attempt > ?`, string(state), ms(now)).Scan(&next)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("next attempt of %s jobs: %w", state, err)
	}
	if !next.Valid {
		return time.Time{}, false, nil
	}
	return fromMS(next.Int64), true, nil
}
