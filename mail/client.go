package mail

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Security is how the connection is protected.
type Security string

const (
	StartTLS    Security = "starttls"
	ImplicitTLS Security = "tls"
	// Plain is for loopback test peers only; configuration refuses it elsewhere.
	Plain Security = "none"
)

// Endpoint says how to reach a box's submission server.
type Endpoint struct {
	Host     string
	Port     int
	Security Security
	TLS      *tls.Config // trust anchors and client certificate
	Username string      // SASL PLAIN when set
	Password string
	// Timeout bounds each SMTP command and the connection set-up.
	Timeout time.Duration
	// LocalName is sent in EHLO.
	LocalName string
}

// TLSConfig builds the client TLS configuration: TLS 1.2 minimum, the box's client
// certificate, and the configured trust anchors (the system's roots when caFile is empty).
func TLSConfig(host, caFile, certFile, keyFile string) (*tls.Config, error) {
	cfg := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("read ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_file %s holds no PEM certificate", caFile)
		}
		cfg.RootCAs = pool
	}
	if certFile != "" || keyFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("load client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// Class says what to do about a failure.
type Class int

const (
	// Temporary: 4xx and network trouble; retry later with the same Message-ID.
	Temporary Class = iota
	// Permanent: 5xx about this message or a recipient; the job fails and a human looks.
	Permanent
	// Config: the box's configuration is wrong (certificate refused, trust anchor, login):
	// retrying will not help until IT fixes it.
	Config
	// ServerCert: the server's certificate did not verify against the box's trust anchors
	// (expired, issued by another authority, or for another name). Nothing was sent. It is
	// retried like a Temporary failure, because the usual cause is on the operator's side (a
	// certificate not renewed in time, a new one installed with the wrong chain) and goes away
	// without anyone touching the bridge; a man in the middle stays refused at every try. The
	// caller should still tell IT loudly: unlike a 4xx it does not fix itself if nobody acts.
	ServerCert
)

func (c Class) String() string {
	switch c {
	case Temporary:
		return "temporary"
	case Permanent:
		return "permanent"
	case ServerCert:
		return "server certificate"
	default:
		return "configuration"
	}
}

// Error is a classified sending failure.
type Error struct {
	Class     Class
	Stage     string // connect, tls, auth, mail, rcpt, data
	Code      int    // SMTP reply code, 0 when none
	Enhanced  string // e.g. 5.1.1
	Reply     string // the server's reply line(s), as received
	Recipient string // for rcpt failures
	Err       error
}

func (e *Error) Error() string {
	s := e.Stage + ": "
	if e.Recipient != "" {
		s += "<" + e.Recipient + ">: "
	}
	if e.Reply != "" {
		return s + e.Reply
	}
	return s + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// ServerReply renders the reply as a server wrote it ("550 5.1.1 unknown user").
func (e *Error) ServerReply() string { return e.Reply }

// French says what happened in words a secretary understands.
func (e *Error) French() string {
	switch {
	case e.Class == ServerCert && e.Err != nil:
		return "Envoi différé, rien n'a été transmis : " + serverCertFrench(e.Err) + " (" + e.Err.Error() + ")"
	case e.Class == ServerCert:
		return "Envoi différé, rien n'a été transmis : " + serverCertFrench(nil)
	case e.Class == Config && e.Err != nil && strings.Contains(e.Err.Error(), "STARTTLS"):
		// Not the client certificate: a wrong port, a server set up without TLS, or someone
		// in between who strips STARTTLS. Nothing goes in clear either way.
		return "Le serveur de messagerie ne propose pas de connexion chiffrée (STARTTLS) : rien n'a été envoyé. " +
			"Vérifier le port et la sécurité configurés pour la boîte, ou une interception."
	case e.Class == Config && e.Err != nil && strings.Contains(e.Err.Error(), "does not look like a TLS handshake"):
		return "Le serveur de messagerie ne répond pas en TLS sur ce port : rien n'a été envoyé. " +
			"Vérifier le port et la sécurité (tls ou starttls) configurés pour la boîte."
	case e.Class == Config && e.Stage == "auth":
		return "Le serveur de messagerie a refusé l'identification de la boîte (identifiant ou mot de passe)."
	case e.Class == Config:
		return "Le serveur de messagerie a refusé le certificat client de la boîte (certificat absent, expiré ou non reconnu) : à corriger par le service informatique."
	case e.Class == Permanent && e.Stage == "rcpt":
		return fmt.Sprintf("Le serveur a refusé le destinataire %s : %s", e.Recipient, e.Reply)
	case e.Class == Permanent:
		return "Le serveur de messagerie a refusé le message : " + e.reason()
	default:
		return "Envoi différé, nouvel essai prévu : " + e.reason()
	}
}

func (e *Error) reason() string {
	if e.Reply != "" {
		return e.Reply
	}
	if w := networkFrench(e.Err); w != "" {
		// "read tcp 10.0.0.1:4242->10.0.0.2:587: i/o timeout" means nothing to a secretary;
		// the words come first, the detail stays for the technician.
		return w + " (" + e.Err.Error() + ")"
	}
	return e.Err.Error()
}

// networkFrench says in French what a network failure was, or "" when it is not one.
func networkFrench(err error) string {
	var ne net.Error
	var dns *net.DNSError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &dns):
		return "le nom du serveur de messagerie est introuvable"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "le serveur de messagerie ne répond pas (délai dépassé)"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "le serveur de messagerie refuse la connexion"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE), errors.Is(err, net.ErrClosed):
		return "la connexion avec le serveur de messagerie a été coupée"
	}
	return ""
}

// isServerCertProblem reports whether err is our side refusing the server's certificate
// (not the server refusing ours, which reaches us as a TLS alert).
func isServerCertProblem(err error) bool {
	var ua x509.UnknownAuthorityError
	var hn x509.HostnameError
	var ci x509.CertificateInvalidError
	var tv *tls.CertificateVerificationError
	return errors.As(err, &ua) || errors.As(err, &hn) || errors.As(err, &ci) || errors.As(err, &tv)
}

// serverCertFrench says what is wrong with the server's certificate and who can fix it.
func serverCertFrench(err error) string {
	var ua x509.UnknownAuthorityError
	var hn x509.HostnameError
	var ci x509.CertificateInvalidError
	switch {
	case errors.As(err, &ci) && ci.Reason == x509.Expired:
		return "le certificat du serveur de messagerie est expiré ou pas encore valable " +
			"(à renouveler par l'opérateur ; vérifier aussi l'heure de ce serveur)"
	case errors.As(err, &hn):
		return fmt.Sprintf("le certificat du serveur de messagerie n'est pas établi au nom de %s "+
			"(vérifier l'adresse du serveur dans la configuration, ou une interception)", hn.Host)
	case errors.As(err, &ua):
		return "le certificat du serveur de messagerie n'est pas signé par une autorité reconnue " +
			"(ca_file) : possible interception, ou autorité de l'opérateur changée, à vérifier par le service informatique"
	}
	return "le certificat du serveur de messagerie n'a pas pu être vérifié"
}

// classify turns whatever go-smtp or the network returned into an *Error.
func classify(stage, rcpt string, err error) *Error {
	if err == nil {
		return nil
	}
	var already *Error
	if errors.As(err, &already) {
		return already
	}
	e := &Error{Class: Temporary, Stage: stage, Recipient: rcpt, Err: err}
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		e.Code = se.Code
		if se.EnhancedCode != smtp.NoEnhancedCode && se.EnhancedCode != smtp.EnhancedCodeNotSet {
			e.Enhanced = fmt.Sprintf("%d.%d.%d", se.EnhancedCode[0], se.EnhancedCode[1], se.EnhancedCode[2])
		}
		e.Reply = strconv.Itoa(se.Code)
		if e.Enhanced != "" {
			e.Reply += " " + e.Enhanced
		}
		if se.Message != "" {
			e.Reply += " " + se.Message
		}
		msg := strings.ToLower(se.Message)
		switch {
		case se.Code == 421 && strings.Contains(msg, "certificat"):
			// A 421 about the client certificate would otherwise be retried forever.
			e.Class = Config
		case se.Code == 530 || se.Code == 535 || se.Code == 538 || (se.Code == 454 && stage == "auth"):
			e.Class = Config
		case se.Code >= 500:
			e.Class = Permanent
		default:
			e.Class = Temporary
		}
		return e
	}
	if isServerCertProblem(err) {
		e.Class = ServerCert
		return e
	}
	msg := err.Error()
	if strings.Contains(msg, "remote error: tls:") || strings.Contains(msg, "certificate required") {
		// The server refused our certificate (TLS 1.3 reports it on the first command).
		e.Class = Config
		return e
	}
	if strings.Contains(msg, "doesn't support STARTTLS") || strings.Contains(msg, "first record does not look like a TLS handshake") {
		e.Class = Config
		return e
	}
	return e // network errors, timeouts, EOF: temporary
}

// Envelope is one submission.
type Envelope struct {
	From       string
	To         []string // every recipient, to and cc
	EnvelopeID string   // the job id, echoed back in DSNs as Original-Envelope-Id
	Data       []byte
	// Body and Size, when Body is set, take the place of Data: the message is read from a
	// file as it goes out, never held in memory (a 14 MB PDF makes a 39 MB message).
	Body io.ReaderAt
	Size int64
}

func (env Envelope) size() int64 { return sizeOf(env.Data, env.Body, env.Size) }

// content reads the message from its start, each time it is called (a retry on another
// connection sends it again).
func (env Envelope) content() io.Reader { return readerOf(env.Data, env.Body, env.Size) }

// Result tells what the server did with a message it accepted.
type Result struct {
	DSN   bool   // delivery notifications requested (the server advertises DSN)
	Reply string // the 250 reply to DATA
}

// Capabilities is what a server advertised, for check-config --connect.
type Capabilities struct {
	TLSVersion string
	StartTLS   bool
	DSN        bool
	Size       int
	SMTPUTF8   bool
	Auth       string
	ServerCert string // subject of the server's leaf certificate
}

// Client submits messages for one box, reusing connections (at most conns at a time).
type Client struct {
	ep     Endpoint
	idle   chan *conn
	slots  chan struct{}
	mu     sync.Mutex
	closed bool
}

type conn struct {
	c        *smtp.Client
	lastUsed time.Time
}

// maxIdle: servers drop idle sessions after a few minutes (Postfix: 300 s); below that a
// reused connection is nearly always alive, and a failed reuse is retried on a fresh one.
const maxIdle = 60 * time.Second

// NewClient returns a client for ep allowing conns parallel connections.
func NewClient(ep Endpoint, conns int) *Client {
	if conns <= 0 {
		conns = 1
	}
	if ep.Timeout <= 0 {
		ep.Timeout = 60 * time.Second
	}
	ep.LocalName = localName(ep.LocalName)
	return &Client{ep: ep, idle: make(chan *conn, conns), slots: make(chan struct{}, conns)}
}

// Close closes idle connections.
func (cl *Client) Close() error {
	cl.mu.Lock()
	cl.closed = true
	cl.mu.Unlock()
	for {
		select {
		case c := <-cl.idle:
			c.c.Quit()
			c.c.Close()
		default:
			return nil
		}
	}
}

func (ep Endpoint) addr() string { return net.JoinHostPort(ep.Host, strconv.Itoa(ep.Port)) }

func localName(n string) string {
	if n == "" {
		n, _ = os.Hostname()
	}
	if n == "" {
		n = "localhost"
	}
	return n
}

// dial connects, secures and greets; the caller owns the returned client.
func dial(ctx context.Context, ep Endpoint) (*smtp.Client, error) {
	ep.LocalName = localName(ep.LocalName)
	d := net.Dialer{Timeout: ep.Timeout}
	raw, err := d.DialContext(ctx, "tcp", ep.addr())
	if err != nil {
		return nil, classify("connect", "", err)
	}
	// Until the session is set up, a cancelled ctx closes the connection: go-smtp's calls take
	// no context.
	stopWatch := context.AfterFunc(ctx, func() { raw.Close() })
	defer stopWatch()
	tlsCfg := ep.TLS
	if tlsCfg == nil {
		tlsCfg = &tls.Config{ServerName: ep.Host, MinVersion: tls.VersionTLS12}
	}
	var c *smtp.Client
	switch ep.Security {
	case ImplicitTLS:
		tc := tls.Client(raw, tlsCfg)
		hctx, cancel := context.WithTimeout(ctx, ep.Timeout)
		err = tc.HandshakeContext(hctx)
		cancel()
		if err != nil {
			raw.Close()
			return nil, classify("tls", "", err)
		}
		c = smtp.NewClient(tc)
	case Plain:
		c = smtp.NewClient(raw)
	default:
		// go-smtp greets as "localhost" before STARTTLS; it cannot be changed there. Its
		// greeting, EHLO and STARTTLS run with its own 5-minute command timeout, and each
		// resets the connection's deadline: a server that accepted the connection and never
		// spoke held a send for 5 minutes whatever sending.timeout said. The connection caps
		// every deadline at ep.Timeout from now until the session is set up.
		capped := &cappedConn{Conn: raw}
		capped.limit.Store(time.Now().Add(ep.Timeout).UnixNano())
		c, err = smtp.NewClientStartTLS(capped, tlsCfg)
		if err != nil {
			raw.Close()
			return nil, classify("tls", "", ctxErr(ctx, err))
		}
		capped.limit.Store(0)
		raw.SetDeadline(time.Time{}) // each command sets its own from here on
	}
	c.CommandTimeout = ep.Timeout
	c.SubmissionTimeout = 2 * ep.Timeout
	if ep.Security != StartTLS {
		if err := c.Hello(ep.LocalName); err != nil {
			c.Close()
			return nil, classify("connect", "", err)
		}
	}
	// Under TLS 1.3 a refused client certificate surfaces on the first command: NOOP makes it
	// surface here, as a configuration error, rather than as a puzzling MAIL failure.
	if err := c.Noop(); err != nil {
		c.Close()
		return nil, classify("tls", "", err)
	}
	if ep.Username != "" {
		if err := c.Auth(sasl.NewPlainClient("", ep.Username, ep.Password)); err != nil {
			c.Close()
			return nil, classify("auth", "", err)
		}
	}
	return c, nil
}

// cappedConn is a connection whose deadlines never go past limit (UnixNano; 0: no cap).
type cappedConn struct {
	net.Conn
	limit atomic.Int64
}

func (c *cappedConn) cap(t time.Time) time.Time {
	if l := c.limit.Load(); l != 0 && (t.IsZero() || t.UnixNano() > l) {
		return time.Unix(0, l)
	}
	return t
}

func (c *cappedConn) SetDeadline(t time.Time) error      { return c.Conn.SetDeadline(c.cap(t)) }
func (c *cappedConn) SetReadDeadline(t time.Time) error  { return c.Conn.SetReadDeadline(c.cap(t)) }
func (c *cappedConn) SetWriteDeadline(t time.Time) error { return c.Conn.SetWriteDeadline(c.cap(t)) }

// Probe connects, reports what the server advertised, and quits.
func Probe(ctx context.Context, ep Endpoint) (Capabilities, error) {
	c, err := dial(ctx, ep)
	if err != nil {
		return Capabilities{}, err
	}
	defer c.Close()
	var caps Capabilities
	if st, ok := c.TLSConnectionState(); ok {
		caps.TLSVersion = tls.VersionName(st.Version)
		if len(st.PeerCertificates) > 0 {
			caps.ServerCert = st.PeerCertificates[0].Subject.String()
		}
	}
	caps.StartTLS = ep.Security == StartTLS
	caps.DSN, _ = c.Extension("DSN")
	caps.SMTPUTF8, _ = c.Extension("SMTPUTF8")
	caps.Size, _ = c.MaxMessageSize()
	_, caps.Auth = c.Extension("AUTH")
	c.Quit()
	return caps, nil
}

// Send submits one message. It asks for DSN (NOTIFY=SUCCESS,FAILURE, ENVID) when the server
// advertises it and says in Result whether it could. All recipients are accepted or none is
// sent: a message never goes to part of its recipients.
func (cl *Client) Send(ctx context.Context, env Envelope) (Result, error) {
	select {
	case cl.slots <- struct{}{}:
	case <-ctx.Done():
		return Result{}, classify("connect", "", ctx.Err())
	}
	defer func() { <-cl.slots }()

	for attempt := 0; ; attempt++ {
		c, reused, err := cl.get(ctx)
		if err != nil {
			return Result{}, err
		}
		res, err := cl.sendOn(ctx, c.c, env)
		if err == nil {
			c.lastUsed = time.Now()
			cl.put(c)
			return res, nil
		}
		c.c.Close()
		var e *Error
		// A reused connection the server had already dropped: one more try on a fresh one.
		if reused && attempt == 0 && errors.As(err, &e) && e.Code == 0 && e.Class == Temporary && ctx.Err() == nil {
			continue
		}
		return Result{}, err
	}
}

func (cl *Client) get(ctx context.Context) (*conn, bool, error) {
	for {
		select {
		case c := <-cl.idle:
			if time.Since(c.lastUsed) > maxIdle {
				c.c.Close()
				continue
			}
			if err := c.c.Reset(); err != nil {
				c.c.Close()
				continue
			}
			return c, true, nil
		default:
			c, err := dial(ctx, cl.ep)
			if err != nil {
				return nil, false, err
			}
			return &conn{c: c, lastUsed: time.Now()}, false, nil
		}
	}
}

func (cl *Client) put(c *conn) {
	cl.mu.Lock()
	closed := cl.closed
	cl.mu.Unlock()
	if closed {
		c.c.Quit()
		c.c.Close()
		return
	}
	select {
	case cl.idle <- c:
	default:
		c.c.Quit()
		c.c.Close()
	}
}

func (cl *Client) sendOn(ctx context.Context, c *smtp.Client, env Envelope) (Result, error) {
	// go-smtp has no context: closing the client unblocks it when ctx ends.
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()

	var res Result
	res.DSN, _ = c.Extension("DSN")
	mo := &smtp.MailOptions{Size: env.size()}
	if res.DSN {
		mo.EnvelopeID = env.EnvelopeID
		mo.Return = smtp.DSNReturnHeaders
	}
	if max, ok := c.MaxMessageSize(); ok && max > 0 && env.size() > int64(max) {
		return res, &Error{Class: Permanent, Stage: "mail", Err: fmt.Errorf("message of %d bytes is over the server's limit of %d bytes", env.size(), max),
			Reply: fmt.Sprintf("message trop volumineux pour le serveur (%d octets, limite %d)", env.size(), max)}
	}
	if err := c.Mail(env.From, mo); err != nil {
		return res, classify("mail", "", ctxErr(ctx, err))
	}
	var ro *smtp.RcptOptions
	if res.DSN {
		ro = &smtp.RcptOptions{Notify: []smtp.DSNNotify{smtp.DSNNotifySuccess, smtp.DSNNotifyFailure}}
	}
	for _, rcpt := range env.To {
		if err := c.Rcpt(rcpt, ro); err != nil {
			e := classify("rcpt", rcpt, ctxErr(ctx, err))
			c.Reset()
			return res, e
		}
	}
	w, err := c.Data()
	if err != nil {
		return res, classify("data", "", ctxErr(ctx, err))
	}
	// Closing the DATA writer sends the final "." and the server accepts what it got: a copy
	// that failed, or a body shorter than announced (a spool file read badly), must not be
	// closed that way. Dropping the connection instead makes the server discard it all.
	n, err := io.Copy(w, env.content())
	if err == nil && n != env.size() {
		err = fmt.Errorf("read %d bytes of a %d-byte message", n, env.size())
	}
	if err != nil {
		c.Close()
		return res, classify("data", "", ctxErr(ctx, fmt.Errorf("message not sent, connection dropped: %w", err)))
	}
	resp, err := w.CloseWithResponse()
	if err != nil {
		return res, classify("data", "", ctxErr(ctx, err))
	}
	res.Reply = "250 " + resp.StatusText
	return res, nil
}

func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	return err
}
