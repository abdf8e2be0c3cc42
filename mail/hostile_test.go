package mail

import (
	"runtime"
	"strings"
	"testing"
	"time"
)

// A file dropped as CON.pdf must not reach a Windows receiver under a device's name.
func TestSafeFilenameWindowsReservedNames(t *testing.T) {
	for in, want := range map[string]string{
		"CON.pdf":            "_CON.pdf",
		"nul.PDF":            "_nul.PDF",
		"Com1.tar.pdf":       "_Com1.tar.pdf",
		"LPT9":               "_LPT9",
		"CONSULTATION.pdf":   "CONSULTATION.pdf",
		"con\r\nBcc: x.pdf":  "con__Bcc_ x.pdf",
		"../../etc/passwd":   "passwd",
		"C:\\Windows\\a.pdf": "a.pdf",
	} {
		if got := SafeFilename(in); got != want {
			t.Errorf("SafeFilename(%q) = %q, want %q", in, got, want)
		}
	}
}

// Build grows its buffer once: a 14 MB PDF (a 19 MB message) allocated 64 MB before.
func TestBuildAllocatesAboutTheMessageSize(t *testing.T) {
	data := make([]byte, 14<<20)
	for i := range data {
		data[i] = byte(i * 7)
	}
	msg := Message{From: "a@b.mssante.fr", To: []string{"c@d.mssante.fr"}, Subject: "Compte rendu", MessageID: "<x@y>",
		Date: time.Now(), Body: strings.Repeat("Bonjour é\n", 50), Headers: map[string]string{"X-MSS-MES": "FIN"},
		Attachments: []Attachment{{Filename: "a.pdf", ContentType: "application/pdf", Data: data}}}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	raw, err := Build(msg)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("message %d MB, allocated %d MB", len(raw)>>20, alloc>>20)
	if alloc > uint64(len(raw))*13/10 {
		t.Errorf("allocated %d MB for a %d MB message", alloc>>20, len(raw)>>20)
	}
	if est := sizeEstimate(msg); est < len(raw) {
		t.Errorf("estimate %d under the real size %d: the buffer grew again", est, len(raw))
	}
}
