package bridge

import (
	"fmt"

	"github.com/mssbridge/mssbridge/config"
	"github.com/mssbridge/mssbridge/imapbox"
	"github.com/mssbridge/mssbridge/inbound"
	"github.com/mssbridge/mssbridge/store"
)

// IMAPEndpoint turns a box's imap configuration into an endpoint.
func IMAPEndpoint(e config.Endpoint, s config.Sending) (imapbox.Endpoint, error) {
	tc, pw, err := credentials(e)
	return imapbox.Endpoint{Host: e.Host, Port: e.Port, Security: e.Security, Username: e.Username,
		Password: pw, TLS: tc, Timeout: s.Timeout}, err
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
