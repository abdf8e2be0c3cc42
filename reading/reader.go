package reading

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/mssbridge/mssbridge/ins"
	"github.com/mssbridge/mssbridge/pdf"
)

// TrustSpace says whether an address belongs to the MSSanté trust space. It is implemented by
// the trust package; reading only reports what it says (routing enforces it again).
type TrustSpace interface {
	Contains(address string) bool
}

// Reader reads documents. It is safe for concurrent use when its Extractor and TrustSpace
// are.
type Reader struct {
	ex    *pdf.Extractor
	trust TrustSpace
	dir   Directory        // nil: names and RPPS numbers in a letter cannot be resolved
	own   map[string]bool  // the sending side's own addresses, lower case
	now   func() time.Time // birth dates in the future are impossible; tests fix the clock
}

// NewReader returns a Reader that extracts text with ex and checks recipients against
// trust. A nil trust puts every recipient outside the trust space. Options give it the
// directory (WithDirectory) and the sending side's own addresses (WithOwnAddresses).
func NewReader(ex *pdf.Extractor, trust TrustSpace, opts ...Option) *Reader {
	r := &Reader{ex: ex, trust: trust, now: time.Now}
	for _, o := range opts {
		o(r)
	}
	return r
}

// Read reads the PDF at pdfPath and, when sidecarPath is not "", its sidecar JSON. The
// returned error is for the reader's own failures only (a file that cannot be read from disk,
// a cancelled ctx, a closed extractor): a document that is not a readable PDF, is encrypted or
// says contradictory things gives a Result with Decision hold and the reasons in French.
//
// The PDF is read from the file as the readers need it, never held whole in memory: a 50 MB
// scan costs what PDFium draws of it, not 50 MB more (see pdf.Extractor.PagesFrom).
func (r *Reader) Read(ctx context.Context, pdfPath, sidecarPath string) (Result, error) {
	f, err := os.Open(pdfPath)
	if err != nil {
		return Result{}, fmt.Errorf("reading: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	size, err := io.Copy(h, f)
	if err != nil {
		return Result{}, fmt.Errorf("reading: %w", err)
	}
	var pdfiumInfo *pdf.Info // what PDFium read of the Info dictionary, for a file too large for pdfcpu
	doc := source{
		sha256: hex.EncodeToString(h.Sum(nil)),
		inspect: func() (pdf.Info, error) {
			if _, err := f.Seek(0, io.SeekStart); err != nil {
				return pdf.Info{}, err
			}
			return pdf.InspectReader(f)
		},
		pages: func(ctx context.Context, fn func(pdf.Page) error) error {
			if _, err := f.Seek(0, io.SeekStart); err != nil {
				return err
			}
			info, err := r.ex.PagesFromWithInfo(ctx, f, size, fn)
			if err == nil || errors.Is(err, errPageLimit) {
				pdfiumInfo = &info
			}
			return err
		},
		infoFromText: func() (pdf.Info, bool) {
			if pdfiumInfo == nil {
				return pdf.Info{}, false
			}
			return *pdfiumInfo, true
		},
	}
	var sidecar []byte
	sidecarName := ""
	if sidecarPath != "" {
		if sidecar, err = os.ReadFile(sidecarPath); err != nil {
			return Result{}, fmt.Errorf("reading: sidecar: %w", err)
		}
		sidecarName = filepath.Base(sidecarPath)
		if sidecar == nil {
			sidecar = []byte{} // an empty sidecar is still a sidecar (and unreadable JSON)
		}
	}
	return r.read(ctx, filepath.Base(pdfPath), doc, sidecarName, sidecar)
}

// source is a document as read needs it, from a file or from memory.
type source struct {
	sha256  string
	inspect func() (pdf.Info, error)
	pages   func(ctx context.Context, fn func(pdf.Page) error) error
	// infoFromText, when set, gives the Info dictionary as PDFium read it with the pages: the
	// metadata of a file Inspect leaves alone (pdf.ErrNotInspected), XMP excepted.
	infoFromText func() (pdf.Info, bool)
}

// MaxPages is how many pages of a document are read. Reading keeps every page's text and
// lines: a 300-page report peaked at about 110 MB of RSS, 3,000 pages at 420 MB and 20 s.
// A longer document is held, read up to here, with the reason.
const MaxPages = 500

// maxPages is MaxPages; tests lower it.
var maxPages = MaxPages

var errPageLimit = errors.New("reading: page limit")

// text reads the pages of doc, MaxPages at most; more says that the document has more.
func (doc source) text(ctx context.Context) (pages []pdf.Page, more bool, err error) {
	err = doc.pages(ctx, func(p pdf.Page) error {
		if len(pages) == maxPages {
			return errPageLimit
		}
		pages = append(pages, p)
		return nil
	})
	if errors.Is(err, errPageLimit) {
		return pages, true, nil
	}
	if err != nil {
		return nil, false, err
	}
	return pages, false, nil
}

// ReadBytes is Read for a document already in memory. name is the PDF's base name; sidecar
// is nil when there is none, and sidecarName its base name for the reasons (NAME.json when
// empty).
func (r *Reader) ReadBytes(ctx context.Context, name string, pdfBytes []byte, sidecarName string, sidecar []byte) (Result, error) {
	sum := sha256.Sum256(pdfBytes)
	doc := source{
		sha256:  hex.EncodeToString(sum[:]),
		inspect: func() (pdf.Info, error) { return pdf.InspectBytes(pdfBytes) },
		pages: func(ctx context.Context, fn func(pdf.Page) error) error {
			return r.ex.Pages(ctx, pdfBytes, fn)
		},
	}
	return r.read(ctx, name, doc, sidecarName, sidecar)
}

func (r *Reader) read(ctx context.Context, name string, doc source, sidecarName string, sidecar []byte) (Result, error) {
	if r.ex == nil {
		return Result{}, errors.New("reading: no text extractor")
	}
	res := Result{
		File:       name,
		SHA256:     doc.sha256,
		Recipients: []Recipient{},
		Reasons:    []string{},
	}
	now := r.now()

	var sources []*found // in order of precedence: tag, metadata, sidecar

	info, infoErr := doc.inspect()
	var pages []pdf.Page
	var textErr error
	more := false
	if !errors.Is(infoErr, pdf.ErrEncrypted) {
		pages, more, textErr = doc.text(ctx)
	}
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	if errors.Is(infoErr, pdf.ErrNotInspected) && doc.infoFromText != nil {
		if fi, ok := doc.infoFromText(); ok {
			info, infoErr = fi, nil
		}
	}
	readable, garbled := true, false
	switch {
	case errors.Is(infoErr, pdf.ErrEncrypted) || errors.Is(textErr, pdf.ErrEncrypted):
		res.hold("Le PDF est protégé par un mot de passe")
		readable = false
	case errors.Is(textErr, pdf.ErrOverMemory):
		// A decompression bomb, or a page far beyond what a letter draws.
		res.hold("Le document demande plus de mémoire que permis pour être lu (flux compressé démesuré ?) : il doit être vérifié par une personne")
		readable = false
	case errors.Is(textErr, pdf.ErrUnreadable):
		res.hold("Le fichier n'est pas un PDF lisible : " + unreadableDetail(textErr, infoErr))
		readable = false
	case textErr != nil:
		return Result{}, fmt.Errorf("reading %s: %w", name, textErr)
	}

	if readable {
		// PDFium read it; pdfcpu may still have refused its structure. Then the metadata is
		// unknown, the text layer and the sidecar remain.
		res.Pages = len(pages)
		if infoErr == nil && info.Pages > 0 {
			res.Pages = info.Pages
		}
		if more {
			n := "plus de " + fmt.Sprint(maxPages)
			if res.Pages > maxPages {
				n = fmt.Sprint(res.Pages)
			}
			res.hold(fmt.Sprintf("Document de %s pages : seules les %d premières ont été lues, il doit être vérifié par une personne", n, maxPages))
		}
		texts := make([]string, len(pages))
		for i, p := range pages {
			texts[i] = p.Text
			if strings.TrimSpace(p.Text) != "" {
				res.TextLayer = true
			}
		}
		res.Text = strings.Join(texts, "\f")
		if !res.TextLayer {
			res.hold("Aucun texte lisible dans le document (scan ?)")
		}
		if bad := garbagePages(pages); len(bad) > 0 {
			res.hold(fmt.Sprintf("Texte illisible (polices sans correspondance Unicode ?) page(s) %s : le document doit être lu par une personne", joinInts(bad)))
			garbled = true
		}
		sources = append(sources, textTags(pages, now))
		if infoErr == nil {
			sources = append(sources, metadataTags(info, now))
		}
	}
	if sidecar != nil {
		if sidecarName == "" {
			sidecarName = strings.TrimSuffix(name, filepath.Ext(name)) + ".json"
		}
		sources = append(sources, parseSidecar(sidecarName, sidecar, now))
	}

	var letter *letterFound
	if res.TextLayer && !garbled {
		l := r.readLetter(pages)
		letter = &l
	}
	r.merge(&res, sources, findTextINS(pages), letter, now)
	r.decide(&res)
	return res, nil
}

// textTags reads the tags of every line of every page.
func textTags(pages []pdf.Page, now time.Time) *found {
	p := newTagParser(SourceTag, now)
	for _, pg := range pages {
		for _, l := range pg.Lines {
			for _, t := range scanTags(l.Text, textTagRE) {
				p.add(t)
			}
		}
	}
	return p.f
}

// merge fills res from the sources, highest precedence first, field by field, and holds the
// document on every malformed item and on every contradiction between sources.
func (r *Reader) merge(res *Result, sources []*found, texts []textINS, letter *letterFound, now time.Time) {
	for _, f := range sources {
		for _, p := range f.problems {
			res.hold(p)
		}
	}

	// Recipients: "to" and "cc" each come whole from the first source that has some. The
	// letter's own reading is used only when the software gave no recipient at all.
	var to, cc []Recipient
	for _, f := range sources {
		if to == nil && len(f.to) > 0 {
			to = f.to
		}
		if cc == nil && len(f.cc) > 0 {
			cc = f.cc
		}
	}
	if to == nil && cc == nil && letter != nil {
		to, cc = letter.to, letter.cc
		for _, p := range letter.recipientProblems {
			res.hold(p)
		}
	}
	merged := &found{}
	for _, list := range [][]Recipient{to, cc} {
		for _, rc := range list {
			merged.addRecipient(rc)
		}
	}
	for _, list := range [][]Recipient{merged.to, merged.cc} {
		for _, rc := range list {
			rc.InTrustSpace = r.trust != nil && r.trust.Contains(rc.Address)
			res.Recipients = append(res.Recipients, rc)
		}
	}

	// Patient, field by field.
	pt := &res.Patient
	var insFrom, birthFrom, familyFrom *found
	for _, f := range sources {
		if f.ins != "" {
			if insFrom == nil {
				pt.INS, pt.INSKeyValid, insFrom = f.ins, f.insKeyValid, f
			} else if f.ins != pt.INS {
				res.hold(fmt.Sprintf("Les sources ne désignent pas le même patient : INS %s (%s) et %s (%s)",
					pt.INS, sourceFrench(insFrom.source), f.ins, sourceFrench(f.source)))
			}
		}
		if f.birth != "" {
			if birthFrom == nil {
				pt.BirthDate, birthFrom = f.birth, f
			} else if f.birth != pt.BirthDate {
				res.hold(fmt.Sprintf("Les sources ne désignent pas le même patient : né(e) le %s (%s) et le %s (%s)",
					pt.BirthDate, sourceFrench(birthFrom.source), f.birth, sourceFrench(f.source)))
			}
		}
		if f.family != "" {
			if familyFrom == nil {
				pt.FamilyName, familyFrom = f.family, f
			} else if foldName(f.family) != foldName(pt.FamilyName) {
				res.hold(fmt.Sprintf("Les sources ne désignent pas le même patient : %s (%s) et %s (%s)",
					pt.FamilyName, sourceFrench(familyFrom.source), f.family, sourceFrench(f.source)))
			}
		}
		if pt.GivenNames == "" && f.given != "" {
			pt.GivenNames = f.given
		}
		if pt.BirthPlace == "" && f.birthPlace != "" {
			pt.BirthPlace = f.birthPlace
		}
		if pt.Sex == "" && f.sex != "" {
			pt.Sex = f.sex
		}
	}

	// The INS printed in the letter: used when the software gave none, compared otherwise.
	var valid []string
	for _, t := range texts {
		switch {
		case t.err != nil:
			res.hold(fmt.Sprintf("INS imprimé illisible : « %s » (%s)", t.value, insErrorFrench(t.err)))
		case !t.keyValid:
			res.hold(fmt.Sprintf("La clé de l'INS imprimé %s ne correspond pas", t.value))
			if pt.INS == "" {
				pt.INS, pt.INSKeyValid = t.value, false
			}
		default:
			valid = append(valid, t.value)
		}
	}
	switch {
	case len(valid) > 1:
		res.hold("Plusieurs INS différents sont imprimés dans le document : " + strings.Join(valid, ", "))
	case len(valid) == 1 && insFrom != nil && valid[0] != pt.INS:
		res.hold(fmt.Sprintf("L'INS imprimé (%s) n'est pas celui donné par le logiciel (%s)", valid[0], pt.INS))
	case len(valid) == 1 && (pt.INS == "" || !pt.INSKeyValid):
		pt.INS, pt.INSKeyValid = valid[0], true
	}
	if letter != nil {
		r.mergeLetterPatient(res, letter, familyFrom, birthFrom, now)
	}
	if pt.Sex == "" && pt.INSKeyValid {
		pt.Sex = ins.SexFromINS(pt.INS)
	}
	if letter != nil && pt.Sex == "" {
		pt.Sex = letter.patient.sex // a weak sign (« née », « Patiente »), when nothing else says
	}
	checkAgainstINS(res)

	// Document fields: the first source that has each.
	for _, f := range sources {
		res.Document.Title = firstNonEmpty(res.Document.Title, f.title)
		res.Document.Subject = firstNonEmpty(res.Document.Subject, f.subject)
		res.Document.Box = firstNonEmpty(res.Document.Box, f.box)
		res.Document.Date = firstNonEmpty(res.Document.Date, f.date)
	}
	if letter != nil && res.Document.Title == "" && res.Document.Subject == "" {
		res.Document.Title = letter.title
	}
}

// decide sets Decision: send only when there is a "to" recipient, every recipient is in the
// trust space and the patient is identified; otherwise hold with every reason.
func (r *Reader) decide(res *Result) {
	hasTo := false
	for _, rc := range res.Recipients {
		if rc.Role == RoleTo {
			hasTo = true
		}
		if !rc.InTrustSpace {
			res.hold("Destinataire hors de l'espace de confiance MSSanté : " + rc.Address)
		}
	}
	if !hasTo {
		res.hold(ReasonNoRecipient)
	}
	pt := res.Patient
	identified := (pt.FamilyName != "" && pt.GivenNames != "" && pt.BirthDate != "") ||
		(pt.INS != "" && pt.INSKeyValid)
	if !identified {
		res.hold("Patient non identifié")
	}
	if len(res.Reasons) == 0 {
		res.Decision = DecisionSend
	} else {
		res.Decision = DecisionHold
	}
}

// hold adds a reason once.
func (res *Result) hold(reason string) {
	for _, r := range res.Reasons {
		if r == reason {
			return
		}
	}
	res.Reasons = append(res.Reasons, reason)
}

func sourceFrench(s Source) string {
	switch s {
	case SourceTag:
		return "balise"
	case SourceMetadata:
		return "métadonnées"
	case SourceSidecar:
		return "fichier compagnon"
	case SourceText:
		return "texte"
	}
	return string(s)
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// foldName compares family names the way a person does: case, accents, hyphens, apostrophes
// and spaces do not matter.
func foldName(s string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(s) {
		switch {
		case strings.ContainsRune("ÀÂÄÁÃ", r):
			r = 'A'
		case strings.ContainsRune("ÉÈÊË", r):
			r = 'E'
		case strings.ContainsRune("ÎÏÍÌ", r):
			r = 'I'
		case strings.ContainsRune("ÔÖÓÒÕ", r):
			r = 'O'
		case strings.ContainsRune("ÛÜÙÚ", r):
			r = 'U'
		case r == 'Ç':
			r = 'C'
		case r == 'Ÿ':
			r = 'Y'
		case r == ' ' || r == '-' || r == '\'' || r == '’':
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// unreadableDetail says in a few words why the PDF could not be read.
func unreadableDetail(textErr, infoErr error) string {
	msg := textErr.Error()
	if i := strings.LastIndex(msg, pdf.ErrUnreadable.Error()+": "); i >= 0 {
		msg = msg[i+len(pdf.ErrUnreadable.Error())+2:]
	}
	switch {
	case strings.Contains(msg, "empty file"):
		return "fichier vide"
	case strings.Contains(msg, "incorrect format"), strings.Contains(msg, "unable to read file"):
		if infoErr != nil {
			return "format incorrect (fichier tronqué, endommagé ou d'un autre type)"
		}
		return "format incorrect"
	}
	// PDFium's own words ("page 1: 6: incorrect page", a WebAssembly trap with its stack) mean
	// nothing to the person who reads the reason: say which page, keep one short line of the
	// detail for the technician.
	detail := msg
	if i := strings.IndexByte(detail, '\n'); i >= 0 {
		detail = detail[:i]
	}
	if r := []rune(detail); len(r) > 100 {
		detail = string(r[:100]) + "…"
	}
	if m := pageErrRE.FindStringSubmatch(msg); m != nil {
		return "page " + m[1] + " illisible (" + detail + ")"
	}
	return "structure endommagée (" + detail + ")"
}

var pageErrRE = regexp.MustCompile(`^page (\d+):`)

func joinInts(ns []int) string {
	parts := make([]string, len(ns))
	for i, n := range ns {
		parts[i] = fmt.Sprint(n)
	}
	return strings.Join(parts, ", ")
}
