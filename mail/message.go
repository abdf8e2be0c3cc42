// Package mail builds the messages mssbridge sends and submits them over SMTP with mutual TLS:
// connection reuse per box, delivery status notifications requested, and every server reply
// classified (retry, fail, or configuration error) so the pipeline decides on values, never on
// message strings.
package mail

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"path/filepath"
	"strings"
	"time"
	"unicode"

	gomail "github.com/emersion/go-message/mail"
)

// Attachment is one file carried by the message: Data, or Body and Size when the file is read
// from disk as the message is written (WriteTo).
type Attachment struct {
	Filename    string
	ContentType string
	Data        []byte
	Body        io.ReaderAt
	Size        int64
}

func (a Attachment) size() int64        { return sizeOf(a.Data, a.Body, a.Size) }
func (a Attachment) content() io.Reader { return readerOf(a.Data, a.Body, a.Size) }

// sizeOf and readerOf serve what may be given as bytes (data) or as a file (body, size bytes
// from its start): the file when there is one. readerOf starts from the beginning each time.
func sizeOf(data []byte, body io.ReaderAt, size int64) int64 {
	if body != nil {
		return size
	}
	return int64(len(data))
}

func readerOf(data []byte, body io.ReaderAt, size int64) io.Reader {
	if body != nil {
		return io.NewSectionReader(body, 0, size)
	}
	return bytes.NewReader(data)
}

// Message is what a job sends.
type Message struct {
	From        string
	To          []string
	Cc          []string
	Subject     string
	MessageID   string // with angle brackets
	Date        time.Time
	Body        string // plain text, French
	Attachments []Attachment
	Headers     map[string]string // extra headers, e.g. X-MSS-MES
}

// Build renders the message as RFC 5322 bytes: multipart/mixed with a text part and the
// attachments, non-ASCII headers in RFC 2047, attachment names in RFC 2231.
func Build(m Message) ([]byte, error) {
	var buf bytes.Buffer
	// Grown once to the final size: left to double, the buffer of a message carrying a 14 MB
	// PDF (19 MB) made 64 MB of allocations, now about 20.
	buf.Grow(sizeEstimate(m))
	if err := Write(&buf, m); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Write renders the message as Build does, into w, reading attachments as it goes: with
// attachments given as Body (files) and w a file, the message never sits in memory.
func Write(dst io.Writer, m Message) error {
	var h gomail.Header
	h.SetDate(m.Date)
	h.SetAddressList("From", addrs(m.From))
	h.SetAddressList("To", addrs(m.To...))
	if len(m.Cc) > 0 {
		h.SetAddressList("Cc", addrs(m.Cc...))
	}
	h.SetSubject(m.Subject)
	h.Set("Message-Id", m.MessageID)
	h.Set("MIME-Version", "1.0")
	for k, v := range m.Headers {
		h.Set(k, v)
	}
	w, err := gomail.CreateWriter(dst, h)
	if err != nil {
		return fmt.Errorf("build message: %w", err)
	}
	var th gomail.InlineHeader
	th.Set("Content-Type", "text/plain; charset=utf-8")
	th.Set("Content-Transfer-Encoding", "quoted-printable")
	tw, err := w.CreateSingleInline(th)
	if err != nil {
		return fmt.Errorf("build message body: %w", err)
	}
	if _, err := tw.Write([]byte(strings.ReplaceAll(m.Body, "\n", "\r\n"))); err != nil {
		return fmt.Errorf("build message body: %w", err)
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("build message body: %w", err)
	}
	for _, a := range m.Attachments {
		var ah gomail.AttachmentHeader
		ct := a.ContentType
		if ct == "" {
			ct = "application/octet-stream"
		}
		name := SafeFilename(a.Filename)
		ah.Set("Content-Type", mime.FormatMediaType(ct, map[string]string{"name": asciiFallback(name)}))
		// go-message's SetFilename writes RFC 2047 inside quotes; RFC 2231 is the standard.
		ah.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
		ah.Set("Content-Transfer-Encoding", "base64")
		aw, err := w.CreateAttachment(ah)
		if err != nil {
			return fmt.Errorf("build attachment: %w", err)
		}
		if _, err := io.Copy(aw, a.content()); err != nil {
			return fmt.Errorf("build attachment: %w", err)
		}
		if err := aw.Close(); err != nil {
			return fmt.Errorf("build attachment: %w", err)
		}
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("build message: %w", err)
	}
	return nil
}

// sizeEstimate is a little over the size Build will produce: headers, the body in
// quoted-printable (at most three bytes a byte), and each attachment in base64 lines of 76
// characters and a CRLF.
func sizeEstimate(m Message) int {
	n := 4096 + 3*len(m.Body)
	for k, v := range m.Headers {
		n += len(k) + 3*len(v) + 4
	}
	for _, a := range m.Attachments {
		b64 := int(a.size()+2) / 3 * 4
		n += b64 + b64/76*2 + 2 + 1024 + 6*len(a.Filename)
	}
	return n
}

func addrs(list ...string) []*gomail.Address {
	out := make([]*gomail.Address, 0, len(list))
	for _, a := range list {
		out = append(out, &gomail.Address{Address: a})
	}
	return out
}

// SafeFilename keeps a file name's base, without path or control characters, capped in length,
// so that no receiving software is led astray by what a sender's file was called.
func SafeFilename(name string) string {
	name = filepath.Base(strings.ReplaceAll(name, "\\", "/"))
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || strings.ContainsRune(`/\:*?"<>|`, r) {
			return '_'
		}
		return r
	}, name)
	name = strings.TrimSpace(strings.Trim(name, "."))
	if name == "" {
		name = "document.pdf"
	}
	// A receiver on Windows cannot save CON.pdf, NUL.pdf or COM1.pdf under that name (the
	// device wins, whatever the extension): such a name gets a leading underscore.
	stem, _, _ := strings.Cut(name, ".")
	if windowsReserved[strings.ToUpper(strings.TrimSpace(stem))] {
		name = "_" + name
	}
	const maxRunes = 120 // many mail clients and Windows paths choke well before 255
	if r := []rune(name); len(r) > maxRunes {
		ext := filepath.Ext(name)
		name = string(r[:maxRunes-len([]rune(ext))]) + ext
	}
	return name
}

// windowsReserved are the device names Windows refuses as file names.
var windowsReserved = map[string]bool{"CON": true, "PRN": true, "AUX": true, "NUL": true,
	"COM1": true, "COM2": true, "COM3": true, "COM4": true, "COM5": true, "COM6": true, "COM7": true, "COM8": true, "COM9": true,
	"LPT1": true, "LPT2": true, "LPT3": true, "LPT4": true, "LPT5": true, "LPT6": true, "LPT7": true, "LPT8": true, "LPT9": true}

// asciiFallback is the Content-Type name= for old readers that ignore RFC 2231.
func asciiFallback(name string) string {
	var b strings.Builder
	for _, r := range name {
		if r < 128 && r >= 32 {
			b.WriteRune(r)
		} else {
			b.WriteRune('_')
		}
	}
	return b.String()
}
