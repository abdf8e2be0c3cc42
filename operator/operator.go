// Package operator runs a loopback MSSanté operator: real SMTP and IMAP servers on
// 127.0.0.1, in process, for the demo (mssbridge demo) and for fast tests of the mail
// client.
//
// It behaves like an operator towards an applicative box: its own certificate
// authority (package pki) stands in for the IGC-Santé; SMTP submission with STARTTLS
// (SMTPAddr) or implicit TLS (SMTPSAddr), TLS 1.2 or later, and a client certificate
// required and verified on both; MAIL before STARTTLS refused with 530; DSN, SMTPUTF8 and
// SIZE advertised. Each accepted message is recorded (Deliveries, WaitDeliveries) and
// put in the INBOX of each recipient's IMAP account, served with implicit TLS on
// IMAPAddr by go-imap's in-memory server.
//
// Accounts: one per address, made when a client certificate is issued for it
// (IssueClient), when its password is asked for (IMAPPassword), or when it first
// receives a message. IMAP offers LOGIN and AUTHENTICATE PLAIN with the generated
// password, and AUTHENTICATE EXTERNAL with a client certificate issued by the operator
// (its common name is the account). The IMAP port asks for a client certificate but does
// not require one, so that password logins work without.
//
// The SMTP side also offers AUTH PLAIN (the same passwords) and AUTH EXTERNAL, for tests
// of the optional login; the client certificate alone is enough to send. The sender
// (MAIL FROM) must be the address of the client certificate, or of the AUTH login, as an
// operator binds an applicative box to its certificate; Options.AnySender lifts that.
//
// Certificates are made anew at each Start: a previous run's files in Dir are replaced.
package operator

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/mssbridge/mssbridge/pki"
)

// DefaultMaxMessageBytes is the message size cap when Options.MaxMessageBytes is 0: the
// 20 MB of sending.max_message_size's default, in MiB so that a 20 MB document fits.
const DefaultMaxMessageBytes = 20 << 20

// Validity of the generated certificates. They are made anew at each Start; a year keeps
// a demo folder usable for a while after.
const certValidity = 365 * 24 * time.Hour

// hostname is the name the operator gives itself (SMTP greeting, Received header).
const hostname = "localhost"

// Options configure an Operator. The zero value is a working operator.
type Options struct {
	// Dir receives the certificates (ca.crt, server.crt/.key, one pair per issued box).
	// Empty: a temporary folder, removed by Close.
	Dir string
	// Domains are the recipient domains accepted as local: "example.mssante.fr" exactly,
	// or "*.mssante.fr" for that domain and every domain under it. Other recipients get
	// 550 5.7.1. Default: *.mssante.fr.
	Domains []string
	// Reply, when set, is asked first at each RCPT TO. A non-nil error is the server's
	// reply to that recipient (e.g. 451 4.3.0 or 550 5.1.1), which is then not accepted.
	Reply func(from, rcpt string) *smtp.SMTPError
	// DataReply, when set, is asked once the message is read. A non-nil error is the
	// reply to DATA and the message is neither recorded nor delivered.
	DataReply func(d Delivery) *smtp.SMTPError
	// OnDeliver, when set, is called with each accepted message, after it was recorded
	// and put in the recipients' INBOX, before the client gets its 250.
	OnDeliver func(Delivery)
	// MaxMessageBytes caps a message (SIZE). 0: DefaultMaxMessageBytes.
	MaxMessageBytes int64
	// AnySender accepts any MAIL FROM, not only the client certificate's address.
	AnySender bool
	// Logger receives the servers' internal errors, at debug level. nil: discarded.
	Logger *slog.Logger
}

// Delivery is one message accepted by the SMTP server.
type Delivery struct {
	From string
	To   []string // accepted recipients, in RCPT order
	// MailOpts are the MAIL FROM parameters: EnvelopeID (ENVID) and Return (RET) for
	// DSN, Size, Body, UTF8, Auth.
	MailOpts smtp.MailOptions
	// RcptNotify is each recipient's NOTIFY parameter (SUCCESS, FAILURE, DELAY, NEVER);
	// a recipient without NOTIFY is absent.
	RcptNotify map[string][]string
	// RcptORCPT is each recipient's ORCPT parameter ("rfc822;addr"); absent when not given.
	RcptORCPT map[string]string
	// Data is the message as received (CRLF line ends, dot-stuffing removed).
	Data []byte
	// MessageID is the Message-ID header, trimmed, angle brackets kept; "" when absent.
	MessageID string
	// ClientCertCN is the common name of the client certificate.
	ClientCertCN string
	// AuthUser is the SMTP AUTH identity, "" when the client did not authenticate.
	AuthUser string
	// ImplicitTLS says the message came on SMTPSAddr rather than after STARTTLS.
	ImplicitTLS bool
	At          time.Time
}

func (d Delivery) clone() Delivery {
	d.To = slices.Clone(d.To)
	d.RcptNotify = maps.Clone(d.RcptNotify)
	for k, v := range d.RcptNotify {
		d.RcptNotify[k] = slices.Clone(v)
	}
	d.RcptORCPT = maps.Clone(d.RcptORCPT)
	d.Data = slices.Clone(d.Data)
	if d.MailOpts.Auth != nil {
		a := *d.MailOpts.Auth
		d.MailOpts.Auth = &a
	}
	return d
}

// Operator is a running loopback operator.
type Operator struct {
	// SMTPAddr is the submission address with STARTTLS, SMTPSAddr with implicit TLS,
	// IMAPAddr the IMAP address with implicit TLS; all host:port on 127.0.0.1.
	SMTPAddr  string
	SMTPSAddr string
	IMAPAddr  string

	opts    Options
	log     *slog.Logger
	dir     string
	tempDir bool
	ca      *pki.CA
	local   []string // lowercase: "d" exact or ".d" for d and below

	smtp      *smtp.Server
	imap      *imapserver.Server
	mem       *imapmemserver.Server
	listeners []net.Listener
	serving   sync.WaitGroup
	stopCtx   func() bool

	mu         sync.Mutex
	accounts   map[string]*account
	deliveries []Delivery
	changed    chan struct{} // closed and replaced at each delivery

	closeOnce sync.Once
	closeErr  error
}

type account struct {
	password string
	user     *imapmemserver.User
}

// Start makes the certificates and starts the servers. The operator runs until Close
// is called or ctx is done.
func Start(ctx context.Context, opts Options) (*Operator, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	o := &Operator{
		opts:     opts,
		log:      opts.Logger,
		accounts: map[string]*account{},
		changed:  make(chan struct{}),
		mem:      imapmemserver.New(),
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	if o.opts.MaxMessageBytes <= 0 {
		o.opts.MaxMessageBytes = DefaultMaxMessageBytes
	}
	domains := opts.Domains
	if len(domains) == 0 {
		domains = []string{"*.mssante.fr"}
	}
	for _, d := range domains {
		d = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(d)), ".")
		if rest, ok := strings.CutPrefix(d, "*."); ok {
			d = "." + rest
		}
		if d == "" || d == "." || strings.ContainsAny(d, "*@ ") {
			return nil, fmt.Errorf("operator: bad domain %q", d)
		}
		o.local = append(o.local, d)
	}

	ok := false
	defer func() {
		if !ok {
			o.Close()
		}
	}()
	if err := o.makeCerts(); err != nil {
		return nil, err
	}
	if err := o.listen(); err != nil {
		return nil, err
	}
	o.stopCtx = context.AfterFunc(ctx, func() { o.Close() })
	ok = true
	return o, nil
}

func (o *Operator) makeCerts() error {
	o.dir = o.opts.Dir
	if o.dir == "" {
		d, err := os.MkdirTemp("", "mssbridge-operator-")
		if err != nil {
			return fmt.Errorf("operator: %w", err)
		}
		o.dir, o.tempDir = d, true
	} else if err := os.MkdirAll(o.dir, 0o700); err != nil {
		return fmt.Errorf("operator: %w", err)
	}
	ca, err := pki.NewCA("mssbridge demo operator CA", certValidity)
	if err != nil {
		return err
	}
	o.ca = ca
	if err := os.WriteFile(o.CAFile(), ca.CertPEM(), 0o600); err != nil {
		return fmt.Errorf("operator: %w", err)
	}
	return nil
}

func (o *Operator) listen() error {
	srvPair, err := o.ca.IssueServer([]string{"127.0.0.1", "localhost", "::1"}, certValidity)
	if err != nil {
		return err
	}
	if err := srvPair.WriteFiles(o.dir, "server"); err != nil {
		return err
	}
	srvCert, err := srvPair.TLSCertificate()
	if err != nil {
		return err
	}
	smtpTLS := &tls.Config{
		Certificates: []tls.Certificate{srvCert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    o.ca.Pool(),
		MinVersion:   tls.VersionTLS12,
	}
	imapTLS := smtpTLS.Clone()
	imapTLS.ClientAuth = tls.VerifyClientCertIfGiven

	raw := make([]net.Listener, 3)
	for i := range raw {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return fmt.Errorf("operator: %w", err)
		}
		raw[i] = l
		o.listeners = append(o.listeners, l)
	}
	o.SMTPAddr = raw[0].Addr().String()
	o.SMTPSAddr = raw[1].Addr().String()
	o.IMAPAddr = raw[2].Addr().String()

	s := smtp.NewServer(smtp.BackendFunc(o.newSMTPSession))
	s.Domain = hostname
	s.TLSConfig = smtpTLS
	s.MaxMessageBytes = o.opts.MaxMessageBytes
	s.MaxRecipients = 100
	s.ReadTimeout = 60 * time.Second
	s.WriteTimeout = 60 * time.Second
	s.EnableDSN = true
	s.EnableSMTPUTF8 = true
	s.ErrorLog = logAdapter{o.log.With("server", "smtp")}
	o.smtp = s

	o.imap = imapserver.New(&imapserver.Options{
		NewSession: o.newIMAPSession,
		Caps:       imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIMAP4rev2: {}},
		Logger:     logAdapter{o.log.With("server", "imap")},
		// TLSConfig stays nil: no STARTTLS, the listener is TLS from the first byte.
	})

	o.serve(func() error { return s.Serve(raw[0]) })
	o.serve(func() error { return s.Serve(tls.NewListener(raw[1], smtpTLS)) })
	o.serve(func() error { return o.imap.Serve(tls.NewListener(raw[2], imapTLS)) })
	return nil
}

func (o *Operator) serve(f func() error) {
	o.serving.Add(1)
	go func() {
		defer o.serving.Done()
		if err := f(); err != nil && !errors.Is(err, net.ErrClosed) {
			o.log.Debug("operator: server stopped", "err", err)
		}
	}()
}

// Close stops the servers, closes their connections and removes the temporary folder
// if Start made one. It is safe to call more than once.
func (o *Operator) Close() error {
	o.closeOnce.Do(func() {
		if o.stopCtx != nil {
			o.stopCtx()
		}
		if o.smtp != nil {
			o.smtp.Close()
		}
		if o.imap != nil {
			o.imap.Close()
		}
		// The servers close the listeners they saw; closing them here too covers a
		// Serve goroutine that had not started yet.
		for _, l := range o.listeners {
			l.Close()
		}
		o.serving.Wait()
		if o.tempDir {
			o.closeErr = os.RemoveAll(o.dir)
		}
	})
	return o.closeErr
}

// Dir returns the folder holding the certificates.
func (o *Operator) Dir() string { return o.dir }

// CAFile returns the path of the operator's CA certificate (PEM): the ca_file of a box.
func (o *Operator) CAFile() string { return filepath.Join(o.dir, pki.CACertFile) }

// CA returns the operator's certificate authority.
func (o *Operator) CA() *pki.CA { return o.ca }

// IssueClient issues a client certificate for the box address (common name and email
// SAN), writes it in Dir and returns the files' paths. It also makes the address's
// account.
func (o *Operator) IssueClient(address string) (certFile, keyFile string, err error) {
	if !plausibleAddress(address) {
		return "", "", fmt.Errorf("operator: not an address: %q", address)
	}
	kp, err := o.ca.IssueClient(address, certValidity)
	if err != nil {
		return "", "", err
	}
	name := fileName(address)
	if err := kp.WriteFiles(o.dir, name); err != nil {
		return "", "", err
	}
	o.account(address)
	return filepath.Join(o.dir, name+".crt"), filepath.Join(o.dir, name+".key"), nil
}

// IMAPPassword returns the IMAP (and SMTP AUTH) password of address, making its account
// if needed; "" if address is not an address.
func (o *Operator) IMAPPassword(address string) string {
	if !plausibleAddress(address) {
		return ""
	}
	return o.account(address).password
}

// Deliveries returns a copy of the messages accepted so far, oldest first.
func (o *Operator) Deliveries() []Delivery {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([]Delivery, len(o.deliveries))
	for i, d := range o.deliveries {
		out[i] = d.clone()
	}
	return out
}

// WaitDeliveries waits until at least n messages were accepted, and returns them all.
func (o *Operator) WaitDeliveries(ctx context.Context, n int) ([]Delivery, error) {
	for {
		o.mu.Lock()
		count, changed := len(o.deliveries), o.changed
		o.mu.Unlock()
		if count >= n {
			return o.Deliveries(), nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return o.Deliveries(), fmt.Errorf("operator: %d of %d deliveries: %w", count, n, ctx.Err())
		}
	}
}

// account returns the account of address, making it (with a new password and an
// INBOX) if needed. Accounts are keyed by the lowercase address.
func (o *Operator) account(address string) *account {
	key := strings.ToLower(address)
	o.mu.Lock()
	defer o.mu.Unlock()
	if a := o.accounts[key]; a != nil {
		return a
	}
	pw := make([]byte, 18)
	rand.Read(pw)
	a := &account{
		password: base64.RawURLEncoding.EncodeToString(pw),
		user:     imapmemserver.NewUser(key, ""),
	}
	// Create fails only when the mailbox exists; it cannot for a new user.
	_ = a.user.Create("INBOX", nil)
	_ = a.user.Subscribe("INBOX")
	o.accounts[key] = a
	o.mem.AddUser(a.user)
	return a
}

// lookup returns the account of address without making one.
func (o *Operator) lookup(address string) *account {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.accounts[strings.ToLower(address)]
}

// checkPassword reports whether password is the account's, in constant time.
func (o *Operator) checkPassword(username, password string) *account {
	a := o.lookup(username)
	if a == nil {
		// Compare anyway, so a missing account takes as long as a wrong password.
		subtle.ConstantTimeCompare([]byte(password), []byte("x"))
		return nil
	}
	if subtle.ConstantTimeCompare([]byte(password), []byte(a.password)) != 1 {
		return nil
	}
	return a
}

func (o *Operator) isLocal(address string) bool {
	i := strings.LastIndexByte(address, '@')
	if i < 0 {
		return false
	}
	d := strings.ToLower(address[i+1:])
	for _, l := range o.local {
		if rest, ok := strings.CutPrefix(l, "."); ok {
			if d == rest || strings.HasSuffix(d, l) {
				return true
			}
		} else if d == l {
			return true
		}
	}
	return false
}

// deliver records d and appends it to each recipient's INBOX.
func (o *Operator) deliver(d Delivery, helo string) {
	for _, rcpt := range d.To {
		a := o.account(rcpt)
		var hdr bytes.Buffer
		fmt.Fprintf(&hdr, "Return-Path: <%s>\r\n", d.From)
		fmt.Fprintf(&hdr, "Delivered-To: %s\r\n", rcpt)
		fmt.Fprintf(&hdr, "Received: from %s by %s with ESMTPS for <%s>; %s\r\n",
			helo, hostname, rcpt, d.At.Format(time.RFC1123Z))
		msg := append(hdr.Bytes(), d.Data...)
		if _, err := a.user.Append("INBOX", bytes.NewReader(msg), &imap.AppendOptions{Time: d.At}); err != nil {
			o.log.Debug("operator: IMAP append failed", "err", err)
		}
	}
	o.mu.Lock()
	o.deliveries = append(o.deliveries, d)
	close(o.changed)
	o.changed = make(chan struct{})
	o.mu.Unlock()
}

// plausibleAddress is the operator's own light check: one @ with something on each side,
// no space or control character. The trust package does the real checking upstream.
func plausibleAddress(a string) bool {
	i := strings.LastIndexByte(a, '@')
	if i <= 0 || i == len(a)-1 {
		return false
	}
	for j := 0; j < len(a); j++ {
		if a[j] <= ' ' || a[j] == 0x7f {
			return false
		}
	}
	return true
}

// fileName turns an address into a file name safe on every system: letters, digits,
// '.', '-', '_' and '@' are kept, anything else becomes '_', and then a short hash of the
// address is added so that two addresses never share files.
func fileName(address string) string {
	var b strings.Builder
	changed := false
	for _, r := range strings.ToLower(address) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '.', r == '-', r == '_', r == '@':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
			changed = true
		}
	}
	name := strings.Trim(b.String(), ".")
	if changed || name == "" {
		sum := sha256.Sum256([]byte(address))
		name += "-" + hex.EncodeToString(sum[:4])
	}
	return name
}

// logAdapter sends the servers' log lines to slog at debug level.
type logAdapter struct{ l *slog.Logger }

func (a logAdapter) Printf(format string, args ...any) {
	a.l.Debug(strings.TrimSpace(fmt.Sprintf(format, args...)))
}

func (a logAdapter) Println(args ...any) {
	a.l.Debug(strings.TrimSpace(fmt.Sprintln(args...)))
}

// ---- SMTP ----

type smtpSession struct {
	o        *Operator
	helo     string
	tls      bool
	implicit bool
	certCN   string
	authUser string

	from     string
	mailOpts smtp.MailOptions
	rcpts    []string
	notify   map[string][]string
	orcpt    map[string]string
}

var _ smtp.AuthSession = (*smtpSession)(nil)

// newSMTPSession is called at EHLO, and again after STARTTLS: the TLS state is final.
func (o *Operator) newSMTPSession(c *smtp.Conn) (smtp.Session, error) {
	s := &smtpSession{o: o, helo: c.Hostname()}
	if st, ok := c.TLSConnectionState(); ok {
		s.tls = true
		if len(st.PeerCertificates) > 0 {
			s.certCN = st.PeerCertificates[0].Subject.CommonName
		}
		// After STARTTLS the server swaps the connection; an implicit one is TLS at
		// the listener: compare local addresses.
		s.implicit = c.Conn().LocalAddr().String() == o.SMTPSAddr
	}
	return s, nil
}

var (
	errNeedTLS = &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0},
		Message: "Must issue a STARTTLS command first"}
	errSender = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1},
		Message: "Sender address does not match the client certificate"}
	errNotLocal = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1},
		Message: "Relaying denied: domain not served by this operator"}
)

func (s *smtpSession) AuthMechanisms() []string {
	if s.certCN != "" {
		return []string{sasl.Plain, sasl.External}
	}
	return []string{sasl.Plain}
}

func (s *smtpSession) Auth(mech string) (sasl.Server, error) {
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(identity, username, password string) error {
			if identity != "" && identity != username {
				return smtp.ErrAuthFailed
			}
			if s.o.checkPassword(username, password) == nil {
				return smtp.ErrAuthFailed
			}
			s.authUser = strings.ToLower(username)
			return nil
		}), nil
	case sasl.External:
		return sasl.NewExternalServer(func(identity string) error {
			if s.certCN == "" || identity != "" && !strings.EqualFold(identity, s.certCN) {
				return smtp.ErrAuthFailed
			}
			s.authUser = strings.ToLower(s.certCN)
			return nil
		}), nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

func (s *smtpSession) Mail(from string, opts *smtp.MailOptions) error {
	if !s.tls {
		return errNeedTLS
	}
	if !s.o.opts.AnySender && !strings.EqualFold(from, s.certCN) &&
		(s.authUser == "" || !strings.EqualFold(from, s.authUser)) {
		return errSender
	}
	s.from = from
	if opts != nil {
		s.mailOpts = *opts
	}
	return nil
}

func (s *smtpSession) Rcpt(to string, opts *smtp.RcptOptions) error {
	if s.o.opts.Reply != nil {
		if err := s.o.opts.Reply(s.from, to); err != nil {
			return err
		}
	}
	if !s.o.isLocal(to) {
		return errNotLocal
	}
	s.rcpts = append(s.rcpts, to)
	if opts != nil && len(opts.Notify) > 0 {
		if s.notify == nil {
			s.notify = map[string][]string{}
		}
		n := make([]string, len(opts.Notify))
		for i, v := range opts.Notify {
			n[i] = string(v)
		}
		s.notify[to] = n
	}
	if opts != nil && opts.OriginalRecipient != "" {
		if s.orcpt == nil {
			s.orcpt = map[string]string{}
		}
		s.orcpt[to] = string(opts.OriginalRecipientType) + ";" + opts.OriginalRecipient
	}
	return nil
}

func (s *smtpSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	d := Delivery{
		From:         s.from,
		To:           slices.Clone(s.rcpts),
		MailOpts:     s.mailOpts,
		RcptNotify:   maps.Clone(s.notify),
		RcptORCPT:    maps.Clone(s.orcpt),
		Data:         data,
		MessageID:    messageID(data),
		ClientCertCN: s.certCN,
		AuthUser:     s.authUser,
		ImplicitTLS:  s.implicit,
		At:           time.Now().UTC(),
	}
	if s.o.opts.DataReply != nil {
		if err := s.o.opts.DataReply(d.clone()); err != nil {
			return err
		}
	}
	s.o.deliver(d, s.helo)
	if s.o.opts.OnDeliver != nil {
		s.o.opts.OnDeliver(d.clone())
	}
	return nil
}

func (s *smtpSession) Reset() {
	s.from = ""
	s.mailOpts = smtp.MailOptions{}
	s.rcpts = nil
	s.notify = nil
	s.orcpt = nil
}

func (s *smtpSession) Logout() error { return nil }

// messageID returns the Message-ID header of a message, or "".
func messageID(data []byte) string {
	m, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(m.Header.Get("Message-Id"))
}

// ---- IMAP ----

// imapSession is imapmemserver's user session behind our own authentication.
type imapSession struct {
	*imapmemserver.UserSession // nil until authenticated

	o      *Operator
	certCN string
}

var (
	_ imapserver.SessionSASL      = (*imapSession)(nil)
	_ imapserver.SessionIMAP4rev2 = (*imapSession)(nil)
)

// handshakeTimeout bounds the TLS handshake the IMAP side does before its greeting.
const handshakeTimeout = 30 * time.Second

func (o *Operator) newIMAPSession(c *imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
	s := &imapSession{o: o}
	// Finish the handshake now, so that the greeting's capabilities can offer
	// AUTH=EXTERNAL when the client presented a certificate.
	if tc, ok := c.NetConn().(*tls.Conn); ok {
		ctx, cancel := context.WithTimeout(context.Background(), handshakeTimeout)
		err := tc.HandshakeContext(ctx)
		cancel()
		if err != nil {
			return nil, nil, &imap.Error{Type: imap.StatusResponseTypeBye, Text: "TLS handshake failed"}
		}
		if st := tc.ConnectionState(); len(st.PeerCertificates) > 0 {
			s.certCN = st.PeerCertificates[0].Subject.CommonName
		}
	}
	return s, nil, nil
}

func (s *imapSession) Login(username, password string) error {
	a := s.o.checkPassword(username, password)
	if a == nil {
		return imapserver.ErrAuthFailed
	}
	s.UserSession = imapmemserver.NewUserSession(a.user)
	return nil
}

func (s *imapSession) AuthenticateMechanisms() []string {
	if s.certCN != "" {
		return []string{sasl.Plain, sasl.External}
	}
	return []string{sasl.Plain}
}

func (s *imapSession) Authenticate(mech string) (sasl.Server, error) {
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(identity, username, password string) error {
			if identity != "" && identity != username {
				return imapserver.ErrAuthFailed
			}
			return s.Login(username, password)
		}), nil
	case sasl.External:
		return sasl.NewExternalServer(func(identity string) error {
			if s.certCN == "" || !plausibleAddress(s.certCN) ||
				identity != "" && !strings.EqualFold(identity, s.certCN) {
				return imapserver.ErrAuthFailed
			}
			s.UserSession = imapmemserver.NewUserSession(s.o.account(s.certCN).user)
			return nil
		}), nil
	}
	return nil, &imap.Error{Type: imap.StatusResponseTypeNo, Text: "SASL mechanism not supported"}
}
