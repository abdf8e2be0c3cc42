package inbound

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// A failed deposit says which message and which document, never the file's name: names
// carry the sender's file name, often the patient's, and this error is logged.
func TestDepositErrorCarriesNoFileName(t *testing.T) {
	dir := t.TempDir()
	at := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	p := &Parsed{MessageID: "<m@x>"}
	docs := []Attachment{{Filename: "CR DUPONT Marie.pdf", ContentType: "application/pdf", Data: []byte("%PDF-1.4\n")}}
	// The document's final name is taken by a folder: the rename into place fails.
	name := depositBase("R1-abcd", at, 1, docs[0].Filename, docs[0].ContentType) + ".pdf"
	if err := os.MkdirAll(filepath.Join(dir, name, "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	_, err := deposit(dir, "R1-abcd", at, "bio", p, docs, nil)
	if err == nil {
		t.Fatal("deposit over a folder succeeded")
	}
	if strings.Contains(err.Error(), "DUPONT") || strings.Contains(err.Error(), dir) {
		t.Errorf("error names the file: %v", err)
	}
	if !strings.Contains(err.Error(), "R1-abcd") || !strings.Contains(err.Error(), "document 1") {
		t.Errorf("error does not say which message and document: %v", err)
	}
	var pe *fs.PathError
	var le *os.LinkError
	if !errors.As(err, &pe) && !errors.As(err, &le) {
		t.Errorf("the cause is not reachable with errors.As: %v", err)
	}
}

// deposit does not make a missing import folder: Run made it at start, and one that went
// away is waited for (the message stays on the server).
func TestDepositDoesNotRecreateTheImportFolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "import")
	_, err := deposit(dir, "R1-abcd", time.Now(), "bio", &Parsed{}, []Attachment{{Filename: "a.pdf", Data: []byte("%PDF-1.4\n")}}, nil)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("err = %v, want not exist", err)
	}
	if _, err := os.Stat(dir); err == nil {
		t.Error("the import folder was created")
	}
}

// A big attachment is read into one buffer: io.ReadAll made 112 MB of allocations for a
// 50 MB one.
func TestParseBigAttachmentAllocatesOnce(t *testing.T) {
	data := append([]byte("%PDF-1.7\n"), bytes.Repeat([]byte{1, 2, 3, 250, 251, 252, 7}, 3<<20)...) // 21 MB
	raw := "From: a@b.mssante.fr\r\nTo: c@d.mssante.fr\r\nMessage-Id: <big@x>\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=\"X\"\r\n\r\n--X\r\nContent-Type: text/plain\r\n\r\nBonjour\r\n" +
		"--X\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=a.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		b64(data) + "\r\n--X\r\nContent-Type: text/plain\r\n\r\nfin\r\n--X--\r\n"
	rawBytes := []byte(raw)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	p, err := Parse(rawBytes, Limits{MaxAttachment: 30 << 20, MaxParts: 10, MaxDepth: 3})
	runtime.ReadMemStats(&after)
	if err != nil || len(p.Attachments) != 1 || !bytes.Equal(p.Attachments[0].Data, data) {
		t.Fatalf("parse: %v", err)
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("%d MB attachment: %d MB allocated", len(data)>>20, alloc>>20)
	if alloc > uint64(len(data))*13/10 {
		t.Errorf("%d MB allocated for a %d MB attachment", alloc>>20, len(data)>>20)
	}
	// Over the limit is still refused, whatever the estimate.
	if _, err := Parse(rawBytes, Limits{MaxAttachment: 20 << 20, MaxParts: 10, MaxDepth: 3}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("over the limit: %v", err)
	}
}
