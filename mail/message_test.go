package mail

import (
	"bytes"
	"io"
	"mime"
	"mime/multipart"
	netmail "net/mail"
	"strings"
	"testing"
	"time"
)

func TestBuildParsesBack(t *testing.T) {
	pdf := append([]byte("%PDF-1.4\n\x00\x01\xff binary"), bytes.Repeat([]byte{0xAB}, 5000)...)
	raw, err := Build(Message{
		From: "noreply-bio@ch-exemple.mssante.fr", To: []string{"a@medecin.mssante.fr"}, Cc: []string{"b@medecin.mssante.fr"},
		Subject: "Résultats d'analyses — Hôpital", MessageID: "<j1.abc@ch-exemple.mssante.fr>", Date: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC),
		Body:        "Bonjour,\nVeuillez trouver ci-joint le compte rendu.\n",
		Attachments: []Attachment{{Filename: "Compte rendu Éric.pdf", ContentType: "application/pdf", Data: pdf}},
	})
	if err != nil {
		t.Fatal(err)
	}
	m, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	dec := new(mime.WordDecoder)
	subj, _ := dec.DecodeHeader(m.Header.Get("Subject"))
	if subj != "Résultats d'analyses — Hôpital" {
		t.Errorf("subject %q", subj)
	}
	if m.Header.Get("Message-Id") != "<j1.abc@ch-exemple.mssante.fr>" {
		t.Errorf("message-id %q", m.Header.Get("Message-Id"))
	}
	mt, params, _ := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if mt != "multipart/mixed" {
		t.Fatalf("content type %s", mt)
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	var found bool
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		cd := p.Header.Get("Content-Disposition")
		if !strings.HasPrefix(cd, "attachment") {
			continue
		}
		if !strings.Contains(cd, "filename*=utf-8''Compte%20rendu%20%C3%89ric.pdf") {
			t.Errorf("not RFC 2231: %s", cd)
		}
		if p.FileName() != "Compte rendu Éric.pdf" {
			t.Errorf("filename %q", p.FileName())
		}
		got, _ := io.ReadAll(p) // multipart decodes quoted-printable only; decode base64 ourselves
		data, err := decodeBase64(got)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(data, pdf) {
			t.Errorf("attachment not byte-identical (%d vs %d bytes)", len(data), len(pdf))
		}
		found = true
	}
	if !found {
		t.Fatal("no attachment")
	}
}

func TestSafeFilename(t *testing.T) {
	tests := map[string]string{
		"../../etc/passwd":                "passwd",
		`C:\Users\x\CR.pdf`:               "CR.pdf",
		"a\x00b.pdf":                      "a_b.pdf",
		"":                                "document.pdf",
		"...":                             "document.pdf",
		strings.Repeat("é", 300) + ".pdf": strings.Repeat("é", 116) + ".pdf",
	}
	for in, want := range tests {
		if got := SafeFilename(in); got != want {
			t.Errorf("SafeFilename(%q) = %q, want %q", in, got, want)
		}
	}
}
