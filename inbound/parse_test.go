package inbound

import (
	"strings"
	"testing"
)

const dsnPostfix = "From: MAILER-DAEMON@smtp.example.mssante.fr (Mail Delivery System)\r\n" +
	"Subject: Undelivered Mail Returned to Sender\r\n" +
	"To: noreply-bio@ch-exemple.mssante.fr\r\n" +
	"Message-Id: <dsn1@smtp.example>\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n" +
	"--B\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nThis is the mail system.\r\n" +
	"--B\r\nContent-Type: message/delivery-status\r\n\r\n" +
	"Reporting-MTA: dns; smtp.example.mssante.fr\r\nOriginal-Envelope-Id: 20261123-101010-abcd1234\r\n\r\n" +
	"Final-Recipient: rfc822; nobody@medecin.mssante.fr\r\nOriginal-Recipient: rfc822;nobody@medecin.mssante.fr\r\n" +
	"Action: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 <nobody@medecin.mssante.fr>: Recipient address rejected\r\n\r\n" +
	"--B\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-Id: <20261123-101010-abcd1234.ff@ch-exemple.mssante.fr>\r\nSubject: x\r\n\r\n" +
	"--B--\r\n"

const mdn = "From: dr@medecin.mssante.fr\r\nTo: noreply-bio@ch-exemple.mssante.fr\r\nSubject: Lu\r\nMIME-Version: 1.0\r\n" +
	"Content-Type: multipart/report; report-type=disposition-notification; boundary=\"M\"\r\n\r\n" +
	"--M\r\nContent-Type: text/plain\r\n\r\nLu.\r\n" +
	"--M\r\nContent-Type: message/disposition-notification\r\n\r\n" +
	"Final-Recipient: rfc822; dr@medecin.mssante.fr\r\nOriginal-Message-ID: <job.1@ch-exemple.mssante.fr>\r\n" +
	"Disposition: manual-action/MDN-sent-manually; displayed\r\n\r\n--M--\r\n"

func TestParseReports(t *testing.T) {
	p, err := Parse([]byte(dsnPostfix), DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	r := p.Report
	if r == nil || r.Kind != "dsn" || r.OriginalEnvelopeID != "20261123-101010-abcd1234" || len(r.Recipients) != 1 {
		t.Fatalf("report %+v", r)
	}
	rs := r.Recipients[0]
	if rs.Recipient != "nobody@medecin.mssante.fr" || rs.Action != "failed" || rs.Status != "5.1.1" || !strings.Contains(rs.Diagnostic, "550") {
		t.Errorf("recipient status %+v", rs)
	}
	if r.OriginalMessageID != "<20261123-101010-abcd1234.ff@ch-exemple.mssante.fr>" {
		t.Errorf("original message id %q", r.OriginalMessageID)
	}
	p, err = Parse([]byte(mdn), DefaultLimits)
	if err != nil || p.Report == nil || p.Report.Kind != "mdn" || p.Report.Disposition != "displayed" || p.Report.OriginalMessageID != "<job.1@ch-exemple.mssante.fr>" {
		t.Fatalf("mdn %+v %v", p.Report, err)
	}
}

func TestFilenames(t *testing.T) {
	msg := func(disp string) string {
		return "From: a@b.mssante.fr\r\nSubject: x\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"X\"\r\n\r\n" +
			"--X\r\nContent-Type: text/plain\r\n\r\nbonjour\r\n" +
			"--X\r\nContent-Type: application/pdf\r\nContent-Disposition: " + disp + "\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--X--\r\n"
	}
	tests := []struct{ disp, want string }{
		{`attachment; filename*=iso-8859-1''compte%20rendu%20%E9t%E9.pdf`, "compte rendu été.pdf"},
		{`attachment; filename*=utf-8''H%C3%A9l%C3%A8ne.pdf`, "Hélène.pdf"},
		{`attachment; filename*0*=utf-8''D%C3%A9but; filename*1=" suite.pdf"`, "Début suite.pdf"},
		{`attachment; filename="=?iso-8859-1?Q?r=E9sultat.pdf?="`, "résultat.pdf"},
		{`attachment; filename="plain.pdf"`, "plain.pdf"},
		{`attachment; filename*=windows-1252''%80uro.pdf`, "€uro.pdf"},
	}
	for _, tt := range tests {
		p, err := Parse([]byte(msg(tt.disp)), DefaultLimits)
		if err != nil {
			t.Fatalf("%s: %v", tt.disp, err)
		}
		if len(p.Attachments) != 1 || p.Attachments[0].Filename != tt.want {
			t.Errorf("%s: got %+v, want %q", tt.disp, p.Attachments, tt.want)
		}
		if string(p.Attachments[0].Data) != "%PDF-1.4\n" || !strings.Contains(p.Body, "bonjour") {
			t.Errorf("data %q body %q", p.Attachments[0].Data, p.Body)
		}
	}
}

func TestDeepNestingRefused(t *testing.T) {
	var b strings.Builder
	b.WriteString("From: a@b.mssante.fr\r\nMIME-Version: 1.0\r\n")
	depth := 100
	for i := 0; i < depth; i++ {
		b.WriteString("Content-Type: multipart/mixed; boundary=\"b" + itoa(i) + "\"\r\n\r\n--b" + itoa(i) + "\r\n")
	}
	b.WriteString("Content-Type: text/plain\r\n\r\nx\r\n")
	for i := depth - 1; i >= 0; i-- {
		b.WriteString("--b" + itoa(i) + "--\r\n")
	}
	if _, err := Parse([]byte(b.String()), DefaultLimits); err != ErrTooComplex {
		t.Fatalf("err = %v, want ErrTooComplex", err)
	}
}

func itoa(i int) string {
	return strings.TrimSpace(strings.Repeat(" ", 0) + string(rune('a'+i%26)) + string(rune('a'+i/26)))
}

func TestSafeName(t *testing.T) {
	tests := map[string]string{
		"../../etc/passwd":                "passwd",
		`C:\Windows\system32\x.pdf`:       "x.pdf",
		"CON.pdf":                         "_CON.pdf",
		"lpt1":                            "_lpt1",
		"a\x01b\x7f.pdf":                  "a_b_.pdf",
		"what?:*.pdf":                     "what___.pdf",
		"trailing. . ":                    "trailing",
		"":                                "document",
		strings.Repeat("x", 300) + ".pdf": strings.Repeat("x", 76) + ".pdf",
	}
	for in, want := range tests {
		if got := SafeName(in); got != want {
			t.Errorf("SafeName(%q) = %q, want %q", in, got, want)
		}
	}
}
