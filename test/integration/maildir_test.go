//go:build integration

package integration

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// delivered is one message as it landed in a recipient's Maildir.
type delivered struct {
	Path      string
	Header    mail.Header
	Subject   string // decoded
	MessageID string
	PDFs      []pdfPart
}

type pdfPart struct {
	Name string
	Data []byte
}

// mailbox lists the messages delivered to addr (Maildir ROOT/DOMAIN/LOCAL/{new,cur}), oldest
// first. A missing mailbox is an empty one.
func mailbox(addr string) ([]delivered, error) {
	local, domain, ok := strings.Cut(strings.ToLower(addr), "@")
	if !ok {
		return nil, fmt.Errorf("not an address: %q", addr)
	}
	var paths []string
	for _, sub := range []string{"new", "cur"} {
		ps, _ := filepath.Glob(filepath.Join(env.MaildirRoot, domain, local, sub, "*"))
		paths = append(paths, ps...)
	}
	sort.Slice(paths, func(i, j int) bool { return filepath.Base(paths[i]) < filepath.Base(paths[j]) })
	var out []delivered
	for _, p := range paths {
		d, err := readMessage(p)
		if err != nil {
			return out, fmt.Errorf("%s: %w", p, err)
		}
		out = append(out, d)
	}
	return out, nil
}

// maildirCount counts the messages delivered to addr without reading them.
func maildirCount(addr string) int {
	local, domain, _ := strings.Cut(strings.ToLower(addr), "@")
	k := 0
	for _, sub := range []string{"new", "cur"} {
		ents, _ := os.ReadDir(filepath.Join(env.MaildirRoot, domain, local, sub))
		k += len(ents)
	}
	return k
}

func readMessage(path string) (delivered, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return delivered{}, err
	}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return delivered{}, err
	}
	d := delivered{Path: path, Header: msg.Header, MessageID: strings.TrimSpace(msg.Header.Get("Message-Id"))}
	d.Subject, err = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		return d, fmt.Errorf("Subject: %w", err)
	}
	d.PDFs, err = pdfParts(textproto.MIMEHeader(msg.Header), msg.Body, 0)
	return d, err
}

// pdfParts walks the MIME tree and returns every PDF attachment, decoded.
func pdfParts(h textproto.MIMEHeader, body io.Reader, depth int) ([]pdfPart, error) {
	if depth > 10 {
		return nil, fmt.Errorf("MIME nesting deeper than 10")
	}
	ctype := h.Get("Content-Type")
	if ctype == "" {
		ctype = "text/plain"
	}
	mt, params, err := mime.ParseMediaType(ctype)
	if err != nil {
		return nil, fmt.Errorf("Content-Type %q: %w", ctype, err)
	}
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		var out []pdfPart
		for {
			p, err := mr.NextRawPart() // raw: we decode base64 and quoted-printable ourselves
			if err == io.EOF {
				return out, nil
			}
			if err != nil {
				return out, err
			}
			sub, err := pdfParts(p.Header, p, depth+1)
			if err != nil {
				return out, err
			}
			out = append(out, sub...)
		}
	}
	name := params["name"]
	if _, dp, err := mime.ParseMediaType(h.Get("Content-Disposition")); err == nil && dp["filename"] != "" {
		name = dp["filename"]
	}
	isPDF := mt == "application/pdf" ||
		(mt == "application/octet-stream" && strings.HasSuffix(strings.ToLower(name), ".pdf"))
	if !isPDF {
		_, _ = io.Copy(io.Discard, body)
		return nil, nil
	}
	var r io.Reader = body
	switch strings.ToLower(strings.TrimSpace(h.Get("Content-Transfer-Encoding"))) {
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, body) // ignores line breaks
	case "quoted-printable":
		r = quotedprintable.NewReader(body)
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("attachment %q: %w", name, err)
	}
	return []pdfPart{{Name: name, Data: data}}, nil
}

// addressesIn parses an address-list header ("" when absent) into lower-case addresses.
func addressesIn(h mail.Header, key string) []string {
	list, err := h.AddressList(key)
	if err != nil {
		return nil
	}
	var out []string
	for _, a := range list {
		out = append(out, strings.ToLower(a.Address))
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
