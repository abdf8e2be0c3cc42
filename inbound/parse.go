// Package inbound is the receiving side: it takes what arrives in a box's IMAP mailbox, exactly
// once, deposits each document with a metadata sidecar into the clinical software's import
// folder, turns delivery notifications (DSN) and read receipts (MDN) into updates of the jobs
// that sent them, and quarantines what it cannot trust, with a reason.
package inbound

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/textproto"
	"strings"
	"time"

	_ "github.com/emersion/go-message/charset" // legacy charsets in headers and bodies
	gomail "github.com/emersion/go-message/mail"

	"github.com/emersion/go-message"
)

// Limits bound what a message may cost; past them it is quarantined.
type Limits struct {
	MaxAttachment int64 // bytes per attachment
	MaxParts      int   // MIME parts in all
	MaxDepth      int   // multipart nesting
}

// DefaultLimits: operators cap messages around 20-30 MB; real clinical mail has a handful of
// parts nested two or three deep, so 200 parts and 10 levels leave room for odd clients while
// refusing a bomb.
var DefaultLimits = Limits{MaxAttachment: 30 << 20, MaxParts: 200, MaxDepth: 10}

// Attachment is one file carried by a message.
type Attachment struct {
	Filename    string // decoded, not yet sanitised
	ContentType string
	Data        []byte
}

// Parsed is what a message says.
type Parsed struct {
	MessageID   string
	From        string
	To          []string
	Cc          []string
	Subject     string
	Date        time.Time
	Body        string
	Attachments []Attachment
	Report      *Report // a DSN or MDN
	Headers     map[string]string
}

// Report is a delivery status notification or a read receipt.
type Report struct {
	Kind               string // "dsn" or "mdn"
	OriginalEnvelopeID string
	OriginalMessageID  string
	Recipients         []RecipientStatus // DSN
	Disposition        string            // MDN: displayed, deleted, processed…
}

// RecipientStatus is one DSN per-recipient block.
type RecipientStatus struct {
	Recipient  string
	Action     string // delivered, failed, delayed, relayed, expanded
	Status     string // 5.1.1
	Diagnostic string
}

// ErrTooComplex and ErrTooLarge mark messages to quarantine.
var (
	ErrTooComplex = errors.New("message structure too deep or with too many parts")
	ErrTooLarge   = errors.New("attachment over the size limit")
)

// Parse reads a whole message.
func Parse(raw []byte, lim Limits) (*Parsed, error) {
	src := bytes.NewReader(raw)
	ent, err := message.Read(src)
	if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
		return nil, fmt.Errorf("read message: %w", err)
	}
	h := gomail.Header{Header: ent.Header}
	p := &Parsed{Headers: map[string]string{}}
	p.MessageID = strings.TrimSpace(ent.Header.Get("Message-Id"))
	if from, err := h.AddressList("From"); err == nil && len(from) > 0 {
		p.From = strings.ToLower(from[0].Address)
	}
	p.To = addresses(h, "To")
	p.Cc = addresses(h, "Cc")
	if s, err := h.Subject(); err == nil {
		p.Subject = s
	}
	if d, err := h.Date(); err == nil {
		p.Date = d
	}
	for _, k := range []string{"X-MSS-MES", "Disposition-Notification-To", "In-Reply-To", "References", "Auto-Submitted"} {
		if v := ent.Header.Get(k); v != "" {
			p.Headers[k] = v
		}
	}
	w := walker{lim: lim, p: p, src: src}
	if err := w.walk(ent, 0); err != nil {
		return p, err
	}
	return p, nil
}

func addresses(h gomail.Header, key string) []string {
	list, err := h.AddressList(key)
	if err != nil {
		return nil
	}
	out := make([]string, 0, len(list))
	for _, a := range list {
		out = append(out, strings.ToLower(a.Address))
	}
	return out
}

type walker struct {
	lim   Limits
	p     *Parsed
	parts int
	src   *bytes.Reader // the raw message, for the size of what is left to read
}

// firstRead is what any part is read into first; a part longer than that is big, and gets
// one buffer sized from the raw message left (see readBody).
const firstRead = 64 << 10

// readBody reads a part's decoded body, up to limit+1 bytes. io.ReadAll grows its buffer by a
// quarter each time: a 50 MB attachment cost 112 MB of allocations and held two copies at
// each growth. A part's decoded size is at most what is left of the raw message (three
// quarters of it in base64), so a big part gets one buffer of that size, capped by the
// limit; small parts never see a big buffer.
func (w *walker) readBody(e *message.Entity, limit int64) ([]byte, error) {
	r := io.LimitReader(e.Body, limit+1)
	buf := make([]byte, 0, firstRead)
	sized := false
	for {
		if len(buf) == cap(buf) {
			if !sized {
				sized = true
				left := int64(w.src.Len())
				if strings.EqualFold(strings.TrimSpace(e.Header.Get("Content-Transfer-Encoding")), "base64") {
					left = left/4*3 + 3
				}
				if size := min(int64(len(buf))+left+1, limit+1); size > int64(cap(buf)) {
					grown := make([]byte, len(buf), size)
					copy(grown, buf)
					buf = grown
				}
			}
			if len(buf) == cap(buf) {
				buf = append(buf, 0)[:len(buf)] // the estimate fell short: grow as append does
			}
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

func (w *walker) walk(e *message.Entity, depth int) error {
	w.parts++
	if w.parts > w.lim.MaxParts || depth > w.lim.MaxDepth {
		return ErrTooComplex
	}
	mt, params, _ := e.Header.ContentType()
	mt = strings.ToLower(mt)
	if mr := e.MultipartReader(); mr != nil {
		if mt == "multipart/report" {
			w.p.Report = &Report{}
			switch strings.ToLower(params["report-type"]) {
			case "delivery-status":
				w.p.Report.Kind = "dsn"
			case "disposition-notification":
				w.p.Report.Kind = "mdn"
			}
		}
		for {
			part, err := mr.NextPart()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				if message.IsUnknownCharset(err) {
					if err := w.walk(part, depth+1); err != nil {
						return err
					}
					continue
				}
				return fmt.Errorf("read part: %w", err)
			}
			if err := w.walk(part, depth+1); err != nil {
				return err
			}
		}
	}
	data, err := w.readBody(e, w.lim.MaxAttachment)
	if err != nil {
		return fmt.Errorf("read part: %w", err)
	}
	if int64(len(data)) > w.lim.MaxAttachment {
		return ErrTooLarge
	}
	disp, dparams, _ := e.Header.ContentDisposition()
	name := Filename(e.Header.Get("Content-Disposition"), dparams, e.Header.Get("Content-Type"), params)
	switch {
	case mt == "message/delivery-status" || mt == "message/global-delivery-status":
		if w.p.Report == nil {
			w.p.Report = &Report{Kind: "dsn"}
		}
		parseDeliveryStatus(data, w.p.Report)
	case mt == "message/disposition-notification" || mt == "message/global-disposition-notification":
		if w.p.Report == nil {
			w.p.Report = &Report{Kind: "mdn"}
		}
		parseDisposition(data, w.p.Report)
	case (mt == "text/rfc822-headers" || mt == "message/rfc822" || mt == "message/global-headers") && w.p.Report != nil:
		if r, err := textproto.NewReader(bufio.NewReader(bytes.NewReader(data))).ReadMIMEHeader(); err == nil || len(r) > 0 {
			if id := strings.TrimSpace(r.Get("Message-Id")); id != "" && w.p.Report.OriginalMessageID == "" {
				w.p.Report.OriginalMessageID = id
			}
		}
	case strings.EqualFold(disp, "attachment") || name != "" || !strings.HasPrefix(mt, "text/"):
		if len(data) == 0 && name == "" {
			return nil
		}
		w.p.Attachments = append(w.p.Attachments, Attachment{Filename: name, ContentType: mt, Data: data})
	case mt == "text/plain" || mt == "":
		if w.p.Body == "" {
			w.p.Body = string(data)
		}
	case mt == "text/html":
		if w.p.Body == "" {
			w.p.Body = stripTags(string(data))
		}
	}
	return nil
}

// parseDeliveryStatus reads RFC 3464 blocks: per-message fields, then one block a recipient.
func parseDeliveryStatus(data []byte, r *Report) {
	for i, block := range headerBlocks(data) {
		if i == 0 {
			r.OriginalEnvelopeID = strings.TrimSpace(block.Get("Original-Envelope-Id"))
			continue
		}
		rs := RecipientStatus{
			Recipient:  addressOf(firstNonEmpty(block.Get("Final-Recipient"), block.Get("Original-Recipient"))),
			Action:     strings.ToLower(strings.TrimSpace(block.Get("Action"))),
			Status:     strings.TrimSpace(block.Get("Status")),
			Diagnostic: strings.TrimSpace(block.Get("Diagnostic-Code")),
		}
		if rs.Recipient != "" || rs.Action != "" {
			r.Recipients = append(r.Recipients, rs)
		}
	}
}

func parseDisposition(data []byte, r *Report) {
	for _, block := range headerBlocks(data) {
		if id := strings.TrimSpace(block.Get("Original-Message-Id")); id != "" {
			r.OriginalMessageID = id
		}
		if d := block.Get("Disposition"); d != "" {
			// "manual-action/MDN-sent-manually; displayed"
			if _, after, ok := strings.Cut(d, ";"); ok {
				d = after
			}
			r.Disposition = strings.ToLower(strings.TrimSpace(strings.Split(d, "/")[0]))
		}
	}
}

// headerBlocks splits a delivery-status body into header blocks separated by blank lines.
func headerBlocks(data []byte) []textproto.MIMEHeader {
	data = bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n"))
	var out []textproto.MIMEHeader
	for _, chunk := range bytes.Split(data, []byte("\n\n")) {
		chunk = bytes.TrimSpace(chunk)
		if len(chunk) == 0 {
			continue
		}
		h, err := textproto.NewReader(bufio.NewReader(bytes.NewReader(append(chunk, '\n', '\n')))).ReadMIMEHeader()
		if err != nil && len(h) == 0 {
			continue
		}
		out = append(out, h)
	}
	return out
}

// addressOf reads "rfc822; someone@example" or "utf-8; …".
func addressOf(v string) string {
	if _, a, ok := strings.Cut(v, ";"); ok {
		v = a
	}
	return strings.ToLower(strings.Trim(strings.TrimSpace(v), "<>"))
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if strings.TrimSpace(x) != "" {
			return x
		}
	}
	return ""
}

func stripTags(s string) string {
	var b strings.Builder
	in := false
	for _, r := range s {
		switch {
		case r == '<':
			in = true
		case r == '>':
			in = false
		case !in:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Filename decodes an attachment's name from Content-Disposition or Content-Type, in any
// charset: RFC 2231 extended values (charset, language, percent-encoding, continuations)
// and RFC 2047 words inside quotes.
// Go's mime package drops RFC 2231 values in charsets other than UTF-8, so those are decoded
// here from the raw header.
func Filename(rawDisposition string, dparams map[string]string, rawType string, tparams map[string]string) string {
	if v := rfc2231(rawDisposition, "filename"); v != "" {
		return v
	}
	if v := dparams["filename"]; v != "" {
		return decode2047(v)
	}
	if v := rfc2231(rawType, "name"); v != "" {
		return v
	}
	if v := tparams["name"]; v != "" {
		return decode2047(v)
	}
	return ""
}

func decode2047(s string) string {
	dec := mime.WordDecoder{CharsetReader: message.CharsetReader}
	if out, err := dec.DecodeHeader(s); err == nil {
		return out
	}
	return s
}
