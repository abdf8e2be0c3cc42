package xdm

import (
	"archive/zip"
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"html"
	"io"
	"io/fs"
	"path"
	"runtime/debug"
	"strings"
	"unicode"
)

// Limits of ParseXDM. A received package holds one letter: these leave room for a large
// scanned PDF (a 37 MB PDF is 50 MB of base64 in its CDA) and stop a ZIP bomb long before
// it hurts.
const (
	MaxEntries      = 1000
	MaxEntrySize    = 50 << 20  // declared and actual uncompressed size of one entry
	MaxTotalSize    = 100 << 20 // declared uncompressed sizes of all entries, and the archive itself
	maxMetadataSize = 4 << 20   // METADATA.XML of one document is a few kilobytes
)

// Names inside the package (IHE ITI TF-2b §3.32.4.1.2.2: one subset, one document).
const (
	FileName     = "IHE_XDM.ZIP"
	subsetDir    = "IHE_XDM/SUBSET01"
	metadataName = "METADATA.XML"
	documentName = "DOC0001.XML"
)

// BuildXDM returns the bytes of IHE_XDM.ZIP for p: INDEX.HTM, README.TXT and, in
// IHE_XDM/SUBSET01, METADATA.XML and DOC0001.XML (the CDA of p.Document). The metadata is
// derived from the same normalized document as the CDA, so the two always agree.
func BuildXDM(p Package) ([]byte, error) {
	var b bytes.Buffer
	if err := BuildXDMTo(&b, p); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// BuildXDMTo writes IHE_XDM.ZIP for p to w as BuildXDM builds it. With the PDF given as a file
// (Document.PDFFile) nothing the size of the document is held in memory: the CDA is written
// twice, once to learn its SHA-1 and size for METADATA.XML, once into the archive.
func BuildXDMTo(w io.Writer, p Package) error {
	p, err := p.normalized()
	if err != nil {
		return err
	}
	h := sha1.New()
	size := &countWriter{}
	if err := writeCDA(io.MultiWriter(h, size), p.Document); err != nil {
		return err
	}
	meta, err := buildMetadata(p, docEntry{uri: documentName, hash: hex.EncodeToString(h.Sum(nil)), size: size.n})
	if err != nil {
		return err
	}
	zw := zip.NewWriter(w)
	for _, f := range []struct {
		name  string
		write func(io.Writer) error
	}{
		{"INDEX.HTM", bytesOf(indexHTM(p))},
		{"README.TXT", bytesOf(readmeTXT(p))},
		{subsetDir + "/" + metadataName, bytesOf(meta)},
		{subsetDir + "/" + documentName, func(w io.Writer) error { return writeCDA(w, p.Document) }},
	} {
		fw, err := zw.CreateHeader(&zip.FileHeader{Name: f.name, Method: zip.Deflate, Modified: p.SubmissionTime})
		if err != nil {
			return err
		}
		if err := f.write(fw); err != nil {
			return fmt.Errorf("xdm: write %s: %w", f.name, err)
		}
	}
	return zw.Close()
}

func bytesOf(b []byte) func(io.Writer) error {
	return func(w io.Writer) error { _, err := w.Write(b); return err }
}

// countWriter counts what is written through it.
type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

func softwareVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

// indexHTM is the XHTML entry page of the media (IHE ITI TF-2b §3.32.4.1.2.2). It names
// the document and its sender, not the patient.
func indexHTM(p Package) []byte {
	d := p.Document
	e := html.EscapeString
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\r\n")
	b.WriteString(`<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">` + "\r\n")
	b.WriteString(`<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="fr" lang="fr">` + "\r\n")
	b.WriteString("<head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=UTF-8\"/><title>Échange IHE XDM</title></head>\r\n<body>\r\n")
	b.WriteString("<h1>Document de santé transmis par messagerie sécurisée MSSanté</h1>\r\n")
	fmt.Fprintf(&b, "<p>Émetteur : %s — %s</p>\r\n", e(strings.TrimSpace(d.Author.GivenName+" "+d.Author.FamilyName)), e(d.Author.Organization.Name))
	fmt.Fprintf(&b, "<ul>\r\n<li><a href=\"%s/%s\">%s</a> (%s, CDA R2 niveau 1, PDF encapsulé)</li>\r\n",
		subsetDir, documentName, e(d.Title), d.EffectiveTime.Format("02/01/2006"))
	fmt.Fprintf(&b, "<li><a href=\"%s/%s\">Métadonnées XDS</a></li>\r\n", subsetDir, metadataName)
	b.WriteString("<li><a href=\"README.TXT\">README.TXT</a></li>\r\n</ul>\r\n</body>\r\n</html>\r\n")
	return []byte(b.String())
}

// readmeTXT tells who made the media and how it is organised (IHE ITI TF-2b §3.32.4.1.2.2).
func readmeTXT(p Package) []byte {
	d := p.Document
	lines := []string{
		"Support d'échange IHE XDM (Cross-Enterprise Document Media Interchange, IHE ITI-32)",
		"",
		"Application : mssbridge " + softwareVersion() + ", passerelle d'envoi MSSanté",
		"Structure émettrice : " + d.Author.Organization.Name + " (identifiant national " + d.Author.Organization.structID() + ")",
		"Professionnel responsable : " + strings.TrimSpace(d.Author.GivenName+" "+d.Author.FamilyName) + " (RPPS " + d.Author.RPPS + ")",
		"",
		"Contenu :",
		"  INDEX.HTM                      page d'accueil",
		"  README.TXT                     ce fichier",
		"  " + subsetDir + "/" + metadataName + "  métadonnées XDS (ebRIM 3.0, SubmitObjectsRequest)",
		"  " + subsetDir + "/" + documentName + "   document CDA R2 niveau 1 (PDF encapsulé en base64)",
		"",
	}
	return []byte(strings.Join(lines, "\r\n"))
}

func unsafeZip(format string, a ...any) error {
	return fmt.Errorf("%w : %s", ErrUnsafeZip, fmt.Sprintf(format, a...))
}

// ParseXDM reads an IHE_XDM.ZIP in memory and returns the package it carries: its
// recipients, submission set and the document read from its CDA. The metadata is checked
// against the CDA: same patient, same document id, and the hash and size of the CDA file.
// A hostile archive is refused (ErrUnsafeZip) before anything is decompressed beyond the
// limits; nothing is ever written to disk.
func ParseXDM(b []byte) (Package, error) {
	if len(b) > MaxTotalSize {
		return Package{}, unsafeZip("archive de %d octets (au plus %d)", len(b), MaxTotalSize)
	}
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return Package{}, unsafeZip("pas une archive ZIP lisible : %v", err)
	}
	if zr == nil {
		return Package{}, unsafeZip("%v", err)
	}
	if len(zr.File) > MaxEntries {
		return Package{}, unsafeZip("%d entrées (au plus %d)", len(zr.File), MaxEntries)
	}
	files := make(map[string]*zip.File, len(zr.File))
	var declared uint64
	for _, f := range zr.File {
		if err := checkEntryName(f.Name); err != nil {
			return Package{}, err
		}
		mode := f.Mode()
		if mode&fs.ModeType != 0 && !mode.IsDir() {
			return Package{}, unsafeZip("l'entrée %q n'est pas un fichier ordinaire", f.Name)
		}
		key := strings.ToUpper(strings.TrimSuffix(f.Name, "/"))
		if _, dup := files[key]; dup {
			return Package{}, unsafeZip("l'entrée %q apparaît deux fois", f.Name)
		}
		files[key] = f
		if f.UncompressedSize64 > MaxEntrySize {
			return Package{}, unsafeZip("l'entrée %q annonce %d octets (au plus %d)", f.Name, f.UncompressedSize64, MaxEntrySize)
		}
		declared += f.UncompressedSize64
		if declared > MaxTotalSize {
			return Package{}, unsafeZip("les entrées annoncent plus de %d octets", MaxTotalSize)
		}
	}

	var metas []*zip.File
	for key, f := range files {
		parts := strings.Split(key, "/")
		if len(parts) == 3 && parts[0] == "IHE_XDM" && parts[2] == metadataName && !f.Mode().IsDir() {
			metas = append(metas, f)
		}
	}
	switch {
	case len(metas) == 0:
		return Package{}, metaErr("pas de fichier IHE_XDM/SUBSETnn/METADATA.XML")
	case len(metas) > 1:
		return Package{}, fmt.Errorf("%w : %d lots de soumission (SUBSET), un seul est pris en charge", ErrUnsupported, len(metas))
	}
	var read int64
	metaBytes, err := readEntry(metas[0], maxMetadataSize, &read)
	if err != nil {
		return Package{}, err
	}
	m, err := parseMetadata(metaBytes)
	if err != nil {
		return Package{}, err
	}

	if err := checkEntryName(m.entry.uri); err != nil {
		return Package{}, metaErr("URI du document %q : %v", m.entry.uri, err)
	}
	docKey := strings.ToUpper(path.Dir(metas[0].Name) + "/" + m.entry.uri)
	df, ok := files[docKey]
	if !ok || df.Mode().IsDir() {
		return Package{}, metaErr("le document %q annoncé par les métadonnées est absent", m.entry.uri)
	}
	cda, err := readEntry(df, MaxEntrySize, &read)
	if err != nil {
		return Package{}, err
	}
	if m.entry.size >= 0 && m.entry.size != int64(len(cda)) {
		return Package{}, metaErr("taille du document %d, les métadonnées annoncent %d", len(cda), m.entry.size)
	}
	if m.entry.hash != "" && m.entry.hash != sha1Hex(cda) {
		return Package{}, metaErr("l'empreinte SHA-1 du document ne correspond pas aux métadonnées")
	}
	doc, err := ParseCDA(cda)
	if err != nil {
		return Package{}, err
	}
	pid, oid := parseCX(m.patientID)
	if pid != doc.Patient.INS || oid != doc.Patient.INSOID {
		return Package{}, metaErr("le patient des métadonnées (%s) n'est pas celui du document CDA", m.patientID)
	}
	if m.sourcePID3 != "" && m.sourcePID3 != m.patientID {
		return Package{}, metaErr("sourcePatientInfo PID-3 (%s) contredit patientId (%s)", m.sourcePID3, m.patientID)
	}
	uid := doc.ID.Root
	if doc.ID.Extension != "" {
		uid += "^" + doc.ID.Extension
	}
	if m.uniqueID != uid {
		return Package{}, metaErr("uniqueId des métadonnées (%s) différent de l'identifiant du CDA (%s)", m.uniqueID, uid)
	}
	if m.typeCode.Code != doc.Type.Code {
		return Package{}, metaErr("typeCode des métadonnées (%s) différent du code du CDA (%s)", m.typeCode.Code, doc.Type.Code)
	}
	p := m.pkg
	p.Document = doc
	return p, nil
}

// checkEntryName refuses the names that would escape a directory or mean different files
// on different systems: absolute paths, drive letters, backslashes, . and .. elements,
// empty elements, control characters.
func checkEntryName(name string) error {
	if name == "" {
		return unsafeZip("entrée sans nom")
	}
	for _, r := range name {
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			return unsafeZip("nom d'entrée %q avec un caractère de contrôle", name)
		}
	}
	if strings.Contains(name, `\`) {
		return unsafeZip("nom d'entrée %q avec une barre oblique inverse", name)
	}
	if strings.HasPrefix(name, "/") || (len(name) >= 2 && name[1] == ':') {
		return unsafeZip("nom d'entrée absolu %q", name)
	}
	trimmed := strings.TrimSuffix(name, "/")
	for _, elem := range strings.Split(trimmed, "/") {
		switch elem {
		case "..":
			return unsafeZip("nom d'entrée %q qui remonte l'arborescence (..)", name)
		case ".", "":
			return unsafeZip("nom d'entrée %q mal formé", name)
		}
	}
	return nil
}

// readEntry reads f whole, through a LimitReader: more than limit bytes, or more than
// MaxTotalSize read in all, is refused whatever the entry declared.
func readEntry(f *zip.File, limit int64, total *int64) ([]byte, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, unsafeZip("entrée %q illisible : %v", f.Name, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, limit+1))
	switch {
	case errors.Is(err, zip.ErrFormat):
		// archive/zip stops as soon as an entry inflates beyond the size it declares.
		return nil, unsafeZip("l'entrée %q décompressée dépasse la taille annoncée (%d octets)", f.Name, f.UncompressedSize64)
	case errors.Is(err, zip.ErrChecksum):
		return nil, unsafeZip("l'entrée %q est corrompue (somme de contrôle)", f.Name)
	case err != nil:
		return nil, unsafeZip("entrée %q illisible : %v", f.Name, err)
	}
	if int64(len(b)) > limit {
		return nil, unsafeZip("l'entrée %q dépasse %d octets une fois décompressée", f.Name, limit)
	}
	*total += int64(len(b))
	if *total > MaxTotalSize {
		return nil, unsafeZip("plus de %d octets décompressés", MaxTotalSize)
	}
	return b, nil
}
