package inbound

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
	"unicode"

	"github.com/mssbridge/mssbridge/safefile"
)

// Patient is who a received document is about, as the sidecar gives it (same fields as the
// extract JSON's patient).
type Patient struct {
	INS         string `json:"ins"`
	INSKeyValid bool   `json:"ins_key_valid"`
	FamilyName  string `json:"family_name"`
	GivenNames  string `json:"given_names"`
	BirthDate   string `json:"birth_date"`
	Sex         string `json:"sex"`
}

// DocumentMeta is what is known of a received document.
type DocumentMeta struct {
	Title       string `json:"title,omitempty"`
	TypeCode    string `json:"type_code,omitempty"`
	TypeDisplay string `json:"type_display,omitempty"`
	Date        string `json:"date,omitempty"`
	UniqueID    string `json:"unique_id,omitempty"`
}

// PackageMeta is what an IHE XDM package says, as the xdm reader returns it.
type PackageMeta struct {
	Patient   Patient
	Document  DocumentMeta
	Author    string
	Documents []Attachment // documents inside the package (CDA, PDF)
}

// Sidecar is the JSON written beside each deposited document.
type Sidecar struct {
	File           string       `json:"file"`
	ContentType    string       `json:"content_type"`
	SHA256         string       `json:"sha256"`
	Size           int          `json:"size"`
	OriginalName   string       `json:"original_name,omitempty"`
	MessageID      string       `json:"message_id"`
	ReceivedAt     string       `json:"received_at"`
	Box            string       `json:"box"`
	Sender         string       `json:"sender"`
	Recipients     []string     `json:"recipients"`
	Subject        string       `json:"subject"`
	Body           string       `json:"body,omitempty"`
	Patient        *Patient     `json:"patient,omitempty"`
	Document       DocumentMeta `json:"document"`
	MetadataSource string       `json:"metadata_source"` // xdm or message
}

// deposit writes each document and its sidecar into dir. Names derive from the ledger id and
// the attachment's rank, so depositing the same message again after a crash rewrites the same
// files instead of adding copies. The sidecar is written last: when it is there, its document
// is whole.
//
// The folder must exist (Run makes it once at start): a folder that went away is not made
// again here, the message stays on the server until it is back.
func deposit(dir, recID string, at time.Time, box string, p *Parsed, docs []Attachment, meta *PackageMeta) ([]string, error) {
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		if err == nil {
			err = syscall.ENOTDIR
		}
		return nil, &depositError{recID: recID, what: "import folder", err: err}
	}
	var written []string
	for i, a := range docs {
		base := depositBase(recID, at, i+1, a.Filename, a.ContentType)
		docName := base + extFor(a.Filename, a.ContentType)
		sum := sha256.Sum256(a.Data)
		if err := safefile.WriteFile(filepath.Join(dir, docName), a.Data); err != nil {
			return written, &depositError{recID: recID, what: fmt.Sprintf("document %d", i+1), err: err}
		}
		written = append(written, docName)
		sc := Sidecar{
			File: docName, ContentType: a.ContentType, SHA256: hex.EncodeToString(sum[:]), Size: len(a.Data),
			OriginalName: a.Filename, MessageID: p.MessageID, ReceivedAt: at.UTC().Format(time.RFC3339), Box: box,
			Sender: p.From, Recipients: append(append([]string{}, p.To...), p.Cc...), Subject: p.Subject, Body: p.Body,
			MetadataSource: "message",
		}
		sc.Document.Title = p.Subject
		if !p.Date.IsZero() {
			sc.Document.Date = p.Date.Format("2006-01-02")
		}
		if meta != nil {
			pt := meta.Patient
			sc.Patient = &pt
			sc.Document = meta.Document
			sc.MetadataSource = "xdm"
		}
		data, _ := json.MarshalIndent(sc, "", "  ")
		if err := safefile.WriteFile(filepath.Join(dir, base+".json"), append(data, '\n')); err != nil {
			return written, &depositError{recID: recID, what: fmt.Sprintf("sidecar %d", i+1), err: err}
		}
		written = append(written, base+".json")
	}
	return written, nil
}

// depositError is a failed write into the import folder. Its message names the received
// message and the document's rank, never a file: deposited names carry the sender's file
// name, which often carries the patient's, and the inbox logs this error at warning level.
// The whole error (with the path) stays reachable through Unwrap.
type depositError struct {
	recID, what string
	err         error
}

func (e *depositError) Error() string {
	cause := "write failed"
	var pe *fs.PathError
	var le *os.LinkError
	switch {
	case errors.As(e.err, &pe):
		cause = pe.Op + ": " + pe.Err.Error()
	case errors.As(e.err, &le):
		cause = le.Op + ": " + le.Err.Error()
	}
	return fmt.Sprintf("deposit %s: %s: %s", e.recID, e.what, cause)
}

func (e *depositError) Unwrap() error { return e.err }

func depositBase(recID string, at time.Time, rank int, original, contentType string) string {
	stem := strings.TrimSuffix(SafeName(original), filepath.Ext(SafeName(original)))
	if stem == "" || stem == "document" {
		stem = "document"
	}
	return fmt.Sprintf("%s_%s_%d_%s", at.UTC().Format("20060102-150405"), shortID(recID), rank, stem)
}

func shortID(id string) string {
	if i := strings.LastIndexByte(id, '-'); i >= 0 && i+1 < len(id) {
		return id[i+1:]
	}
	return id
}

func extFor(name, contentType string) string {
	ext := strings.ToLower(filepath.Ext(SafeName(name)))
	switch {
	case ext != "" && len(ext) <= 6:
		return ext
	case contentType == "application/pdf":
		return ".pdf"
	case strings.Contains(contentType, "xml"):
		return ".xml"
	default:
		return ".bin"
	}
}

// windowsReserved are names Windows refuses whatever the extension.
var windowsReserved = map[string]bool{"CON": true, "PRN": true, "AUX": true, "NUL": true,
	"COM1": true, "COM2": true, "COM3": true, "COM4": true, "COM5": true, "COM6": true, "COM7": true, "COM8": true, "COM9": true,
	"LPT1": true, "LPT2": true, "LPT3": true, "LPT4": true, "LPT5": true, "LPT6": true, "LPT7": true, "LPT8": true, "LPT9": true}

// SafeName makes a sender's file name safe for any file system: no folder part, no control or
// reserved characters, no reserved Windows name, no trailing dot or space, at most 80 runes.
// A sender's name is never trusted; the deposited name also carries our own id.
func SafeName(name string) string {
	name = strings.ReplaceAll(name, "\\", "/")
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || strings.ContainsRune(`<>:"/\|?*`, r) || r == unicode.ReplacementChar {
			return '_'
		}
		return r
	}, name)
	name = strings.Trim(name, " .")
	if name == "" {
		return "document"
	}
	stem := name
	if i := strings.IndexByte(name, '.'); i >= 0 {
		stem = name[:i]
	}
	if windowsReserved[strings.ToUpper(strings.TrimSpace(stem))] {
		name = "_" + name
	}
	const maxRunes = 80 // leaves room for our prefix under Windows' 255 and old MAX_PATH folders
	if r := []rune(name); len(r) > maxRunes {
		ext := filepath.Ext(name)
		if len([]rune(ext)) > 10 {
			ext = ""
		}
		name = string(r[:maxRunes-len([]rune(ext))]) + ext
	}
	return name
}
