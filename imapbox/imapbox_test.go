package imapbox

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/mssbridge/mssbridge/mail"
	"github.com/mssbridge/mssbridge/operator"
	"github.com/mssbridge/mssbridge/pki"
)

const box = "noreply-bio@ch-exemple.mssante.fr"

// deliver sends a message to box through the operator's SMTP side, from another professional.
func deliver(t *testing.T, op *operator.Operator, body string) {
	t.Helper()
	from := "dr.martin@medecin.mssante.fr"
	cert, key, err := op.IssueClient(from)
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := strings.Cut(op.SMTPAddr, ":")
	p, _ := strconv.Atoi(port)
	tc, _ := mail.TLSConfig(host, op.CAFile(), cert, key)
	cl := mail.NewClient(mail.Endpoint{Host: host, Port: p, Security: mail.StartTLS, TLS: tc, Timeout: 5 * time.Second}, 1)
	defer cl.Close()
	if _, err := cl.Send(context.Background(), mail.Envelope{From: from, To: []string{box}, Data: []byte("Subject: x\r\n\r\n" + body + "\r\n")}); err != nil {
		t.Fatal(err)
	}
}

func TestListFetchMoveIdle(t *testing.T) {
	ctx := context.Background()
	op, err := operator.Start(ctx, operator.Options{Dir: t.TempDir(), Reply: func(string, string) *smtp.SMTPError { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	defer op.Close()
	deliver(t, op, "first")
	cert, key, err := op.IssueClient(box)
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := strings.Cut(op.IMAPAddr, ":")
	p, _ := strconv.Atoi(port)
	tc, _ := mail.TLSConfig(host, op.CAFile(), cert, key)
	cn, err := Dial(ctx, Endpoint{Host: host, Port: p, Security: "tls", TLS: tc, Timeout: 5 * time.Second}, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	defer cn.Close()
	if cn.UIDValidity() == 0 {
		t.Error("no UIDVALIDITY")
	}
	msgs, err := cn.List(ctx, "")
	if err != nil || len(msgs) != 1 {
		t.Fatalf("List = %v, %v", msgs, err)
	}
	data, err := cn.Fetch(ctx, msgs[0].UID)
	if err != nil || !bytes.Contains(data, []byte("first")) {
		t.Fatalf("Fetch = %q, %v", data, err)
	}
	if err := cn.Move(ctx, msgs[0].UID, "Traites"); err != nil {
		t.Fatal(err)
	}
	if msgs, _ := cn.List(ctx, ""); len(msgs) != 0 {
		t.Errorf("still %d messages after move", len(msgs))
	}
	// IDLE wakes up on new mail well before its limit.
	go func() {
		time.Sleep(300 * time.Millisecond)
		deliver(t, op, "second")
	}()
	start := time.Now()
	if err := cn.Wait(ctx, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	if time.Since(start) > 10*time.Second {
		t.Errorf("IDLE did not report the new message (waited %s)", time.Since(start))
	}
	if msgs, _ := cn.List(ctx, ""); len(msgs) != 1 {
		t.Errorf("want the new message, got %d", len(msgs))
	}
}

// A server whose certificate the box does not trust is refused before anything is sent, and
// the error says so (the inbox logs it and retries).
func TestUntrustedServerRefused(t *testing.T) {
	ctx := context.Background()
	op, err := operator.Start(ctx, operator.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer op.Close()
	cert, key, err := op.IssueClient(box)
	if err != nil {
		t.Fatal(err)
	}
	other, err := pki.NewCA("another operator", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := strings.Cut(op.IMAPAddr, ":")
	p, _ := strconv.Atoi(port)
	for _, tc := range []struct {
		name    string
		host    string // ServerName checked
		roots   *x509.CertPool
		refused bool
	}{
		{"trusted", host, nil, false},
		{"another authority", host, other.Pool(), true},
		{"another name", "imap.autre-operateur.mssante.fr", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, _ := mail.TLSConfig(tc.host, op.CAFile(), cert, key)
			if tc.roots != nil {
				cfg.RootCAs = tc.roots
			}
			cn, err := Dial(ctx, Endpoint{Host: host, Port: p, Security: "tls", TLS: cfg, Timeout: 5 * time.Second}, "INBOX")
			if err == nil {
				cn.Close()
			}
			if got := errors.Is(err, ErrUntrustedServer); got != tc.refused {
				t.Errorf("Dial: %v; untrusted %v, want %v", err, got, tc.refused)
			}
		})
	}
}
