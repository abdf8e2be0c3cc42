package bridge

import (
	"fmt"
	"os"
	"strings"

	"github.com/mssbridge/mssbridge/config"
	"github.com/mssbridge/mssbridge/imapbox"
	"github.com/mssbridge/mssbridge/inbound"
	"github.com/mssbridge/mssbridge/mail"
	"github.com/mssbridge/mssbridge/store"
)

// IMAPEndpoint turns a box's imap configuration into an endpoint.
func IMAPEndpoint(e config.Endpoint, s config.Sending) (imapbox.Endpoint, error) {
	ep := imapbox.Endpoint{Host: e.Host, Port: e.Port, Security: e.Security, Username: e.Username, Timeout: s.Timeout}
	if e.Security != "none" {
		tc, err := mail.TLSConfig(e.Host, e.CAFile, e.CertFile, e.KeyFile)
		if err != nil {
			return ep, err
		}
		ep.TLS = tc
	}
	if e.PasswordFile != "" {
		pw, err := os.ReadFile(e.PasswordFile)
		if err != nil {
			return ep, fmt.Errorf("read password_file: %w", err)
		}
		ep.Password = strings.TrimRight(string(pw), "\r\n")
	}
	return ep, nil
}

// inboxOptions configures the receiving side of a box.
func (b *Bridge) inboxOptions(box config.Box) (inbound.Options, error) {
	ep, err := IMAPEndpoint(*box.IMAP, b.cfg.Sending)
	if err != nil {
		return inbound.Options{}, err
	}
	ledger, ok := b.store.(inbound.Ledger)
	if !ok {
		return inbound.Options{}, fmt.Errorf("the job store cannot record received messages")
	}
	lim := inbound.DefaultLimits
	lim.MaxAttachment = int64(b.cfg.Import.MaxAttachment)
	return inbound.Options{
		Box: box.ID, Endpoint: ep, Mailbox: box.IMAP.Mailbox,
		Processed: box.IMAP.ProcessedMailbox, Quarantine: box.IMAP.QuarantineMailbox, FlagOnly: box.IMAP.FlagOnly,
		ImportDir: b.cfg.Import.Path, QuarantineDir: b.cfg.Import.Quarantine,
		MaxMessage: int64(b.cfg.Import.MaxMessageSize), Limits: lim,
		Ledger: ledger, Notifier: b, ParseXDM: b.parseXDM, Logger: b.log,
	}, nil
}

var _ inbound.Ledger = (*store.SQLite)(nil)
