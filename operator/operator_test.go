package operator

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/mssbridge/mssbridge/pki"
)

const (
	box     = "noreply-biologie@ch-exemple.mssante.fr"
	doctor  = "jean.martin@medecin.mssante.fr"
	doctor2 = "secretariat.biologie@ch-exemple.mssante.fr"
)

func testMessage(id string) []byte {
	return []byte("From: <" + box + ">\r\n" +
		"To: <" + doctor + ">\r\n" +
		"Subject: Compte rendu\r\n" +
		"Message-ID: <" + id + "@mssbridge.test>\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n" +
		"\r\n" +
		"Bonjour,\r\n.leading dot line\r\nCordialement.\r\n")
}

func start(t *testing.T, opts Options) *Operator {
	t.Helper()
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	o, err := Start(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close() })
	return o
}

// clientTLS returns a client configuration trusting the operator's CA, with a client
// certificate for address when address is not empty.
func clientTLS(t *testing.T, o *Operator, address string) *tls.Config {
	t.Helper()
	caPEM, err := os.ReadFile(o.CAFile())
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("CA file is not PEM")
	}
	cfg := &tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: tls.VersionTLS12}
	if address != "" {
		certFile, keyFile, err := o.IssueClient(address)
		if err != nil {
			t.Fatal(err)
		}
		pair, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg
}

type envelope struct {
	from     string
	to       []string
	mailOpts *smtp.MailOptions
	rcptOpts *smtp.RcptOptions
	data     []byte
}

// send runs one SMTP transaction, STARTTLS or implicit TLS, and returns the first error.
func send(o *Operator, implicit bool, cfg *tls.Config, env envelope) error {
	var c *smtp.Client
	var err error
	if implicit {
		c, err = smtp.DialTLS(o.SMTPSAddr, cfg)
	} else {
		c, err = smtp.DialStartTLS(o.SMTPAddr, cfg)
	}
	if err != nil {
		return err
	}
	defer c.Close()
	c.CommandTimeout = 10 * time.Second
	c.SubmissionTimeout = 10 * time.Second
	if err := c.Mail(env.from, env.mailOpts); err != nil {
		return err
	}
	for _, to := range env.to {
		if err := c.Rcpt(to, env.rcptOpts); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(env.data); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

func waitOne(t *testing.T, o *Operator) Delivery {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ds, err := o.WaitDeliveries(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	return ds[0]
}

func TestDeliverAndReadBack(t *testing.T) {
	var delivered atomic.Int32
	o := start(t, Options{OnDeliver: func(Delivery) { delivered.Add(1) }})
	cfg := clientTLS(t, o, box)

	// The extensions a box relies on are advertised after STARTTLS.
	c, err := smtp.DialStartTLS(o.SMTPAddr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Hello("bridge.test"); err != nil {
		t.Fatal(err)
	}
	for ext, param := range map[string]string{"DSN": "", "SMTPUTF8": "", "8BITMIME": "", "SIZE": strconv.Itoa(DefaultMaxMessageBytes)} {
		ok, p := c.Extension(ext)
		if !ok || p != param {
			t.Errorf("extension %s: %v %q", ext, ok, p)
		}
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		t.Error("STARTTLS still advertised under TLS")
	}
	c.Close()

	msg := testMessage("one")
	err = send(o, false, cfg, envelope{
		from:     box,
		to:       []string{doctor, doctor2},
		mailOpts: &smtp.MailOptions{Return: smtp.DSNReturnHeaders, EnvelopeID: "job-42"},
		rcptOpts: &smtp.RcptOptions{
			Notify:                []smtp.DSNNotify{smtp.DSNNotifySuccess, smtp.DSNNotifyFailure},
			OriginalRecipientType: smtp.DSNAddressTypeRFC822,
			OriginalRecipient:     doctor,
		},
		data: msg,
	})
	if err != nil {
		t.Fatal(err)
	}
	d := waitOne(t, o)
	if d.From != box || !slices.Equal(d.To, []string{doctor, doctor2}) {
		t.Errorf("envelope = %s -> %v", d.From, d.To)
	}
	if d.MailOpts.EnvelopeID != "job-42" || d.MailOpts.Return != smtp.DSNReturnHeaders {
		t.Errorf("MAIL options = %+v", d.MailOpts)
	}
	if !slices.Equal(d.RcptNotify[doctor], []string{"SUCCESS", "FAILURE"}) || len(d.RcptNotify) != 2 {
		t.Errorf("NOTIFY = %v", d.RcptNotify)
	}
	if d.RcptORCPT[doctor] != "RFC822;"+doctor {
		t.Errorf("ORCPT = %v", d.RcptORCPT)
	}
	if !bytes.Equal(d.Data, msg) {
		t.Errorf("data = %q", d.Data)
	}
	if d.MessageID != "<one@mssbridge.test>" || d.ClientCertCN != box || d.ImplicitTLS || d.At.IsZero() {
		t.Errorf("delivery = %+v", d)
	}
	if delivered.Load() != 1 {
		t.Errorf("OnDeliver called %d times", delivered.Load())
	}

	// Each recipient finds it in INBOX: by password, and by client certificate (EXTERNAL).
	for _, rcpt := range []string{doctor, doctor2} {
		body := fetchInbox(t, o, rcpt, false)
		if len(body) != 1 || !bytes.HasSuffix(body[0], msg) || !bytes.HasPrefix(body[0], []byte("Return-Path: <"+box+">\r\n")) {
			t.Errorf("%s INBOX = %q", rcpt, body)
		}
	}
	if body := fetchInbox(t, o, doctor, true); len(body) != 1 {
		t.Errorf("EXTERNAL: INBOX has %d messages", len(body))
	}
	// The sender's own box received nothing.
	if body := fetchInbox(t, o, box, true); len(body) != 0 {
		t.Errorf("sender's INBOX has %d messages", len(body))
	}
}

// fetchInbox logs in as address (LOGIN with the password, or AUTHENTICATE EXTERNAL with
// a client certificate) and returns the messages of INBOX.
func fetchInbox(t *testing.T, o *Operator, address string, external bool) [][]byte {
	t.Helper()
	cfg := clientTLS(t, o, "")
	if external {
		cfg = clientTLS(t, o, address)
	}
	c, err := imapclient.DialTLS(o.IMAPAddr, &imapclient.Options{TLSConfig: cfg})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if external {
		if !c.Caps().Has(imap.AuthCap(sasl.External)) {
			t.Errorf("AUTH=EXTERNAL not advertised: %v", c.Caps())
		}
		err = c.Authenticate(sasl.NewExternalClient(""))
	} else {
		err = c.Login(address, o.IMAPPassword(address)).Wait()
	}
	if err != nil {
		t.Fatalf("login %s: %v", address, err)
	}
	sel, err := c.Select("INBOX", nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	if sel.NumMessages > 0 {
		msgs, err := c.Fetch(imap.SeqSetNum(1, sel.NumMessages), &imap.FetchOptions{
			BodySection: []*imap.FetchItemBodySection{{Peek: true}},
		}).Collect()
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			out = append(out, m.BodySection[0].Bytes)
		}
	}
	if err := c.Logout().Wait(); err != nil {
		t.Error(err)
	}
	return out
}

func TestImplicitTLS(t *testing.T) {
	o := start(t, Options{})
	err := send(o, true, clientTLS(t, o, box), envelope{from: box, to: []string{doctor}, data: testMessage("two")})
	if err != nil {
		t.Fatal(err)
	}
	d := waitOne(t, o)
	if !d.ImplicitTLS || d.ClientCertCN != box || d.MessageID != "<two@mssbridge.test>" {
		t.Errorf("delivery = %+v", d)
	}
}

func TestClientCertificateRequired(t *testing.T) {
	o := start(t, Options{})
	noCert := clientTLS(t, o, "")

	other, err := pki.NewCA("Other CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	kp, err := other.IssueClient(box, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	strangerCert, err := kp.TLSCertificate()
	if err != nil {
		t.Fatal(err)
	}
	stranger := noCert.Clone()
	stranger.Certificates = []tls.Certificate{strangerCert}

	tests := []struct {
		name     string
		implicit bool
		cfg      *tls.Config
		version  uint16
	}{
		{"STARTTLS, no certificate", false, noCert, 0},
		{"STARTTLS, no certificate, TLS 1.2", false, noCert, tls.VersionTLS12},
		{"implicit TLS, no certificate", true, noCert, 0},
		{"implicit TLS, no certificate, TLS 1.2", true, noCert, tls.VersionTLS12},
		{"STARTTLS, certificate from another CA", false, stranger, 0},
		{"implicit TLS, certificate from another CA", true, stranger, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg.Clone()
			if tc.version != 0 {
				cfg.MaxVersion = tc.version
			}
			err := send(o, tc.implicit, cfg, envelope{from: box, to: []string{doctor}, data: testMessage("x")})
			if err == nil {
				t.Fatal("message sent without a valid client certificate")
			}
			if testing.Verbose() {
				t.Logf("refused: %v", err)
			}
		})
	}
	if n := len(o.Deliveries()); n != 0 {
		t.Fatalf("%d deliveries", n)
	}
}

func TestMailBeforeSTARTTLS(t *testing.T) {
	o := start(t, Options{})
	c, err := smtp.Dial(o.SMTPAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if ok, _ := c.Extension("STARTTLS"); !ok {
		t.Error("STARTTLS not advertised")
	}
	err = c.Mail(box, nil)
	var se *smtp.SMTPError
	if !errors.As(err, &se) || se.Code != 530 || se.EnhancedCode != (smtp.EnhancedCode{5, 7, 0}) {
		t.Fatalf("MAIL before STARTTLS = %v, want 530 5.7.0", err)
	}
}

func TestReplies(t *testing.T) {
	const (
		busy    = "busy@medecin.mssante.fr"
		unknown = "inconnu@medecin.mssante.fr"
		bad     = "poison@medecin.mssante.fr"
	)
	o := start(t, Options{
		Reply: func(from, rcpt string) *smtp.SMTPError {
			switch rcpt {
			case busy:
				return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Try again later"}
			case unknown:
				return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user"}
			}
			return nil
		},
		DataReply: func(d Delivery) *smtp.SMTPError {
			if slices.Contains(d.To, bad) {
				return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "Content refused"}
			}
			return nil
		},
		MaxMessageBytes: 4096,
	})
	cfg := clientTLS(t, o, box)

	tests := []struct {
		name      string
		env       envelope
		code      int
		enhanced  smtp.EnhancedCode
		temporary bool
	}{
		{"injected 451", envelope{from: box, to: []string{busy}}, 451, smtp.EnhancedCode{4, 3, 0}, true},
		{"injected 550", envelope{from: box, to: []string{doctor, unknown}}, 550, smtp.EnhancedCode{5, 1, 1}, false},
		{"outside the operator's domains", envelope{from: box, to: []string{"x@gmail.com"}}, 550, smtp.EnhancedCode{5, 7, 1}, false},
		{"look-alike domain", envelope{from: box, to: []string{"x@medecin.mssante.fr.evil"}}, 550, smtp.EnhancedCode{5, 7, 1}, false},
		{"sender is not the certificate's box", envelope{from: "autre@ch-exemple.mssante.fr", to: []string{doctor}}, 550, smtp.EnhancedCode{5, 7, 1}, false},
		{"refused after DATA", envelope{from: box, to: []string{bad}}, 554, smtp.EnhancedCode{5, 6, 0}, false},
		{"too large, announced", envelope{from: box, to: []string{doctor}, mailOpts: &smtp.MailOptions{Size: 5000}}, 552, smtp.EnhancedCode{5, 3, 4}, false},
		{"too large, not announced", envelope{from: box, to: []string{doctor}, data: bytes.Repeat([]byte("0123456789abcdef\r\n"), 300)}, 552, smtp.EnhancedCode{5, 3, 4}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.env.data == nil {
				tc.env.data = testMessage("r")
			}
			err := send(o, false, cfg, tc.env)
			var se *smtp.SMTPError
			if !errors.As(err, &se) {
				t.Fatalf("err = %v (%T), want *smtp.SMTPError", err, err)
			}
			if se.Code != tc.code || se.EnhancedCode != tc.enhanced || se.Temporary() != tc.temporary {
				t.Fatalf("got %d %v (temporary %v), want %d %v", se.Code, se.EnhancedCode, se.Temporary(), tc.code, tc.enhanced)
			}
		})
	}
	if n := len(o.Deliveries()); n != 0 {
		t.Fatalf("%d deliveries after refusals", n)
	}

	// A 550 on one recipient still lets a client send to the others.
	c, err := smtp.DialStartTLS(o.SMTPAddr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Mail(box, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt(unknown, nil); err == nil {
		t.Fatal("unknown recipient accepted")
	}
	if err := c.Rcpt(doctor, nil); err != nil {
		t.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	w.Write(testMessage("partial"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if d := waitOne(t, o); !slices.Equal(d.To, []string{doctor}) {
		t.Fatalf("To = %v", d.To)
	}
}

func TestDomains(t *testing.T) {
	o := start(t, Options{Domains: []string{"medecin.mssante.fr", "*.ch-exemple.mssante.fr"}})
	for _, tc := range []struct {
		addr  string
		local bool
	}{
		{doctor, true},
		{"X@MEDECIN.MSSANTE.FR", true},
		{"x@sub.medecin.mssante.fr", false},
		{"x@ch-exemple.mssante.fr", true},
		{"x@labo.ch-exemple.mssante.fr", true},
		{"x@autre.mssante.fr", false},
		{"x@evil-ch-exemple.mssante.fr", false},
	} {
		if got := o.isLocal(tc.addr); got != tc.local {
			t.Errorf("isLocal(%q) = %v", tc.addr, got)
		}
	}
	if _, err := Start(context.Background(), Options{Dir: t.TempDir(), Domains: []string{"*"}}); err == nil {
		t.Error("Start accepted domain *")
	}
}

func TestSMTPAuth(t *testing.T) {
	o := start(t, Options{})
	// A certificate for one box, a password login as another: the login's address
	// may send.
	const other = "noreply-radiologie@ch-exemple.mssante.fr"
	c, err := smtp.DialStartTLS(o.SMTPAddr, clientTLS(t, o, box))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if ok, mechs := c.Extension("AUTH"); !ok || !strings.Contains(mechs, "PLAIN") || !strings.Contains(mechs, "EXTERNAL") {
		t.Fatalf("AUTH = %v %q", ok, mechs)
	}
	if err := c.Auth(sasl.NewPlainClient("", other, "wrong")); err == nil {
		t.Fatal("wrong password accepted")
	}
	if err := c.Auth(sasl.NewPlainClient("", other, o.IMAPPassword(other))); err != nil {
		t.Fatal(err)
	}
	if err := c.SendMail(other, []string{doctor}, bytes.NewReader(testMessage("auth"))); err != nil {
		t.Fatal(err)
	}
	if d := waitOne(t, o); d.AuthUser != other || d.ClientCertCN != box || d.From != other {
		t.Fatalf("delivery = %+v", d)
	}
}

func TestIMAPAuthentication(t *testing.T) {
	o := start(t, Options{})
	if err := send(o, false, clientTLS(t, o, box), envelope{from: box, to: []string{doctor}, data: testMessage("imap")}); err != nil {
		t.Fatal(err)
	}
	waitOne(t, o)

	dial := func(cfg *tls.Config) *imapclient.Client {
		c, err := imapclient.DialTLS(o.IMAPAddr, &imapclient.Options{TLSConfig: cfg})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}

	// Wrong password, unknown user.
	c := dial(clientTLS(t, o, ""))
	if err := c.Login(doctor, "wrong").Wait(); err == nil {
		t.Error("wrong password accepted")
	}
	if err := c.Login("nobody@medecin.mssante.fr", "").Wait(); err == nil {
		t.Error("unknown user accepted")
	}
	// AUTHENTICATE PLAIN works like LOGIN.
	if err := c.Authenticate(sasl.NewPlainClient("", doctor, o.IMAPPassword(doctor))); err != nil {
		t.Errorf("AUTHENTICATE PLAIN: %v", err)
	}

	// Without a certificate, EXTERNAL is neither offered nor accepted.
	c = dial(clientTLS(t, o, ""))
	if c.Caps().Has(imap.AuthCap(sasl.External)) {
		t.Error("AUTH=EXTERNAL offered without a client certificate")
	}
	if err := c.Authenticate(sasl.NewExternalClient("")); err == nil {
		t.Error("EXTERNAL accepted without a client certificate")
	}

	// With the box's certificate, EXTERNAL cannot claim another identity.
	c = dial(clientTLS(t, o, box))
	if err := c.Authenticate(sasl.NewExternalClient(doctor)); err == nil {
		t.Error("EXTERNAL accepted another identity than the certificate's")
	}

	// A certificate from another CA is refused at the handshake.
	other, _ := pki.NewCA("Other CA", time.Hour)
	kp, _ := other.IssueClient(doctor, time.Hour)
	cert, _ := kp.TLSCertificate()
	cfg := clientTLS(t, o, "")
	cfg.Certificates = []tls.Certificate{cert}
	if c, err := imapclient.DialTLS(o.IMAPAddr, &imapclient.Options{TLSConfig: cfg}); err == nil {
		err = c.Authenticate(sasl.NewExternalClient(""))
		c.Close()
		if err == nil {
			t.Error("certificate from another CA accepted")
		}
	}
}

func TestWaitDeliveriesTimeout(t *testing.T) {
	o := start(t, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := o.WaitDeliveries(ctx, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitDeliveries = %v", err)
	}
}

func TestCloseAndCancel(t *testing.T) {
	// A temporary folder is removed by Close.
	o, err := Start(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := o.Dir()
	if _, err := os.Stat(o.CAFile()); err != nil {
		t.Fatal(err)
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	if err := o.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("temporary folder left: %v", err)
	}

	// Cancelling the context stops the servers.
	ctx, cancel := context.WithCancel(context.Background())
	o, err = Start(ctx, Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	addrs := []string{o.SMTPAddr, o.SMTPSAddr, o.IMAPAddr}
	cancel()
	deadline := time.Now().Add(5 * time.Second)
	for _, a := range addrs {
		for {
			c, err := net.DialTimeout("tcp", a, time.Second)
			if err != nil {
				break
			}
			c.Close()
			if time.Now().After(deadline) {
				t.Fatalf("%s still accepts connections", a)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	o.Close()
}

func TestFileName(t *testing.T) {
	tests := []struct{ in, want string }{
		{box, box},
		{"Jean.Martin@Medecin.MSSante.fr", "jean.martin@medecin.mssante.fr"},
	}
	for _, tc := range tests {
		if got := fileName(tc.in); got != tc.want {
			t.Errorf("fileName(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	a, b := fileName(`"a/b"@x.mssante.fr`), fileName(`"a\b"@x.mssante.fr`)
	if a == b || strings.ContainsAny(a, `/\"`) {
		t.Errorf("unsafe or colliding names: %q %q", a, b)
	}
	o := start(t, Options{})
	if _, _, err := o.IssueClient("not an address"); err == nil {
		t.Error("IssueClient accepted a non-address")
	}
	if o.IMAPPassword("") != "" {
		t.Error("password for an empty address")
	}
}
