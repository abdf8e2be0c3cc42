package mail

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/mssbridge/mssbridge/operator"
	"github.com/mssbridge/mssbridge/pki"
)

const box = "noreply-bio@ch-exemple.mssante.fr"

func startOperator(t *testing.T, reply func(from, rcpt string) *smtp.SMTPError) *operator.Operator {
	t.Helper()
	op, err := operator.Start(context.Background(), operator.Options{Dir: t.TempDir(), Reply: reply})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { op.Close() })
	return op
}

func endpoint(t *testing.T, op *operator.Operator, addr string, sec Security, withCert bool) Endpoint {
	t.Helper()
	host, port, _ := strings.Cut(addr, ":")
	p, _ := strconv.Atoi(port)
	cert, key := "", ""
	if withCert {
		var err error
		if cert, key, err = op.IssueClient(box); err != nil {
			t.Fatal(err)
		}
	}
	tc, err := TLSConfig(host, op.CAFile(), cert, key)
	if err != nil {
		t.Fatal(err)
	}
	return Endpoint{Host: host, Port: p, Security: sec, TLS: tc, Timeout: 5 * time.Second}
}

func TestSendReusesConnectionAndRequestsDSN(t *testing.T) {
	op := startOperator(t, nil)
	for _, tc := range []struct {
		name string
		addr string
		sec  Security
	}{{"starttls", op.SMTPAddr, StartTLS}, {"implicit tls", op.SMTPSAddr, ImplicitTLS}} {
		t.Run(tc.name, func(t *testing.T) {
			cl := NewClient(endpoint(t, op, tc.addr, tc.sec, true), 1)
			defer cl.Close()
			for i := 0; i < 3; i++ {
				res, err := cl.Send(context.Background(), Envelope{From: box, To: []string{"a@medecin.mssante.fr"}, EnvelopeID: "job-" + strconv.Itoa(i),
					Data: []byte("Subject: t\r\nMessage-Id: <m" + strconv.Itoa(i) + "@x>\r\n\r\nbody\r\n")})
				if err != nil {
					t.Fatal(err)
				}
				if !res.DSN || !strings.HasPrefix(res.Reply, "250") {
					t.Errorf("result %+v", res)
				}
			}
		})
	}
	ds := op.Deliveries()
	if len(ds) != 6 || ds[2].MailOpts.EnvelopeID != "job-2" || len(ds[2].RcptNotify["a@medecin.mssante.fr"]) != 2 {
		t.Fatalf("deliveries: %d, %+v", len(ds), ds[len(ds)-1].MailOpts)
	}
}

func TestClassification(t *testing.T) {
	op := startOperator(t, func(from, rcpt string) *smtp.SMTPError {
		switch {
		case strings.HasPrefix(rcpt, "defer"):
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "later"}
		case strings.HasPrefix(rcpt, "reject"):
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
		case strings.HasPrefix(rcpt, "cert"):
			return &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 7, 0}, Message: "certificat client expiré"}
		}
		return nil
	})
	good := endpoint(t, op, op.SMTPAddr, StartTLS, true)
	noCert := endpoint(t, op, op.SMTPAddr, StartTLS, false)
	rogueCA, _ := pki.NewCA("rogue", time.Hour)
	rogue, _ := rogueCA.IssueClient(box, time.Hour)
	rogue.WriteFiles(filepath.Join(t.TempDir()), "rogue")
	rogueEP := endpoint(t, op, op.SMTPAddr, StartTLS, false)
	rc, _ := rogue.TLSCertificate()
	rogueEP.TLS.Certificates = []tls.Certificate{rc}
	untrusted := endpoint(t, op, op.SMTPAddr, StartTLS, true)
	untrusted.TLS.RootCAs = rogueCA.Pool()
	tests := []struct {
		name   string
		ep     Endpoint
		rcpt   string
		class  Class
		code   int
		french string
	}{
		{"4xx", good, "defer@medecin.mssante.fr", Temporary, 451, "différé"},
		{"5xx", good, "reject@medecin.mssante.fr", Permanent, 550, "refusé le destinataire"},
		{"421 about the certificate", good, "cert@medecin.mssante.fr", Config, 421, "certificat client"},
		{"no client certificate", noCert, "a@medecin.mssante.fr", Config, 0, "certificat client"},
		{"client certificate from another CA", rogueEP, "a@medecin.mssante.fr", Config, 0, "certificat client"},
		// Retried, not failed: see ServerCert.
		{"server not trusted", untrusted, "a@medecin.mssante.fr", ServerCert, 0, "autorité reconnue"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cl := NewClient(tt.ep, 1)
			defer cl.Close()
			_, err := cl.Send(context.Background(), Envelope{From: box, To: []string{tt.rcpt}, EnvelopeID: "j", Data: []byte("Subject: x\r\n\r\nx\r\n")})
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v (%T), want *mail.Error", err, err)
			}
			if e.Class != tt.class || e.Code != tt.code {
				t.Errorf("class %s code %d, want %s %d (%v)", e.Class, e.Code, tt.class, tt.code, err)
			}
			if !strings.Contains(e.French(), tt.french) {
				t.Errorf("French() = %q, want it to mention %q", e.French(), tt.french)
			}
		})
	}
}

func TestProbe(t *testing.T) {
	op := startOperator(t, nil)
	caps, err := Probe(context.Background(), endpoint(t, op, op.SMTPAddr, StartTLS, true))
	if err != nil {
		t.Fatal(err)
	}
	if !caps.DSN || !caps.StartTLS || caps.Size == 0 || caps.TLSVersion == "" {
		t.Errorf("capabilities %+v", caps)
	}
}

func TestServerDroppedIdleConnectionIsRedialled(t *testing.T) {
	op := startOperator(t, nil)
	cl := NewClient(endpoint(t, op, op.SMTPAddr, StartTLS, true), 1)
	defer cl.Close()
	env := Envelope{From: box, To: []string{"a@medecin.mssante.fr"}, Data: []byte("Subject: x\r\n\r\nx\r\n")}
	if _, err := cl.Send(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	// Break the idle connection behind the client's back.
	c := <-cl.idle
	c.c.Close()
	cl.idle <- c
	if _, err := cl.Send(context.Background(), env); err != nil {
		t.Fatalf("send after a dropped idle connection: %v", err)
	}
}

// What the client says of a server certificate it refused, by cause: each names the problem
// and who can fix it, in French, and is retried (never Config, which fails the job at once).
func TestServerCertificateClassification(t *testing.T) {
	ca, err := pki.NewCA("operator", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	kp, err := ca.IssueServer([]string{"smtp.autre-operateur.mssante.fr"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	verify := func(e error) error {
		return &tls.CertificateVerificationError{UnverifiedCertificates: []*x509.Certificate{kp.Cert}, Err: e}
	}
	tests := []struct {
		name   string
		err    error
		french string
	}{
		{"expired", verify(x509.CertificateInvalidError{Cert: kp.Cert, Reason: x509.Expired}), "expiré"},
		{"unknown authority", verify(x509.UnknownAuthorityError{Cert: kp.Cert}), "autorité reconnue"},
		{"another name", verify(x509.HostnameError{Certificate: kp.Cert, Host: "127.0.0.1"}), "au nom de 127.0.0.1"},
		{"other verification failure", verify(x509.CertificateInvalidError{Cert: kp.Cert, Reason: x509.IncompatibleUsage}), "pas pu être vérifié"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := classify("tls", "", fmt.Errorf("starttls: %w", tt.err))
			if e.Class != ServerCert {
				t.Errorf("class %s, want %s", e.Class, ServerCert)
			}
			fr := e.French()
			if !strings.Contains(fr, tt.french) || !strings.HasPrefix(fr, "Envoi différé, rien n'a été transmis") {
				t.Errorf("French() = %q, want it deferred and mentioning %q", fr, tt.french)
			}
		})
	}
	// The server refusing our certificate, or offering no TLS at all, is another matter: a
	// configuration error, said as what it is.
	for _, tt := range []struct {
		err    string
		french string
	}{
		{"remote error: tls: bad certificate", "certificat client"},
		{"smtp: server doesn't support STARTTLS", "ne propose pas de connexion chiffrée"},
		{"tls: first record does not look like a TLS handshake", "ne répond pas en TLS"},
	} {
		e := classify("tls", "", errors.New(tt.err))
		if e.Class != Config || !strings.Contains(e.French(), tt.french) {
			t.Errorf("%q: class %s, %q; want %s mentioning %q", tt.err, e.Class, e.French(), Config, tt.french)
		}
	}
}

// failingBody is a message file whose read fails (or ends) part way: failAt bytes read well,
// then an error, or the end when short is set.
type failingBody struct {
	data   []byte
	failAt int64
	short  bool
}

func (f failingBody) ReadAt(p []byte, off int64) (int, error) {
	if off >= f.failAt {
		if f.short {
			return 0, io.EOF
		}
		return 0, errors.New("input/output error")
	}
	n := copy(p, f.data[off:min(int64(len(f.data)), f.failAt)])
	return n, nil
}

// A message read from the spool that fails part way, or is shorter than announced, is not
// delivered truncated: the connection is dropped before the final dot, the server keeps
// nothing, and the send fails (to be retried whole).
func TestBodyReadFailureDeliversNothing(t *testing.T) {
	op := startOperator(t, nil)
	head := "Subject: t\r\nMessage-Id: <trunc@x>\r\n\r\n"
	body := []byte(head + strings.Repeat("0123456789abcdef\r\n", 10000))
	for _, tc := range []struct {
		name string
		b    failingBody
	}{
		{"read error", failingBody{data: body, failAt: 100_000}},
		{"file shorter than its size", failingBody{data: body, failAt: 100_000, short: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl := NewClient(endpoint(t, op, op.SMTPAddr, StartTLS, true), 1)
			defer cl.Close()
			_, err := cl.Send(context.Background(), Envelope{From: box, To: []string{"a@medecin.mssante.fr"}, Body: tc.b, Size: int64(len(body))})
			if err == nil {
				t.Fatal("a message that could not be read whole was reported sent")
			}
		})
	}
	time.Sleep(200 * time.Millisecond) // let the server finish with the dropped connections
	if ds := op.Deliveries(); len(ds) != 0 {
		t.Fatalf("%d truncated messages delivered (first %d bytes)", len(ds), len(ds[0].Data))
	}
	// A whole one still goes.
	cl := NewClient(endpoint(t, op, op.SMTPAddr, StartTLS, true), 1)
	defer cl.Close()
	if _, err := cl.Send(context.Background(), Envelope{From: box, To: []string{"a@medecin.mssante.fr"}, Body: bytes.NewReader(body), Size: int64(len(body))}); err != nil {
		t.Fatal(err)
	}
	if ds := op.Deliveries(); len(ds) != 1 || len(ds[0].Data) < len(body) {
		t.Fatalf("deliveries %d", len(ds))
	}
}
