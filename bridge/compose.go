package bridge

import (
	"fmt"
	"strings"
	"time"

	"github.com/mssbridge/mssbridge/mail"
	"github.com/mssbridge/mssbridge/reading"
	"github.com/mssbridge/mssbridge/routing"
	"github.com/mssbridge/mssbridge/store"
)

// composeMessage writes the message a professional receives: a French subject, a short body
// naming the document and the patient, and the PDF.
func composeMessage(from string, j store.Job, dec routing.Decision, res reading.Result, doc []byte, now time.Time) mail.Message {
	title := firstNonEmpty(dec.Title, res.Document.Title)
	subject := firstNonEmpty(dec.Subject, res.Document.Subject, title, "Document médical")
	var body strings.Builder
	body.WriteString("Bonjour,\n\n")
	if title != "" {
		fmt.Fprintf(&body, "Veuillez trouver ci-joint le document « %s ».\n", title)
	} else {
		body.WriteString("Veuillez trouver ci-joint un document vous concernant ou concernant votre patient.\n")
	}
	if p := res.Patient; p.FamilyName != "" {
		fmt.Fprintf(&body, "\nPatient : %s %s", p.FamilyName, p.GivenNames)
		if d := frenchDate(p.BirthDate); d != "" {
			fmt.Fprintf(&body, ", né(e) le %s", d)
		}
		body.WriteString("\n")
	}
	fmt.Fprintf(&body, "\nCe message a été envoyé automatiquement depuis la boîte applicative %s par la messagerie sécurisée de santé (MSSanté).\n", from)
	name := j.SourceName
	if !strings.EqualFold(docExt(name), ".pdf") || name == "" {
		name = firstNonEmpty(title, "document") + ".pdf"
	}
	return mail.Message{
		From: from, To: dec.To, Cc: dec.Cc, Subject: subject, MessageID: j.MessageID, Date: now,
		Body:        body.String(),
		Attachments: []mail.Attachment{{Filename: name, ContentType: "application/pdf", Data: doc}},
	}
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if strings.TrimSpace(x) != "" {
			return strings.TrimSpace(x)
		}
	}
	return ""
}

func frenchDate(iso string) string {
	t, err := time.Parse("2006-01-02", iso)
	if err != nil {
		return ""
	}
	return t.Format("02/01/2006")
}
