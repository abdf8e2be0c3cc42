// Package bridge is the pipeline: it claims documents from the inputs into the job store, reads
// them, routes them, sends them, and puts what it is not sure of in held/ and what failed in
// failed/, with every state change in the store and in the audit journal. It survives a crash
// at any moment: a restart finishes or repeats each step, with the same Message-ID.
package bridge

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/mssbridge/mssbridge/audit"
	"github.com/mssbridge/mssbridge/config"
	"github.com/mssbridge/mssbridge/inbound"
	"github.com/mssbridge/mssbridge/mail"
	"github.com/mssbridge/mssbridge/reading"
	"github.com/mssbridge/mssbridge/routing"
	"github.com/mssbridge/mssbridge/safefile"
	"github.com/mssbridge/mssbridge/store"
	"github.com/mssbridge/mssbridge/trust"
	"github.com/mssbridge/mssbridge/watcher"
)

// DocumentReader reads a claimed document.
type DocumentReader interface {
	Read(ctx context.Context, pdfPath, sidecarPath string) (reading.Result, error)
}

// Sender submits a message for one box.
type Sender interface {
	Send(ctx context.Context, env mail.Envelope) (mail.Result, error)
	Close() error
}

// Options are what Open needs. Everything flows down from here; there is no global state.
type Options struct {
	Config *config.Config
	Logger *slog.Logger
	Reader DocumentReader
	// Senders by box id; when nil, Open builds mutual-TLS SMTP clients from the configuration.
	Senders map[string]Sender
	// OnEvent, when set, sees every journal entry (the demo prints deliveries with it).
	OnEvent func(audit.Entry)
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// ParseXDM reads an IHE XDM package received with a document (nil: not read).
	ParseXDM func(zip []byte) (*inbound.PackageMeta, error)
}

// Bridge runs the pipeline over one data_dir.
type Bridge struct {
	cfg      *config.Config
	log      *slog.Logger
	store    store.Store
	journal  *audit.Journal
	reader   DocumentReader
	router   *routing.Router
	trust    *trust.Space
	senders  map[string]Sender
	onEvent  func(audit.Entry)
	now      func() time.Time
	parseXDM func(zip []byte) (*inbound.PackageMeta, error)

	dirs dirs

	wake     chan struct{}
	mu       sync.Mutex
	inflight map[string]bool
	// stalled: jobs a worker left where they were (the store could not take their next state:
	// a full disk), not offered again before the time given, so that a failing write does
	// not spin.
	stalled map[string]time.Time

	// leftover: the jobs in state claiming or sending when this bridge opened, before it
	// could make any. What Recover finishes is what a previous process left; a job this
	// process (the print listener, say) works on since is not its business. IDs, not times:
	// a clock stepped back would make a time comparison skip a left job.
	leftover map[string]bool
}

type dirs struct{ spool, held, failed, sent, rejected string }

// Open opens the store and the journal, and finishes what a crash interrupted.
func Open(ctx context.Context, o Options) (*Bridge, error) {
	cfg := o.Config
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	sp, err := trust.Load(cfg.Trust.DomainsFile)
	if err != nil {
		return nil, fmt.Errorf("trust space: %w", err)
	}
	b := &Bridge{
		cfg: cfg, log: o.Logger, reader: o.Reader, trust: sp,
		router:   routing.New(cfg.Routing, cfg.Boxes, sp),
		onEvent:  o.OnEvent,
		parseXDM: o.ParseXDM,
		now:      o.Now,
		wake:     make(chan struct{}, 1),
		inflight: map[string]bool{},
		stalled:  map[string]time.Time{},
		dirs: dirs{
			spool:    filepath.Join(cfg.DataDir, "spool"),
			held:     filepath.Join(cfg.DataDir, "held"),
			failed:   filepath.Join(cfg.DataDir, "failed"),
			sent:     filepath.Join(cfg.DataDir, "sent"),
			rejected: filepath.Join(cfg.DataDir, "rejected"),
		},
	}
	for _, d := range []string{cfg.DataDir, b.dirs.spool, b.dirs.held, b.dirs.failed, b.dirs.sent, b.dirs.rejected} {
		if err := safefile.MkdirAll(d); err != nil {
			return nil, err
		}
	}
	b.store, err = store.OpenSQLite(ctx, filepath.Join(cfg.DataDir, "jobs.db"))
	if err != nil {
		return nil, err
	}
	left, err := b.store.List(ctx, store.Filter{States: []store.State{store.StateClaiming, store.StateSending}})
	if err != nil {
		b.store.Close()
		return nil, err
	}
	b.leftover = map[string]bool{}
	for _, j := range left {
		b.leftover[j.ID] = true
	}
	b.journal, err = audit.Open(filepath.Join(cfg.DataDir, "audit", "journal.jsonl"))
	if err != nil {
		b.store.Close()
		return nil, fmt.Errorf("open audit journal: %w", err)
	}
	if b.parseXDM == nil {
		b.parseXDM = ParseXDM
	}
	b.senders = o.Senders
	if b.senders == nil {
		b.senders = map[string]Sender{}
		for _, box := range cfg.Boxes {
			ep, err := SMTPEndpoint(box, cfg.Sending)
			if err != nil {
				b.Close()
				return nil, fmt.Errorf("box %s: %w", box.ID, err)
			}
			b.senders[box.ID] = mail.NewClient(ep, cfg.Sending.Connections)
		}
	}
	return b, nil
}

// SMTPEndpoint turns a box's configuration into a mail endpoint.
func SMTPEndpoint(box config.Box, s config.Sending) (mail.Endpoint, error) {
	e := box.SMTP
	tc, pw, err := credentials(e)
	return mail.Endpoint{Host: e.Host, Port: e.Port, Security: mail.Security(e.Security), Username: e.Username,
		Password: pw, TLS: tc, Timeout: s.Timeout}, err
}

// credentials loads what an endpoint authenticates with: the TLS configuration (trust anchors
// and client certificate; none for a loopback plaintext peer) and the password, if any.
func credentials(e config.Endpoint) (*tls.Config, string, error) {
	var tc *tls.Config
	if e.Security != "none" {
		var err error
		if tc, err = mail.TLSConfig(e.Host, e.CAFile, e.CertFile, e.KeyFile); err != nil {
			return nil, "", err
		}
	}
	if e.PasswordFile == "" {
		return tc, "", nil
	}
	pw, err := os.ReadFile(e.PasswordFile)
	if err != nil {
		return nil, "", fmt.Errorf("read password_file: %w", err)
	}
	return tc, strings.TrimRight(string(pw), "\r\n"), nil
}

// Store exposes the job store to the CLI's read-only commands.
func (b *Bridge) Store() store.Store { return b.store }

// HeldDir and FailedDir are the folders a user sees.
func (b *Bridge) HeldDir() string   { return b.dirs.held }
func (b *Bridge) FailedDir() string { return b.dirs.failed }

// Close releases the store, the journal and the SMTP connections.
func (b *Bridge) Close() error {
	for _, s := range b.senders {
		s.Close()
	}
	var errs []error
	if b.journal != nil {
		errs = append(errs, b.journal.Close())
	}
	if b.store != nil {
		errs = append(errs, b.store.Close())
	}
	return errors.Join(errs...)
}

func (b *Bridge) signal() {
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// record appends to the journal. A journal that cannot be written stops the job's progress:
// an exchange that is not traced must not happen.
func (b *Bridge) record(ctx context.Context, j store.Job, event string, detail map[string]string) error {
	e, err := b.journal.Append(ctx, audit.Entry{
		Event: event, Job: j.ID, Input: j.Input, Box: j.Box, Actor: actorOf(ctx),
		DocSHA256: j.SHA256, MessageID: j.MessageID, Detail: detail,
	})
	if err != nil {
		b.log.Error("audit journal append failed", "job", j.ID, "event", event, "err", err)
		return fmt.Errorf("audit %s %s: %w", event, j.ID, err)
	}
	if b.onEvent != nil {
		b.onEvent(e)
	}
	return nil
}

type actorKey struct{}

// WithActor names who acts (a CLI user, a desk login) for the journal; the pipeline itself is
// "mssbridge".
func WithActor(ctx context.Context, actor string) context.Context {
	return context.WithValue(ctx, actorKey{}, actor)
}

func actorOf(ctx context.Context) string {
	if a, ok := ctx.Value(actorKey{}).(string); ok && a != "" {
		return a
	}
	return "mssbridge"
}

// docPath is where the job's document lives while in flight.
func (b *Bridge) docPath(dir string, j store.Job) string {
	return filepath.Join(dir, j.ID+docExt(j.SourceName))
}

func sidecarPath(dir string, j store.Job) string { return filepath.Join(dir, j.ID+".source.json") }

// docExt keeps ".pdf" for PDFs; anything else dropped in an input keeps its own extension
// behind ".original", so it can never collide with the job's own JOBID.json.
func docExt(name string) string {
	ext := strings.ToLower(filepath.Ext(name))
	if ext == ".pdf" {
		return ".pdf"
	}
	if ext == "" || len(ext) > 8 || strings.ContainsAny(ext, " \\/") {
		return ".original"
	}
	return ".original" + ext
}

// Claim takes a complete file from an input into the job store. The row is created first in
// state claiming, then the files are moved; a crash in between is finished by Recover.
func (b *Bridge) Claim(ctx context.Context, r watcher.Ready) error {
	in, ok := b.cfg.Input(r.InputID)
	if !ok {
		return fmt.Errorf("claim: unknown input %q", r.InputID)
	}
	box, _ := b.cfg.Box(in.Box)
	now := b.now()
	id := store.NewID(now)
	j := store.Job{
		ID: id, Input: in.ID, Box: in.Box, SourceName: filepath.Base(r.Path), HasSidecar: r.Sidecar != "",
		State: store.StateClaiming, MessageID: store.NewMessageID(id, trust.Domain(box.Address)), CreatedAt: now,
	}
	if err := b.store.Create(ctx, j); err != nil {
		return fmt.Errorf("claim %s: %w", id, err)
	}
	if err := b.finishClaim(ctx, j, filepath.Dir(r.Path), r.Folder); err != nil {
		// Nothing moved (the file is still in the input, none in the spool): forget the row,
		// the watcher offers the file again later under a new job.
		if _, serr := os.Stat(r.Path); serr == nil {
			if _, derr := os.Stat(b.docPath(b.dirs.spool, j)); errors.Is(derr, os.ErrNotExist) {
				b.store.Forget(context.WithoutCancel(ctx), id)
			}
		}
		return fmt.Errorf("claim %s: %w", id, err)
	}
	b.signal()
	return nil
}

// finishClaim moves the files of a job in state claiming into the spool (idempotent), then
// marks it claimed. listed is the input folder as the watcher listed it, nil when unknown.
func (b *Bridge) finishClaim(ctx context.Context, j store.Job, srcDir string, listed fs.FileInfo) error {
	src := filepath.Join(srcDir, j.SourceName)
	dst := b.docPath(b.dirs.spool, j)
	if j.HasSidecar {
		side := strings.TrimSuffix(src, filepath.Ext(src)) + ".json"
		if err := moveIfPresent(side, sidecarPath(b.dirs.spool, j)); err != nil {
			return err
		}
	}
	if err := moveIfPresent(src, dst); err != nil {
		return err
	}
	if _, err := os.Stat(dst); err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("claimed document in the spool: %w", err) // there, but unreadable now
		}
		cur, derr := os.Stat(srcDir)
		if safefile.IsGone(derr) || derr == nil && listed != nil && !os.SameFile(listed, cur) {
			if _, serr := os.Stat(sidecarPath(b.dirs.spool, j)); errors.Is(serr, os.ErrNotExist) {
				// The whole input folder is gone, or another folder stands at its path (a share
				// unmounted, its empty mount point left), not the document: it is still on the
				// share, and claimed anew, under a new job, when the folder is back.
				if ferr := b.store.Forget(context.WithoutCancel(ctx), j.ID); ferr != nil {
					return ferr
				}
				return fmt.Errorf("input folder unavailable, the document waits on it: %w", derr)
			}
		}
		// Neither in the input nor in the spool: someone took it back before we could. Said
		// in failed/ too, where a person looks.
		reason := "Le fichier a disparu du dossier de dépôt avant d'avoir pu être pris en charge"
		fj, uerr := b.store.Update(ctx, j.ID, func(x *store.Job) error {
			x.State, x.LastError = store.StateFailed, reason
			return nil
		})
		if uerr == nil {
			uerr = writeJobJSON(b.dirs.failed, fj, "failed", b.now(), map[string]any{"last_error": reason, "tries": 0})
			b.record(ctx, fj, "failed", map[string]string{"reason": "vanished"})
		}
		return errors.Join(fmt.Errorf("document vanished: %w", err), uerr)
	}
	sum, size, err := hashFile(dst)
	if err != nil {
		return err
	}
	j, err = b.store.Update(ctx, j.ID, func(x *store.Job) error {
		x.State = store.StateClaimed
		x.SHA256, x.Size = sum, size
		return nil
	})
	if err != nil {
		return err
	}
	b.log.Info("document claimed", "job", j.ID, "input", j.Input, "bytes", size)
	return b.record(ctx, j, "claimed", map[string]string{"size": fmt.Sprint(size), "sidecar": fmt.Sprint(j.HasSidecar)})
}

func moveIfPresent(src, dst string) error {
	if _, err := os.Stat(dst); err == nil {
		// Already moved (a previous attempt crashed after the move): drop a leftover source copy.
		if _, serr := os.Stat(src); serr == nil {
			if sameFile(src, dst) {
				return nil
			}
			return os.Remove(src)
		}
		return nil
	}
	err := safefile.Move(src, dst)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

func sameFile(a, b string) bool {
	sa, err1 := os.Stat(a)
	sb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(sa, sb)
}

func hashFile(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// leftByEarlierRun: the job was claiming or sending when this bridge opened.
func (b *Bridge) leftByEarlierRun(j store.Job) bool { return b.leftover[j.ID] }

// Recover finishes what a crash interrupted: claims half done, sends in flight.
//
// Only the running service calls it: a CLI command opening the same data_dir must not touch
// files the service may be writing.
func (b *Bridge) Recover(ctx context.Context) error {
	for _, d := range []string{b.dirs.spool, b.dirs.held, b.dirs.failed, b.dirs.rejected} {
		safefile.CleanTemp(d)
	}
	claiming, err := b.store.List(ctx, store.Filter{States: []store.State{store.StateClaiming}})
	if err != nil {
		return err
	}
	for _, j := range claiming {
		if !b.leftByEarlierRun(j) {
			continue
		}
		in, ok := b.cfg.Input(j.Input)
		srcDir := b.dirs.spool
		if ok {
			srcDir = in.Path
		}
		if err := b.finishClaim(ctx, j, srcDir, nil); err != nil {
			// The error names the dropped file, and file names carry patients' names: log
			// only its cause.
			b.log.Error("recover claim", "job", j.ID, "err", errorCause(err))
		}
	}
	sending, err := b.store.List(ctx, store.Filter{States: []store.State{store.StateSending}})
	if err != nil {
		return err
	}
	for _, j := range sending {
		if !b.leftByEarlierRun(j) {
			continue
		}
		// It may have reached the server: sending it again, with the same Message-ID, is the
		// price of never losing it.
		if _, err := b.store.Update(ctx, j.ID, func(x *store.Job) error {
			x.State = store.StateRouted
			x.NextAttempt = time.Time{}
			return nil
		}); err != nil {
			return err
		}
		b.log.Info("send interrupted by a stop, will send again with the same Message-ID", "job", j.ID)
	}
	b.settleClock(ctx) // the clock may have gone back while the bridge was stopped
	return nil
}

// errorCause strips the file names from an error for the log: the system's own cause of a
// path error, or the error's type otherwise.
func errorCause(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Op + ": " + pe.Err.Error()
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Op + ": " + le.Err.Error()
	}
	return fmt.Sprintf("%T", errors.Unwrap(err))
}
