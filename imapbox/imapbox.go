// Package imapbox reaches a box's IMAP mailbox for the receiving side: mutual TLS (implicit or
// STARTTLS, TLS 1.2 minimum), AUTHENTICATE EXTERNAL when the certificate is the identity or
// LOGIN when the operator asks for a password, and the few commands the inbox needs. It keeps
// go-imap v2 (a beta, pinned) behind a small API of our own.
package imapbox

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
)

// Endpoint says how to reach the IMAP server.
type Endpoint struct {
	Host     string
	Port     int
	Security string // tls | starttls | none (loopback only, refused by the configuration elsewhere)
	TLS      *tls.Config
	Username string // LOGIN when set; otherwise AUTHENTICATE EXTERNAL with the certificate
	Password string
	Timeout  time.Duration
}

// ErrUntrustedServer: the server's certificate did not verify against the box's trust
// anchors (expired, issued by another authority, or for another name). Nothing was sent, not
// even the login. The operator may fix its certificate, so the caller retries; but it does not
// fix itself when nobody acts, and it may be a man in the middle: say it at error level.
var ErrUntrustedServer = errors.New("server certificate not trusted")

// Message is one message in the selected mailbox.
type Message struct {
	UID  uint32
	Size int64
}

// Conn is an authenticated connection with a selected mailbox.
type Conn struct {
	c           *imapclient.Client
	ep          Endpoint
	mailbox     string
	uidValidity uint32
	newMail     chan struct{}
}

// Dial connects, authenticates and selects mailbox.
func Dial(ctx context.Context, ep Endpoint, mailbox string) (*Conn, error) {
	if ep.Timeout <= 0 {
		ep.Timeout = 60 * time.Second
	}
	cn := &Conn{ep: ep, mailbox: mailbox, newMail: make(chan struct{}, 1)}
	opts := &imapclient.Options{
		TLSConfig: ep.TLS,
		Dialer:    &net.Dialer{Timeout: ep.Timeout},
		UnilateralDataHandler: &imapclient.UnilateralDataHandler{
			Mailbox: func(d *imapclient.UnilateralDataMailbox) {
				if d.NumMessages != nil {
					cn.signal()
				}
			},
		},
	}
	addr := net.JoinHostPort(ep.Host, strconv.Itoa(ep.Port))
	var err error
	type result struct {
		c   *imapclient.Client
		err error
	}
	done := make(chan result, 1)
	go func() {
		var c *imapclient.Client
		var err error
		switch ep.Security {
		case "starttls":
			c, err = imapclient.DialStartTLS(addr, opts)
		case "none":
			c, err = imapclient.DialInsecure(addr, opts)
		default:
			c, err = imapclient.DialTLS(addr, opts)
		}
		done <- result{c, err}
	}()
	select {
	case r := <-done:
		cn.c, err = r.c, r.err
	case <-ctx.Done():
		go func() {
			if r := <-done; r.c != nil {
				r.c.Close()
			}
		}()
		return nil, ctx.Err()
	}
	if err != nil {
		if untrusted(err) {
			return nil, fmt.Errorf("imap connect %s: %w: %w", addr, ErrUntrustedServer, err)
		}
		return nil, fmt.Errorf("imap connect %s: %w", addr, err)
	}
	stop := context.AfterFunc(ctx, func() { cn.c.Close() })
	defer stop()
	if ep.Username != "" {
		err = cn.c.Login(ep.Username, ep.Password).Wait()
	} else {
		err = cn.c.Authenticate(sasl.NewExternalClient(""))
	}
	if err != nil {
		cn.c.Close()
		return nil, fmt.Errorf("imap login: %w", err)
	}
	sel, err := cn.c.Select(mailbox, nil).Wait()
	if err != nil {
		cn.c.Close()
		return nil, fmt.Errorf("imap select %s: %w", mailbox, err)
	}
	cn.uidValidity = sel.UIDValidity
	return cn, nil
}

// untrusted reports whether err is our side refusing the server's certificate (not the server
// refusing ours, which reaches us as a TLS alert).
func untrusted(err error) bool {
	var ua x509.UnknownAuthorityError
	var hn x509.HostnameError
	var ci x509.CertificateInvalidError
	var tv *tls.CertificateVerificationError
	return errors.As(err, &ua) || errors.As(err, &hn) || errors.As(err, &ci) || errors.As(err, &tv)
}

func (cn *Conn) signal() {
	select {
	case cn.newMail <- struct{}{}:
	default:
	}
}

// UIDValidity of the selected mailbox.
func (cn *Conn) UIDValidity() uint32 { return cn.uidValidity }

// Close logs out.
func (cn *Conn) Close() error {
	cn.c.Logout().Wait()
	return cn.c.Close()
}

// List returns the messages in the mailbox, oldest first, without the ones carrying skipFlag
// (when not empty).
func (cn *Conn) List(ctx context.Context, skipFlag string) ([]Message, error) {
	stop := context.AfterFunc(ctx, func() { cn.c.Close() })
	defer stop()
	crit := &imap.SearchCriteria{}
	if skipFlag != "" {
		crit.NotFlag = []imap.Flag{imap.Flag(skipFlag)}
	}
	data, err := cn.c.UIDSearch(crit, nil).Wait()
	if err != nil {
		return nil, fmt.Errorf("imap search: %w", err)
	}
	uids := data.AllUIDs()
	if len(uids) == 0 {
		return nil, nil
	}
	var set imap.UIDSet
	set.AddNum(uids...)
	msgs, err := cn.c.Fetch(set, &imap.FetchOptions{UID: true, RFC822Size: true}).Collect()
	if err != nil {
		return nil, fmt.Errorf("imap fetch sizes: %w", err)
	}
	out := make([]Message, 0, len(msgs))
	for _, m := range msgs {
		out = append(out, Message{UID: uint32(m.UID), Size: m.RFC822Size})
	}
	sortByUID(out)
	return out, nil
}

func sortByUID(m []Message) {
	for i := 1; i < len(m); i++ {
		for j := i; j > 0 && m[j].UID < m[j-1].UID; j-- {
			m[j], m[j-1] = m[j-1], m[j]
		}
	}
}

// Fetch returns the whole message, without setting \Seen.
func (cn *Conn) Fetch(ctx context.Context, uid uint32) ([]byte, error) {
	stop := context.AfterFunc(ctx, func() { cn.c.Close() })
	defer stop()
	section := &imap.FetchItemBodySection{Peek: true}
	msgs, err := cn.c.Fetch(imap.UIDSetNum(imap.UID(uid)), &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{section}}).Collect()
	if err != nil {
		return nil, fmt.Errorf("imap fetch %d: %w", uid, err)
	}
	if len(msgs) == 0 {
		return nil, ErrGone
	}
	return msgs[0].FindBodySection(section), nil
}

// ErrGone: the message is no longer in the mailbox (moved by another client).
var ErrGone = errors.New("message no longer in the mailbox")

// Move moves a message to another mailbox, creating it when needed.
func (cn *Conn) Move(ctx context.Context, uid uint32, dest string) error {
	stop := context.AfterFunc(ctx, func() { cn.c.Close() })
	defer stop()
	set := imap.UIDSetNum(imap.UID(uid))
	_, err := cn.c.Move(set, dest).Wait()
	if err != nil {
		// TRYCREATE: the folder does not exist yet.
		if cerr := cn.c.Create(dest, nil).Wait(); cerr == nil {
			_, err = cn.c.Move(set, dest).Wait()
		}
	}
	if err != nil {
		return fmt.Errorf("imap move %d to %s: %w", uid, dest, err)
	}
	return nil
}

// Flag adds a keyword to a message (when the operator does not allow folders).
func (cn *Conn) Flag(ctx context.Context, uid uint32, flag string) error {
	stop := context.AfterFunc(ctx, func() { cn.c.Close() })
	defer stop()
	err := cn.c.Store(imap.UIDSetNum(imap.UID(uid)), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.Flag(flag)}, Silent: true}, nil).Close()
	if err != nil {
		return fmt.Errorf("imap flag %d: %w", uid, err)
	}
	return nil
}

// Noop checks the connection is alive.
func (cn *Conn) Noop(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { cn.c.Close() })
	defer stop()
	return cn.c.Noop().Wait()
}

// CanIdle reports whether the server offers IDLE.
func (cn *Conn) CanIdle() bool { return cn.c.Caps().Has(imap.CapIdle) }

// Wait blocks until new mail is announced, max elapses or ctx ends. With IDLE it listens to
// the server; without, it just sleeps (the caller polls). A health check (NOOP) follows each
// wait, because IDLE has no read timeout of its own: a dead connection is found within max.
func (cn *Conn) Wait(ctx context.Context, max time.Duration) error {
	timer := time.NewTimer(max)
	defer timer.Stop()
	if !cn.CanIdle() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
		}
		hctx, cancel := context.WithTimeout(ctx, cn.ep.Timeout)
		defer cancel()
		return cn.Noop(hctx)
	}
	idle, err := cn.c.Idle()
	if err != nil {
		return fmt.Errorf("imap idle: %w", err)
	}
	select {
	case <-ctx.Done():
	case <-timer.C:
	case <-cn.newMail:
	case <-cn.c.Closed():
	}
	closeErr := idle.Close()
	if werr := idle.Wait(); werr != nil && closeErr == nil {
		closeErr = werr
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if closeErr != nil {
		return fmt.Errorf("imap idle: %w", closeErr)
	}
	hctx, cancel := context.WithTimeout(ctx, cn.ep.Timeout)
	defer cancel()
	return cn.Noop(hctx)
}
