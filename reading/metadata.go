package reading

import (
	"encoding/xml"
	"strings"
	"time"

	"github.com/mssbridge/mssbridge/pdf"
)

// metadataTags reads tags from the PDF's Info Keywords and Subject and from its XMP packet
// (element text and attribute values: pdf:Keywords is often an attribute).
func metadataTags(info pdf.Info, now time.Time) *found {
	p := newTagParser(SourceMetadata, now)
	var fields []string
	fields = append(fields, info.Keywords, info.Subject)
	fields = append(fields, xmpTexts(info.XMP)...)
	for _, field := range fields {
		for _, line := range strings.Split(pdf.NormalizeText(field), "\n") {
			for _, t := range scanTags(line, metaTagRE) {
				p.add(t)
			}
		}
	}
	return p.f
}

// xmpTexts returns the character data and attribute values of an XMP packet. A packet that
// stops parsing gives what was read up to there.
func xmpTexts(packet string) []string {
	if !strings.Contains(strings.ToUpper(packet), "MSS") {
		return nil
	}
	var out []string
	dec := xml.NewDecoder(strings.NewReader(packet))
	dec.Strict = false
	for {
		tok, err := dec.Token()
		if err != nil {
			return out
		}
		switch t := tok.(type) {
		case xml.StartElement:
			for _, a := range t.Attr {
				out = append(out, a.Value)
			}
		case xml.CharData:
			if s := strings.TrimSpace(string(t)); s != "" {
				out = append(out, s)
			}
		}
	}
}
