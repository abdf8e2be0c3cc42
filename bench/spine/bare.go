package main

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/mssbridge/mssbridge/mail"
)

// buildMessages renders one message per document with mail.Build, outside any timing: the
// baseline measures the wire only. The body is the one the bridge writes, give or take the
// document number. Message-IDs carry tag so that each run's deliveries can be checked.
func buildMessages(docs []doc, from, to, tag string) ([][]byte, []string, error) {
	msgs := make([][]byte, len(docs))
	ids := make([]string, len(docs))
	now := time.Now()
	for i, d := range docs {
		title := fmt.Sprintf("Compte rendu de biologie n° %03d", i+1)
		ids[i] = fmt.Sprintf("<bench-%s-%03d@mssbridge.bench>", tag, i+1)
		body := "Bonjour,\n\nVeuillez trouver ci-joint le document « " + title + " ».\n\n" +
			"Patient : DUPONT Marie, né(e) le 12/03/1956\n\n" +
			"Ce message a été envoyé automatiquement depuis la boîte applicative " + from +
			" par la messagerie sécurisée de santé (MSSanté).\n"
		raw, err := mail.Build(mail.Message{
			From: from, To: []string{to}, Subject: title, MessageID: ids[i], Date: now, Body: body,
			Attachments: []mail.Attachment{{Filename: d.name, ContentType: "application/pdf", Data: d.data}},
		})
		if err != nil {
			return nil, nil, err
		}
		msgs[i] = raw
	}
	return msgs, ids, nil
}

// runBare sends msgs over one mutual-TLS connection (STARTTLS), reused for every message, with
// go-smtp directly: no store, no journal, no reading. The envelope is the bridge's (SIZE, and
// ENVID/RET/NOTIFY when the server offers DSN) so that the server does the same work for both.
// The clock runs from the TCP connect to the last 250.
func runBare(p *peer, msgs [][]byte, ids []string, to string) (time.Duration, error) {
	tlsCfg, err := mail.TLSConfig(p.host, p.caFile, p.certFile, p.keyFile)
	if err != nil {
		return 0, err
	}
	start := time.Now()
	conn, err := net.DialTimeout("tcp", net.JoinHostPort(p.host, strconv.Itoa(p.port)), 10*time.Second)
	if err != nil {
		return 0, fmt.Errorf("bare client: connect: %w", err)
	}
	c, err := smtp.NewClientStartTLS(conn, tlsCfg)
	if err != nil {
		conn.Close()
		return 0, fmt.Errorf("bare client: STARTTLS: %w", err)
	}
	defer c.Close()
	c.CommandTimeout = 30 * time.Second
	c.SubmissionTimeout = 60 * time.Second
	dsn, _ := c.Extension("DSN")
	for i, m := range msgs {
		mo := &smtp.MailOptions{Size: int64(len(m))}
		var ro *smtp.RcptOptions
		if dsn {
			mo.EnvelopeID = strings.Trim(ids[i], "<>")
			mo.Return = smtp.DSNReturnHeaders
			ro = &smtp.RcptOptions{Notify: []smtp.DSNNotify{smtp.DSNNotifySuccess, smtp.DSNNotifyFailure}}
		}
		if err := c.Mail(p.box, mo); err != nil {
			return 0, fmt.Errorf("bare client: message %d: MAIL: %w", i+1, err)
		}
		if err := c.Rcpt(to, ro); err != nil {
			return 0, fmt.Errorf("bare client: message %d: RCPT: %w", i+1, err)
		}
		w, err := c.Data()
		if err != nil {
			return 0, fmt.Errorf("bare client: message %d: DATA: %w", i+1, err)
		}
		if _, err := w.Write(m); err != nil {
			w.Close()
			return 0, fmt.Errorf("bare client: message %d: DATA: %w", i+1, err)
		}
		if err := w.Close(); err != nil {
			return 0, fmt.Errorf("bare client: message %d: end of DATA: %w", i+1, err)
		}
	}
	elapsed := time.Since(start)
	c.Quit()
	return elapsed, nil
}
