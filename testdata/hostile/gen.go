// Package hostile makes the documents the hostile-input tests (test/hostile) drop into the
// bridge: ordinary tagged letters, and files made to hurt a PDF reader (truncated, random,
// encrypted, a decompression bomb, deep nesting, 300 pages, 50 MB). Small ones are cheap to
// make at test time; big ones are written straight to a file so that the test process never
// holds them. Everything is invented: the patients below do not exist.
package hostile

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"regexp"
	"strings"

	"github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
)

// Patient is an invented patient whose identity the privacy tests look for in the logs.
type Patient struct {
	Family, Given, Birth, INS string
}

// Dupont is the patient of every tagged letter. The INS key is valid (97 - NIR mod 97).
var Dupont = Patient{Family: "DUPONT", Given: "Marie Claire", Birth: "1956-03-12", INS: "256037512345654"}

// Recipient is a professional in the trust space (the operator accepts *.mssante.fr).
const Recipient = "paul.mercier@medecin.mssante.fr"

// TaggedLines are the lines a clinical software prints for a sendable letter.
func TaggedLines(p Patient, title string) []string {
	return []string{
		"#MSS-TO: " + Recipient,
		"#MSS-PATIENT: " + p.Family + "|" + p.Given + "|" + p.Birth + "|" + p.INS,
		"#MSS-TITLE: " + title,
		"Compte rendu de consultation",
		"Patiente : Mme " + p.Family + " " + p.Given + ", nee le 12/03/1956",
		"Cher confrere, j'ai revu votre patiente ce jour. Examen rassurant.",
	}
}

// builder writes a PDF with a correct cross-reference table.
type builder struct {
	objs []func(w io.Writer) error // object n+1's body, written between "n 0 obj" and "endobj"
}

func (b *builder) add(body string) int {
	return b.addFn(func(w io.Writer) error { _, err := io.WriteString(w, body); return err })
}

func (b *builder) addFn(f func(io.Writer) error) int {
	b.objs = append(b.objs, f)
	return len(b.objs)
}

// reserve adds an object whose body is set later (pages refer to their parent).
func (b *builder) reserve() int { return b.add("null") }

func (b *builder) set(n int, body string) {
	b.objs[n-1] = func(w io.Writer) error { _, err := io.WriteString(w, body); return err }
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func (b *builder) write(w io.Writer, root int) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	cw := &countWriter{w: bw}
	fmt.Fprint(cw, "%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
	offsets := make([]int64, len(b.objs))
	for i, f := range b.objs {
		offsets[i] = cw.n
		fmt.Fprintf(cw, "%d 0 obj\n", i+1)
		if err := f(cw); err != nil {
			return err
		}
		fmt.Fprint(cw, "\nendobj\n")
	}
	xref := cw.n
	fmt.Fprintf(cw, "xref\n0 %d\n0000000000 65535 f \n", len(b.objs)+1)
	for _, off := range offsets {
		fmt.Fprintf(cw, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(cw, "trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(b.objs)+1, root, xref)
	return bw.Flush()
}

func (b *builder) bytes(root int) []byte {
	var buf bytes.Buffer
	if err := b.write(&buf, root); err != nil {
		panic(err) // a bytes.Buffer does not fail
	}
	return buf.Bytes()
}

// escape writes s as a PDF literal string in WinAnsi (Latin-1 for the French letters).
func escape(s string) string {
	var out strings.Builder
	for _, r := range s {
		switch {
		case r == '(' || r == ')' || r == '\\':
			out.WriteByte('\\')
			out.WriteRune(r)
		case r < 128:
			out.WriteRune(r)
		case r < 256:
			fmt.Fprintf(&out, "\\%03o", r)
		default:
			out.WriteByte('?')
		}
	}
	return out.String()
}

// textContent draws lines top-down in 11-point Helvetica.
func textContent(lines []string) string {
	var c strings.Builder
	c.WriteString("BT /F1 11 Tf 14 TL 56 780 Td\n")
	for _, l := range lines {
		fmt.Fprintf(&c, "(%s) Tj T*\n", escape(l))
	}
	c.WriteString("ET\n")
	return c.String()
}

func stream(dict, data string) string {
	return fmt.Sprintf("<< %s /Length %d >>\nstream\n%s\nendstream", dict, len(data), data)
}

// doc holds the common skeleton: catalog, pages, font.
type doc struct {
	b            *builder
	catalog      int
	pages        int
	font         int
	kids         []int
	extraResDict string
}

func newDoc() *doc {
	d := &doc{b: &builder{}}
	d.catalog = d.b.reserve()
	d.pages = d.b.reserve()
	d.font = d.b.add("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
	return d
}

// page adds a page whose content stream object is content (an object number).
func (d *doc) page(content int) {
	p := d.b.add(fmt.Sprintf("<< /Type /Page /Parent %d 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 %d 0 R >> %s >> /Contents %d 0 R >>",
		d.pages, d.font, d.extraResDict, content))
	d.kids = append(d.kids, p)
}

func (d *doc) finish() {
	var kids strings.Builder
	for _, k := range d.kids {
		fmt.Fprintf(&kids, "%d 0 R ", k)
	}
	d.b.set(d.pages, fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", kids.String(), len(d.kids)))
	d.b.set(d.catalog, fmt.Sprintf("<< /Type /Catalog /Pages %d 0 R >>", d.pages))
}

// Letter is a one-page PDF with a text layer holding lines.
func Letter(lines []string) []byte {
	d := newDoc()
	d.page(d.b.add(stream("", textContent(lines))))
	d.finish()
	return d.b.bytes(d.catalog)
}

// Tagged is a sendable letter for p, with title to tell documents apart.
func Tagged(p Patient, title string) []byte { return Letter(TaggedLines(p, title)) }

// ManyPages is an n-page tagged letter: the tags on page 1, forty ordinary lines on every page.
func ManyPages(n int, p Patient) []byte {
	d := newDoc()
	for i := 1; i <= n; i++ {
		var lines []string
		if i == 1 {
			lines = TaggedLines(p, "Dossier long")
		}
		for j := 0; len(lines) < 45; j++ {
			lines = append(lines, fmt.Sprintf("Page %d, ligne %d : texte ordinaire d'un long compte rendu d'hospitalisation.", i, j))
		}
		d.page(d.b.add(stream("", textContent(lines))))
	}
	d.finish()
	return d.b.bytes(d.catalog)
}

// WriteBig writes to path a tagged one-page letter of about size bytes: the page also draws
// a grey-scale image of random (incompressible) samples, as a scanned attachment would.
func WriteBig(path string, size int64, p Patient) error {
	d := newDoc()
	w := int64(4096)
	h := max(size/w, 1)
	rng := rand.New(rand.NewPCG(1, 2))
	img := d.b.addFn(func(out io.Writer) error {
		fmt.Fprintf(out, "<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray /BitsPerComponent 8 /Length %d >>\nstream\n", w, h, w*h)
		row := make([]byte, w)
		for y := int64(0); y < h; y++ {
			for i := 0; i < len(row); i += 8 {
				v := rng.Uint64()
				for k := 0; k < 8; k++ {
					row[i+k] = byte(v >> (8 * k))
				}
			}
			if _, err := out.Write(row); err != nil {
				return err
			}
		}
		_, err := io.WriteString(out, "\nendstream")
		return err
	})
	d.extraResDict = fmt.Sprintf("/XObject << /Im1 %d 0 R >>", img)
	d.page(d.b.add(stream("", "q 500 0 0 700 50 60 cm /Im1 Do Q\n"+textContent(TaggedLines(p, "Document numerise")))))
	d.finish()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if err := d.b.write(f, d.catalog); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// DensePage is a one-page tagged letter whose page also draws n one-character text objects,
// as converters that place every glyph on its own do.
func DensePage(n int) []byte {
	var c strings.Builder
	c.WriteString(textContent(TaggedLines(Dupont, "Page dense")))
	c.WriteString("BT /F1 6 Tf 20 60 Td\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&c, "%d %d Td (%c) Tj\n", 3-6*(i%100/99), -(i%100/99)*7, 'a'+rune(i%26))
	}
	c.WriteString("ET\n")
	d := newDoc()
	d.page(d.b.add(stream("", c.String())))
	d.finish()
	return d.b.bytes(d.catalog)
}

// FlateBomb is a small PDF whose page content stream is Flate-compressed twice
// (/Filter [/FlateDecode /FlateDecode]) and inflates to inflated bytes of blanks: a few
// kilobytes on disk for gigabytes once decoded. The tags are in a second, ordinary page, so a
// reader that survives could still find them.
func FlateBomb(inflated int64) []byte {
	d := newDoc()
	d.page(d.b.add(stream("/Filter [/FlateDecode /FlateDecode]", string(deflateTwice(inflated)))))
	d.page(d.b.add(stream("", textContent(TaggedLines(Dupont, "Bombe")))))
	d.finish()
	return d.b.bytes(d.catalog)
}

// deflateTwice returns inflated blanks Flate-compressed twice: decode with
// /Filter [/FlateDecode /FlateDecode]. 2 GiB make about 10 KB.
func deflateTwice(inflated int64) []byte {
	var inner bytes.Buffer
	// BestSpeed: 2 GiB in about 1.5 s instead of 5, and still only 10 KB once compressed again.
	zw, _ := zlib.NewWriterLevel(&inner, zlib.BestSpeed)
	chunk := bytes.Repeat([]byte(" "), 1<<20)
	for left := inflated; left > 0; left -= int64(len(chunk)) {
		zw.Write(chunk[:min(int64(len(chunk)), left)])
	}
	zw.Close()
	var outer bytes.Buffer
	zw, _ = zlib.NewWriterLevel(&outer, zlib.BestCompression)
	zw.Write(inner.Bytes())
	zw.Close()
	return outer.Bytes()
}

// MetadataBomb is a tagged letter whose catalog's XMP metadata stream inflates to inflated
// bytes.
func MetadataBomb(inflated int64) []byte {
	d := newDoc()
	meta := d.b.add(stream("/Type /Metadata /Subtype /XML /Filter [/FlateDecode /FlateDecode]", string(deflateTwice(inflated))))
	d.page(d.b.add(stream("", textContent(TaggedLines(Dupont, "Bombe XMP")))))
	d.finish()
	d.b.set(d.catalog, fmt.Sprintf("<< /Type /Catalog /Pages %d 0 R /Metadata %d 0 R >>", d.pages, meta))
	return d.b.bytes(d.catalog)
}

// DeepNesting is a PDF whose page carries an array nested depth levels deep ([[[…]]]), and
// a dictionary nested as deep, then the usual text.
func DeepNesting(depth int) []byte {
	d := newDoc()
	arr := d.b.add(strings.Repeat("[", depth) + strings.Repeat("]", depth))
	dict := d.b.add(strings.Repeat("<< /A ", depth) + "1" + strings.Repeat(" >>", depth))
	d.extraResDict = fmt.Sprintf("/X1 %d 0 R /X2 %d 0 R", arr, dict)
	d.page(d.b.add(stream("", textContent(TaggedLines(Dupont, "Imbrique")))))
	d.finish()
	return d.b.bytes(d.catalog)
}

// ReferenceLoop is a PDF whose page tree refers to itself: the Pages node is its own kid,
// and two objects refer to each other.
func ReferenceLoop() []byte {
	b := &builder{}
	catalog := b.reserve()
	pages := b.reserve()
	a := b.reserve()
	c := b.add(fmt.Sprintf("%d 0 R", a))
	b.set(a, fmt.Sprintf("%d 0 R", c))
	b.set(pages, fmt.Sprintf("<< /Type /Pages /Kids [%d 0 R] /Count 1 /Loop %d 0 R >>", pages, a))
	b.set(catalog, fmt.Sprintf("<< /Type /Catalog /Pages %d 0 R >>", pages))
	return b.bytes(catalog)
}

// Encrypted is a tagged letter encrypted with AES-256 and a user password: nobody can open
// it without the password.
func Encrypted() ([]byte, error) {
	conf := model.NewAESConfiguration("secret-user", "secret-owner", 256)
	var out bytes.Buffer
	if err := api.Encrypt(bytes.NewReader(Tagged(Dupont, "Chiffre")), &out, conf); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// Random is n bytes of noise, the same for a given seed.
func Random(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// RandomWithPDFHeader is noise that starts like a PDF and ends with the end marker: it passes
// the watcher's checks and reaches the reader.
func RandomWithPDFHeader(n int, seed uint64) []byte {
	b := append([]byte("%PDF-1.7\n"), Random(n, seed)...)
	return append(b, "\n%%EOF\n"...)
}

// Truncated is the first half of a tagged letter with "%%EOF" appended, as a copy cut short
// by a full disk and "repaired" by a careless tool would look.
func Truncated() []byte {
	full := Tagged(Dupont, "Tronque")
	return append(full[:len(full)/2:len(full)/2], "\n%%EOF\n"...)
}

// Padded returns the PDF b grown past n bytes by an incremental update that adds one unused
// stream object: the same document for every reader, only larger. b must end with a classic
// cross-reference table whose trailer names /Size, /Root and possibly /Info.
func Padded(b []byte, n int) ([]byte, error) {
	i := bytes.LastIndex(b, []byte("startxref"))
	t := bytes.LastIndex(b, []byte("trailer"))
	if i < 0 || t < 0 || t > i {
		return nil, errors.New("padded: no classic trailer")
	}
	var prev int
	if _, err := fmt.Sscanf(string(b[i:]), "startxref\n%d", &prev); err != nil {
		return nil, fmt.Errorf("padded: startxref: %w", err)
	}
	trailer := string(b[t:i])
	size, root, info := 0, "", ""
	if m := regexp.MustCompile(`/Size (\d+)`).FindStringSubmatch(trailer); m != nil {
		fmt.Sscan(m[1], &size)
	}
	if m := regexp.MustCompile(`/Root (\d+ \d+ R)`).FindStringSubmatch(trailer); m != nil {
		root = m[1]
	}
	if m := regexp.MustCompile(`/Info (\d+ \d+ R)`).FindStringSubmatch(trailer); m != nil {
		info = " /Info " + m[1]
	}
	if size == 0 || root == "" {
		return nil, errors.New("padded: trailer without /Size or /Root")
	}
	out := append([]byte(nil), b...)
	if out[len(out)-1] != '\n' {
		out = append(out, '\n')
	}
	obj := len(out)
	pad := max(n-len(out), 1)
	out = fmt.Appendf(out, "%d 0 obj\n<< /Length %d >>\nstream\n", size, pad)
	out = append(out, bytes.Repeat([]byte("0"), pad)...)
	out = append(out, "\nendstream\nendobj\n"...)
	xref := len(out)
	out = fmt.Appendf(out, "xref\n%d 1\n%010d 00000 n \ntrailer\n<< /Size %d /Root %s%s /Prev %d >>\nstartxref\n%d\n%%%%EOF\n",
		size, obj, size+1, root, info, prev, xref)
	return out, nil
}
