package inbound

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/mssbridge/mssbridge/imapbox"
	"github.com/mssbridge/mssbridge/safefile"
	"github.com/mssbridge/mssbridge/store"
)

// Ledger records each received message before anything is done with it.
type Ledger interface {
	GetReceived(ctx context.Context, box, mailbox string, uidValidity, uid uint32) (store.Received, bool, error)
	ReceivedByMessageID(ctx context.Context, box, messageID string) (store.Received, bool, error)
	PutReceived(ctx context.Context, r store.Received) error
}

// Notifier applies a delivery report to the job that sent the message. It returns the job id,
// or store.ErrNotFound when no job matches.
type Notifier interface {
	ApplyReport(ctx context.Context, box string, r Report) (jobID string, err error)
}

// Options configure one box's inbox.
type Options struct {
	Box           string // box id
	Endpoint      imapbox.Endpoint
	Mailbox       string // INBOX
	Processed     string // server folder for handled messages ("" with FlagOnly)
	Quarantine    string // server folder for refused messages
	FlagOnly      bool   // keyword instead of move, when the operator allows no folders
	ImportDir     string
	QuarantineDir string // local copy of refused messages, with the reason
	MaxMessage    int64  // bytes; bigger messages are quarantined unread
	Limits        Limits
	Ledger        Ledger
	Notifier      Notifier
	ParseXDM      func(zip []byte) (*PackageMeta, error) // nil: XDM packages are not read
	Logger        *slog.Logger
	// IdleMax bounds one IDLE (or poll sleep) before a health check.
	IdleMax time.Duration
}

// DoneFlag marks handled messages when FlagOnly is set.
const DoneFlag = "$MSSBridgeDone"

// Run receives until ctx ends, reconnecting with backoff after every error.
func Run(ctx context.Context, o Options) error {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.IdleMax <= 0 {
		// Well under the 29 minutes after which servers may drop an IDLE (RFC 2177), and
		// short enough that a dead connection is noticed within minutes.
		o.IdleMax = 4 * time.Minute
	}
	if o.Limits == (Limits{}) {
		o.Limits = DefaultLimits
	}
	if o.MaxMessage <= 0 {
		o.MaxMessage = 40 << 20
	}
	// The import folder is made here, once: a deposit never re-creates it (see deposit), so
	// a share that is unmounted or a folder deleted while running keeps the mail on the
	// server instead of filling a folder the clinical software does not read.
	if err := safefile.MkdirAll(o.ImportDir); err != nil {
		o.Logger.Warn("import folder cannot be created; received mail stays on the server", "box", o.Box, "err", err)
	}
	// Temporary files a crash left mid-deposit: never half a document in the import folder.
	if n, err := safefile.CleanTemp(o.ImportDir); err == nil && n > 0 {
		o.Logger.Info("removed temporary files left by an interrupted deposit", "box", o.Box, "files", n)
	}
	delay := time.Second
	for {
		err := session(ctx, o)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, imapbox.ErrUntrustedServer) {
			// Nothing was sent to that server, not even the password; an operator must act.
			o.Logger.Error("the IMAP server's certificate is not trusted; mail stays on the server", "box", o.Box, "in", delay.String(), "err", err)
		} else {
			o.Logger.Warn("inbox connection lost, reconnecting", "box", o.Box, "in", delay.String(), "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(delay):
		}
		// 1 s doubling to 5 min: quick after a blip, gentle on an operator that is down.
		delay = min(delay*2, 5*time.Minute)
	}
}

func session(ctx context.Context, o Options) error {
	cn, err := imapbox.Dial(ctx, o.Endpoint, o.Mailbox)
	if err != nil {
		return err
	}
	defer cn.Close()
	o.Logger.Info("inbox connected", "box", o.Box, "idle", cn.CanIdle())
	for {
		skip := ""
		if o.FlagOnly {
			skip = DoneFlag
		}
		msgs, err := cn.List(ctx, skip)
		if err != nil {
			return err
		}
		for _, m := range msgs {
			if err := handle(ctx, o, cn, m); err != nil {
				return err
			}
		}
		if err := cn.Wait(ctx, o.IdleMax); err != nil {
			return err
		}
	}
}

func newID(now time.Time) string {
	var b [4]byte
	rand.Read(b[:])
	return "R" + now.UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b[:])
}

// handle processes one message exactly once: it is recorded in the ledger before anything is
// written, deposited under names derived from the record, then moved; a crash anywhere is
// finished by the next pass without a second copy.
func handle(ctx context.Context, o Options, cn *imapbox.Conn, m imapbox.Message) error {
	uv := cn.UIDValidity()
	rec, known, err := o.Ledger.GetReceived(ctx, o.Box, o.Mailbox, uv, m.UID)
	if err != nil {
		return err
	}
	if known && (rec.State == "deposited" || rec.State == "done") {
		return finish(ctx, o, cn, m.UID, rec)
	}
	now := time.Now()
	if !known {
		rec = store.Received{ID: newID(now), Box: o.Box, Mailbox: o.Mailbox, UIDValidity: uv, UID: m.UID, State: "fetched", CreatedAt: now.UTC()}
	}
	if m.Size > o.MaxMessage {
		rec.Kind, rec.Reason = "quarantine", fmt.Sprintf("Message trop volumineux (%d Mo, limite %d Mo) : non téléchargé", m.Size>>20, o.MaxMessage>>20)
		if err := o.Ledger.PutReceived(ctx, rec); err != nil {
			return err
		}
		return quarantine(ctx, o, cn, m.UID, rec, nil)
	}
	raw, err := cn.Fetch(ctx, m.UID)
	if errors.Is(err, imapbox.ErrGone) {
		return nil
	}
	if err != nil {
		return err
	}
	p, perr := Parse(raw, o.Limits)
	if p != nil {
		rec.MessageID = p.MessageID
	}
	if err := o.Ledger.PutReceived(ctx, rec); err != nil {
		return err
	}
	if perr != nil {
		rec.Kind, rec.Reason = "quarantine", reasonFor(perr)
		return quarantine(ctx, o, cn, m.UID, rec, raw)
	}
	if dup, ok, err := o.Ledger.ReceivedByMessageID(ctx, o.Box, p.MessageID); err != nil {
		return err
	} else if ok && dup.ID != rec.ID && (dup.State == "deposited" || dup.State == "done") {
		rec.Kind, rec.Reason, rec.State = "duplicate", "Même Message-ID que "+dup.ID+" : déjà déposé", "deposited"
		if err := o.Ledger.PutReceived(ctx, rec); err != nil {
			return err
		}
		o.Logger.Info("duplicate message not deposited again", "box", o.Box, "received", rec.ID, "first", dup.ID)
		return finish(ctx, o, cn, m.UID, rec)
	}
	if p.Report != nil && p.Report.Kind != "" {
		rec.Kind = p.Report.Kind
		if o.Notifier != nil {
			job, err := o.Notifier.ApplyReport(ctx, o.Box, *p.Report)
			switch {
			case errors.Is(err, store.ErrNotFound):
				rec.Reason = "Aucun envoi correspondant à cet avis"
			case err != nil:
				return err
			default:
				rec.Job = job
			}
		}
		rec.State = "deposited"
		if err := o.Ledger.PutReceived(ctx, rec); err != nil {
			return err
		}
		o.Logger.Info("notification applied", "box", o.Box, "received", rec.ID, "kind", rec.Kind, "job", rec.Job)
		return finish(ctx, o, cn, m.UID, rec)
	}
	docs, meta, reason := documentsOf(p, o.ParseXDM)
	if reason != "" {
		rec.Kind, rec.Reason = "quarantine", reason
		return quarantine(ctx, o, cn, m.UID, rec, raw)
	}
	files, err := deposit(o.ImportDir, rec.ID, rec.CreatedAt, o.Box, p, docs, meta)
	if err != nil {
		// The import folder is missing or read-only: the message stays on the server and the
		// loop tries again after reconnecting.
		return err
	}
	rec.Kind, rec.State, rec.Files = "document", "deposited", files
	if err := o.Ledger.PutReceived(ctx, rec); err != nil {
		return err
	}
	o.Logger.Info("document received and deposited", "box", o.Box, "received", rec.ID, "files", len(files))
	return finish(ctx, o, cn, m.UID, rec)
}

// documentsOf picks what to deposit: the PDFs and CDA files attached, with the metadata of the
// XDM package when there is one. An XDM package is not deposited as such.
func documentsOf(p *Parsed, parseXDM func([]byte) (*PackageMeta, error)) ([]Attachment, *PackageMeta, string) {
	var docs []Attachment
	var meta *PackageMeta
	for _, a := range p.Attachments {
		switch {
		case isXDM(a):
			if parseXDM == nil {
				continue
			}
			m, err := parseXDM(a.Data)
			if err != nil {
				return nil, nil, "Paquet IHE XDM illisible ou dangereux : " + err.Error()
			}
			meta = m
		case isPDF(a), isCDA(a):
			docs = append(docs, a)
		default:
			// The clinical software imports PDF and CDA documents; anything else (an archive,
			// an executable, an office file) is not dropped into its folder unseen.
			name := SafeName(a.Filename)
			return nil, nil, fmt.Sprintf("Pièce jointe d'un type non pris en charge (%s, %s) : seuls les PDF, les documents CDA et les paquets IHE XDM sont déposés", name, a.ContentType)
		}
	}
	if len(docs) == 0 && meta != nil {
		docs = meta.Documents
	}
	if len(docs) == 0 {
		return nil, nil, "Message sans pièce jointe à déposer"
	}
	return docs, meta, ""
}

func isXDM(a Attachment) bool {
	n := strings.ToUpper(a.Filename)
	return n == "IHE_XDM.ZIP" || (strings.HasSuffix(n, ".ZIP") && strings.Contains(n, "XDM"))
}

func reasonFor(err error) string {
	switch {
	case errors.Is(err, ErrTooComplex):
		return "Structure du message trop profonde ou trop de parties : refusé par prudence"
	case errors.Is(err, ErrTooLarge):
		return "Pièce jointe au-delà de la taille autorisée"
	default:
		return "Message illisible : " + err.Error()
	}
}

// quarantine keeps a local copy with the reason, then moves the message aside on the server.
func quarantine(ctx context.Context, o Options, cn *imapbox.Conn, uid uint32, rec store.Received, raw []byte) error {
	if o.QuarantineDir != "" {
		if raw != nil {
			if err := safefile.WriteFile(filepath.Join(o.QuarantineDir, rec.ID+".eml"), raw); err != nil {
				return err
			}
			rec.Files = []string{rec.ID + ".eml"}
		}
		info, _ := json.MarshalIndent(map[string]any{"received": rec.ID, "box": o.Box, "message_id": rec.MessageID,
			"reason": rec.Reason, "uid": rec.UID, "uidvalidity": rec.UIDValidity, "at": time.Now().UTC().Format(time.RFC3339)}, "", "  ")
		if err := safefile.WriteFile(filepath.Join(o.QuarantineDir, rec.ID+".json"), append(info, '\n')); err != nil {
			return err
		}
	}
	rec.State = "deposited"
	if err := o.Ledger.PutReceived(ctx, rec); err != nil {
		return err
	}
	o.Logger.Warn("received message quarantined", "box", o.Box, "received", rec.ID)
	return finish(ctx, o, cn, uid, rec)
}

// finish takes the message out of the way on the server, then closes the record.
func finish(ctx context.Context, o Options, cn *imapbox.Conn, uid uint32, rec store.Received) error {
	var err error
	switch {
	case o.FlagOnly:
		err = cn.Flag(ctx, uid, DoneFlag)
	case rec.Kind == "quarantine" && o.Quarantine != "":
		err = cn.Move(ctx, uid, o.Quarantine)
	default:
		err = cn.Move(ctx, uid, o.Processed)
	}
	if err != nil {
		return err
	}
	rec.State = "done"
	return o.Ledger.PutReceived(ctx, rec)
}

// isPDF: a PDF by its content, whatever the sender called it.
func isPDF(a Attachment) bool {
	return bytes.HasPrefix(bytes.TrimLeft(a.Data[:min(len(a.Data), 1024)], "\r\n\t \xef\xbb\xbf"), []byte("%PDF-"))
}

// isCDA: an XML document whose root is an HL7 CDA ClinicalDocument.
func isCDA(a Attachment) bool {
	head := a.Data[:min(len(a.Data), 4096)]
	return (strings.Contains(a.ContentType, "xml") || strings.HasSuffix(strings.ToLower(a.Filename), ".xml")) &&
		bytes.Contains(head, []byte("ClinicalDocument")) && bytes.Contains(head, []byte("urn:hl7-org:v3"))
}
