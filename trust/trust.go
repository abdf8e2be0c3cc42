// Package trust decides whether an address is in the MSSanté trust space (espace de
// confiance), the only place mssbridge ever sends to.
//
// Every MSSanté address lives under mssante.fr. A Space is either "any domain under
// mssante.fr" or the exact list of domains from the ANS liste blanche; in both cases a
// domain outside mssante.fr is never in it, whatever a file says. Matching is on the
// whole domain, case-insensitive: medecin.mssante.fr is not
// medecin.mssante.fr.example.net, and fakemssante.fr is not under mssante.fr.
//
// Addresses are checked for syntax before anything else (ValidAddress): plain ASCII
// addresses only, as MSSanté uses them; internationalised domains and local parts are
// refused rather than guessed at. Errors never repeat the address, because a patient's
// address (INS@patient.mssante.fr) carries the INS and errors end up in logs.
package trust

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// Root is the domain every MSSanté address lives under.
const Root = "mssante.fr"

// PatientDomain is the domain of patients' addresses (MSS citoyenne): INS@patient.mssante.fr.
const PatientDomain = "patient.mssante.fr"

// ListeBlancheNS is the XML namespace of the ANS liste blanche. Load does not require it:
// it matches Domaine/Nom elements by local name.
const ListeBlancheNS = "https://listeblanche.mssante.fr/schema"

// ErrInvalidAddress is wrapped by every error of ValidAddress.
var ErrInvalidAddress = errors.New("invalid address")

// Space is a set of MSSanté domains. The zero value is empty: it contains nothing.
type Space struct {
	anyUnderRoot bool
	domains      map[string]struct{}
	ignored      []Ignored
	source       string
}

// Ignored is an entry of a domains file that Load left out of the space.
type Ignored struct {
	Line   int    // 1-based line in the file (for XML, the line of the Nom element)
	Domain string // as written
	Reason string
}

// Any returns the space of every domain under mssante.fr.
func Any() *Space { return &Space{anyUnderRoot: true} }

// New returns the space of the given domains. Domains that are malformed or outside
// mssante.fr are left out and listed by Ignored.
func New(domains ...string) *Space {
	s := &Space{domains: map[string]struct{}{}}
	for _, d := range domains {
		s.add(0, d)
	}
	return s
}

// Load reads the trust space from domainsFile.
//
// An empty name gives Any(). Otherwise the file is either the ANS liste blanche as
// downloaded (XML, recognised by its content: domains in Domaine/Nom elements, namespace
// https://listeblanche.mssante.fr/schema or none) or plain text, one domain a line, with
// blank lines and # comments. In a text file a line that is not a domain name is an
// error FILE:LINE; in either format a domain outside mssante.fr is left out and listed
// by Ignored, for the caller to warn about. A file that yields no domain is an error.
func Load(domainsFile string) (*Space, error) {
	if domainsFile == "" {
		return Any(), nil
	}
	data, err := os.ReadFile(domainsFile)
	if err != nil {
		return nil, fmt.Errorf("trust: %w", err)
	}
	s := &Space{domains: map[string]struct{}{}, source: domainsFile}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // UTF-8 BOM
	if trimmed := bytes.TrimLeft(data, " \t\r\n"); len(trimmed) > 0 && trimmed[0] == '<' {
		if err := s.loadXML(data); err != nil {
			return nil, fmt.Errorf("%s: %w", domainsFile, err)
		}
	} else if err := s.loadText(domainsFile, data); err != nil {
		return nil, err
	}
	if len(s.domains) == 0 {
		return nil, fmt.Errorf("%s: no domain under %s in the file", domainsFile, Root)
	}
	return s, nil
}

func (s *Space) loadText(name string, data []byte) error {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		if i := strings.IndexByte(text, '#'); i >= 0 {
			text = text[:i]
		}
		text = strings.TrimSpace(text)
		if text == "" {
			continue
		}
		if err := checkDomain(strings.TrimSuffix(text, ".")); err != nil {
			return fmt.Errorf("%s:%d: %q is not a domain name: %v", name, line, text, err)
		}
		s.add(line, text)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s:%d: %w", name, line+1, err)
	}
	return nil
}

func (s *Space) loadXML(data []byte) error {
	dec := xml.NewDecoder(bytes.NewReader(data))
	// The liste blanche is UTF-8; accept the usual Latin-1 declaration as well, since
	// domain names are ASCII anyway.
	dec.CharsetReader = func(charset string, r io.Reader) (io.Reader, error) {
		switch strings.ToLower(charset) {
		case "iso-8859-1", "latin1", "latin-1", "us-ascii", "windows-1252":
			return r, nil
		}
		return nil, fmt.Errorf("unsupported charset %q", charset)
	}
	var stack []string
	var text strings.Builder
	inNom := false
	nomLine := 0
	sawRoot := false
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("liste blanche XML: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			sawRoot = true
			stack = append(stack, t.Name.Local)
			if t.Name.Local == "Nom" && len(stack) >= 2 && stack[len(stack)-2] == "Domaine" {
				inNom = true
				nomLine, _ = dec.InputPos()
				text.Reset()
			}
		case xml.CharData:
			if inNom {
				text.Write(t)
			}
		case xml.EndElement:
			if inNom && t.Name.Local == "Nom" {
				inNom = false
				d := strings.TrimSpace(text.String())
				if d != "" {
					s.add(nomLine, d)
				}
			}
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		}
	}
	if !sawRoot {
		return errors.New("liste blanche XML: no element")
	}
	return nil
}

// add puts domain d in the space if it is a well-formed domain under mssante.fr, and
// records why not otherwise.
func (s *Space) add(line int, d string) {
	norm := strings.TrimSuffix(strings.ToLower(d), ".")
	if err := checkDomain(norm); err != nil {
		s.ignored = append(s.ignored, Ignored{Line: line, Domain: d, Reason: "not a domain name: " + err.Error()})
		return
	}
	if !underRoot(norm) {
		s.ignored = append(s.ignored, Ignored{Line: line, Domain: d, Reason: "outside " + Root})
		return
	}
	s.domains[norm] = struct{}{}
}

// underRoot reports whether the lowercase domain d is mssante.fr or a subdomain of it.
func underRoot(d string) bool {
	return d == Root || strings.HasSuffix(d, "."+Root)
}

// Contains reports whether address is a well-formed address whose domain is in the space.
func (s *Space) Contains(address string) bool {
	if s == nil || ValidAddress(address) != nil {
		return false
	}
	return s.ContainsDomain(Domain(address))
}

// ContainsDomain reports whether the domain (any case, no trailing dot) is in the space.
func (s *Space) ContainsDomain(domain string) bool {
	if s == nil {
		return false
	}
	d := strings.ToLower(domain)
	if checkDomain(d) != nil || !underRoot(d) {
		return false
	}
	if s.anyUnderRoot {
		return true
	}
	_, ok := s.domains[d]
	return ok
}

// AnyUnderRoot reports whether the space is every domain under mssante.fr rather than a list.
func (s *Space) AnyUnderRoot() bool { return s != nil && s.anyUnderRoot }

// Domains returns the listed domains, sorted (none for AnyUnderRoot).
func (s *Space) Domains() []string {
	if s == nil {
		return nil
	}
	out := make([]string, 0, len(s.domains))
	for d := range s.domains {
		out = append(out, d)
	}
	slices.Sort(out)
	return out
}

// Ignored returns the entries of the file that were left out, in file order.
func (s *Space) Ignored() []Ignored {
	if s == nil {
		return nil
	}
	return slices.Clone(s.ignored)
}

// Source returns the file the space was loaded from ("" for Any or New).
func (s *Space) Source() string {
	if s == nil {
		return ""
	}
	return s.source
}

// Domain returns the lowercase domain of address (what follows the last @), or "" when
// there is no @. It does not check the syntax.
func Domain(address string) string {
	i := strings.LastIndexByte(address, '@')
	if i < 0 {
		return ""
	}
	return strings.ToLower(address[i+1:])
}

// IsPatientAddress reports whether address is a well-formed address at
// patient.mssante.fr (a patient's MSS citoyenne box). It does not check the INS in the
// local part: the ins package does.
func IsPatientAddress(address string) bool {
	return ValidAddress(address) == nil && Domain(address) == PatientDomain
}

// Length limits from RFC 5321 section 4.5.3.1 (local part 64, domain 255 less the
// brackets of a path: 253 in practice, label 63) and RFC 3696 erratum 1690 (address 254).
const (
	maxAddress = 254
	maxLocal   = 64
	maxDomain  = 253
	maxLabel   = 63
)

// ValidAddress checks the syntax of a bare address (no display name, no angle brackets):
// one @ outside quotes; a local part that is a dot-atom (RFC 5322 atext, no leading,
// trailing or double dot) or a quoted string; a domain of at least two ASCII labels of
// letters, digits and hyphens, 1–63 characters each, not starting or ending with a hyphen,
// no trailing dot; at most 254 characters; no space, control or non-ASCII character
// anywhere, quoted or not. Address literals ([192.0.2.1]) are refused. The error wraps
// ErrInvalidAddress and says what is wrong without repeating the address.
func ValidAddress(address string) error {
	if address == "" {
		return invalid("empty")
	}
	if len(address) > maxAddress {
		return invalid("longer than %d characters", maxAddress)
	}
	for i := 0; i < len(address); i++ {
		c := address[i]
		switch {
		case c >= 0x80:
			return invalid("non-ASCII character (internationalised addresses are not accepted)")
		case c < 0x20 || c == 0x7f:
			return invalid("control character")
		case c == ' ':
			return invalid("space")
		}
	}
	at := strings.LastIndexByte(address, '@')
	if at < 0 {
		return invalid("no @")
	}
	local, domain := address[:at], address[at+1:]
	if err := checkLocal(local); err != nil {
		return err
	}
	if err := checkDomain(domain); err != nil {
		return invalid("domain: %v", err)
	}
	return nil
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidAddress, fmt.Sprintf(format, args...))
}

func checkLocal(local string) error {
	switch {
	case local == "":
		return invalid("empty local part")
	case len(local) > maxLocal:
		return invalid("local part longer than %d characters", maxLocal)
	case local[0] == '"':
		return checkQuoted(local)
	}
	if local[0] == '.' || local[len(local)-1] == '.' || strings.Contains(local, "..") {
		return invalid("local part has a leading, trailing or double dot")
	}
	for i := 0; i < len(local); i++ {
		c := local[i]
		if c == '.' || isAtext(c) {
			continue
		}
		if c == '@' {
			return invalid("more than one @")
		}
		return invalid("character %q not allowed in an unquoted local part", c)
	}
	return nil
}

// checkQuoted checks a quoted-string local part: "..." with printable ASCII inside,
// backslash escaping one character. Spaces and controls were refused before.
func checkQuoted(local string) error {
	if len(local) < 2 || local[len(local)-1] != '"' {
		return invalid("unterminated quoted local part")
	}
	inner := local[1 : len(local)-1]
	if inner == "" {
		return invalid("empty quoted local part")
	}
	for i := 0; i < len(inner); i++ {
		switch inner[i] {
		case '\\':
			i++
			if i == len(inner) {
				return invalid("quoted local part ends with a backslash")
			}
		case '"':
			return invalid("unescaped quote in quoted local part")
		}
	}
	return nil
}

// isAtext reports whether c is an RFC 5322 atext character (ASCII).
func isAtext(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

// checkDomain checks an ASCII host name of at least two labels (case does not matter).
func checkDomain(d string) error {
	switch {
	case d == "":
		return errors.New("empty")
	case len(d) > maxDomain:
		return fmt.Errorf("longer than %d characters", maxDomain)
	case d[0] == '[':
		return errors.New("address literals are not accepted")
	case strings.HasSuffix(d, "."):
		return errors.New("trailing dot")
	case !strings.Contains(d, "."):
		return errors.New("a single label")
	}
	for label := range strings.SplitSeq(d, ".") {
		if label == "" {
			return errors.New("empty label")
		}
		if len(label) > maxLabel {
			return fmt.Errorf("label longer than %d characters", maxLabel)
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return errors.New("label starts or ends with a hyphen")
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
				if c >= 0x80 {
					return errors.New("non-ASCII character (write it in punycode, xn--)")
				}
				return fmt.Errorf("character %q not allowed", c)
			}
		}
	}
	return nil
}
