package bridge

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/mssbridge/mssbridge/config"
	"github.com/mssbridge/mssbridge/mail"
	"github.com/mssbridge/mssbridge/reading"
	"github.com/mssbridge/mssbridge/routing"
	"github.com/mssbridge/mssbridge/store"
)

// composeMessage writes the message a professional receives: a French subject, a short body
// naming the document and the patient, and the PDF.
func composeMessage(box config.Box, j store.Job, dec routing.Decision, res reading.Result, doc mail.Attachment, now time.Time) mail.Message {
	from := box.Address
	title := firstNonEmpty(dec.Title, res.Document.Title)
	subject := firstNonEmpty(dec.Subject, res.Document.Subject, title, "Document médical")
	toPatient := len(dec.To) > 0 && routing.IsPatient(dec.To[0])
	var body strings.Builder
	body.WriteString("Bonjour,\n\n")
	headers := map[string]string{}
	if rt := firstNonEmpty(dec.ReplyTo, box.ReplyTo); rt != "" {
		headers["Reply-To"] = rt
	}
	if dec.ReadReceipt {
		headers["Disposition-Notification-To"] = from
	}
	if dec.CloseConversation {
		// The ANS intermediation volet: subject exactly [FIN] and X-MSS-MES: FIN close a
		// conversation with a patient.
		subject = "[FIN]"
		headers["X-MSS-MES"] = "FIN"
	}
	if toPatient {
		if title != "" {
			fmt.Fprintf(&body, "Votre établissement de santé vous transmet le document « %s ».\n", title)
		} else {
			body.WriteString("Votre établissement de santé vous transmet un document vous concernant.\n")
		}
		body.WriteString("\nVous le retrouvez en pièce jointe de ce message, dans votre messagerie de santé Mon Espace Santé.\n")
		body.WriteString("Pour toute question sur ce document, adressez-vous au professionnel qui vous suit.\n")
		fmt.Fprintf(&body, "\nMessage envoyé par %s via la messagerie sécurisée de santé.\n", from)
		return mail.Message{From: from, To: dec.To, Subject: subject, MessageID: j.MessageID, Date: now, Body: body.String(), Headers: headers,
			Attachments: []mail.Attachment{withName(doc, attachmentName(j, title), "application/pdf")}}
	}
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
	return mail.Message{
		From: from, To: dec.To, Cc: dec.Cc, Subject: subject, MessageID: j.MessageID, Date: now,
		Body: body.String(), Headers: headers,
		Attachments: []mail.Attachment{withName(doc, attachmentName(j, title), "application/pdf")},
	}
}

func attachmentName(j store.Job, title string) string {
	name := j.SourceName
	if !strings.EqualFold(docExt(name), ".pdf") || name == "" {
		name = firstNonEmpty(title, "document") + ".pdf"
	}
	return name
}

// excludedFromXDM reports whether a recipient is listed (address or @domain) as unable to
// read IHE XDM.
func excludedFromXDM(list, recipients []string) bool {
	for _, r := range recipients {
		for _, x := range list {
			x = strings.ToLower(strings.TrimSpace(x))
			if x == r || (strings.HasPrefix(x, "@") && strings.HasSuffix(r, x)) {
				return true
			}
		}
	}
	return false
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

// withName is the document's attachment under the name and type the recipient sees.
func withName(a mail.Attachment, name, contentType string) mail.Attachment {
	a.Filename, a.ContentType = name, contentType
	return a
}

// outgoing holds the files a send writes in the spool (the IHE XDM package, the message),
// removed once the send is over whatever its outcome. A crash leaves them under names
// safefile.CleanTemp recognises, and Recover removes them.
type outgoing struct {
	dir, job string
	doc      *os.File // the job's PDF, opened for reading
	files    []*os.File
}

// write fills a new spool file through fill and returns it as an attachment body.
func (o *outgoing) write(kind string, fill func(io.Writer) error) (mail.Attachment, error) {
	name := filepath.Join(o.dir, fmt.Sprintf(".%s-%s.%d-%d.tmp", o.job, kind, os.Getpid(), outgoingSeq.Add(1)))
	// The name is one safefile.CleanTemp removes after a crash: ".NAME.PID-N.tmp".
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return mail.Attachment{}, fmt.Errorf("spool %s: %w", kind, err)
	}
	o.files = append(o.files, f)
	w := bufio.NewWriterSize(f, 64<<10)
	if err := fill(w); err != nil {
		return mail.Attachment{}, err
	}
	if err := w.Flush(); err != nil {
		return mail.Attachment{}, fmt.Errorf("spool %s: %w", kind, err)
	}
	st, err := f.Stat()
	if err != nil {
		return mail.Attachment{}, fmt.Errorf("spool %s: %w", kind, err)
	}
	return mail.Attachment{Body: f, Size: st.Size()}, nil
}

// outgoingSeq numbers the spool files of this process: a name is never used twice, even when
// the file of an earlier try could not be removed (Windows, a scanner holding it).
var outgoingSeq atomic.Int64

// remove closes the document and removes what was written; it may be called again. A file
// that cannot be removed now is removed by safefile.CleanTemp at the next start.
func (o *outgoing) remove() error {
	if o.doc != nil {
		o.doc.Close()
		o.doc = nil
	}
	var errs []error
	for _, f := range o.files {
		f.Close()
		if err := os.Remove(f.Name()); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	o.files = nil
	return errors.Join(errs...)
}
