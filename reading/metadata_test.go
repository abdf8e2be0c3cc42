package reading

import (
	"testing"

	"github.com/mssbridge/mssbridge/pdf"
)

func TestMetadataTags(t *testing.T) {
	xmpAttr := `<?xpacket begin='' id='W5M0MpCehiHzreSzNTczkc9d'?><x:xmpmeta xmlns:x='adobe:ns:meta/'>
<rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'>
<rdf:Description rdf:about="" xmlns:pdf='http://ns.adobe.com/pdf/1.3/' pdf:Keywords='#MSS-TO: a@b.mssante.fr; #MSS-TITLE: R&#233;sultats &amp; suivi'/>
</rdf:RDF></x:xmpmeta><?xpacket end='w'?>`
	xmpElem := `<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'>
<rdf:Description rdf:about="" xmlns:dc='http://purl.org/dc/elements/1.1/'><dc:subject><rdf:Bag>
<rdf:li>#MSS-TO: a@b.mssante.fr</rdf:li><rdf:li>#MSS-PATIENT: GIRARD|Lucie|1972-09-09</rdf:li></rdf:Bag></dc:subject>
</rdf:Description></rdf:RDF></x:xmpmeta>`
	tests := []struct {
		name     string
		info     pdf.Info
		to       []string
		family   string
		title    string
		subject  string
		problems []string
	}{
		{name: "Keywords", info: pdf.Info{Keywords: "#MSS-TO: a@b.mssante.fr, c@d.mssante.fr; #MSS-TITLE: CR"},
			to: []string{"a@b.mssante.fr", "c@d.mssante.fr"}, title: "CR"},
		{name: "Keywords without #", info: pdf.Info{Keywords: "cardiologie, MSS-TO: a@b.mssante.fr"}, to: []string{"a@b.mssante.fr"}},
		{name: "Subject", info: pdf.Info{Subject: "#MSS-SUBJECT: Résultats"}, subject: "Résultats"},
		{name: "plain Subject is not a tag", info: pdf.Info{Subject: "Résultats", Title: "#MSS-TO: a@b.mssante.fr"}},
		{name: "XMP attribute, entities", info: pdf.Info{XMP: xmpAttr}, to: []string{"a@b.mssante.fr"}, title: "Résultats & suivi"},
		{name: "XMP elements", info: pdf.Info{XMP: xmpElem}, to: []string{"a@b.mssante.fr"}, family: "GIRARD"},
		{name: "Keywords and XMP saying the same", info: pdf.Info{Keywords: "#MSS-TO: a@b.mssante.fr; #MSS-TITLE: Résultats & suivi", XMP: xmpAttr},
			to: []string{"a@b.mssante.fr"}, title: "Résultats & suivi"},
		{name: "Keywords and XMP disagreeing", info: pdf.Info{Keywords: "#MSS-TITLE: Autre", XMP: xmpAttr},
			to: []string{"a@b.mssante.fr"}, title: "Autre",
			problems: []string{"Balise #MSS-TITLE des métadonnées du PDF répétée avec des valeurs différentes"}},
		{name: "malformed", info: pdf.Info{Keywords: "#MSS-TO: x@y"},
			problems: []string{"Balise #MSS-TO des métadonnées du PDF illisible : adresse « x@y » invalide"}},
		{name: "broken XMP", info: pdf.Info{XMP: "<x:xmpmeta><rdf:li>#MSS-TO: a@b.mssante.fr</rdf:li><unclosed"}, to: []string{"a@b.mssante.fr"}},
		{name: "nothing", info: pdf.Info{Title: "Untitled", Producer: "GPL Ghostscript"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := metadataTags(tt.info, testNow)
			if got := addresses(f.to); len(got) != len(tt.to) || (len(got) > 0 && got[0] != tt.to[0]) {
				t.Errorf("to = %v, want %v", got, tt.to)
			}
			for _, r := range f.to {
				if r.Source != SourceMetadata {
					t.Errorf("%s: source %q", r.Address, r.Source)
				}
			}
			if f.family != tt.family || f.title != tt.title || f.subject != tt.subject {
				t.Errorf("family, title, subject = %q, %q, %q; want %q, %q, %q", f.family, f.title, f.subject, tt.family, tt.title, tt.subject)
			}
			checkPrefixes(t, f.problems, tt.problems)
		})
	}
}
