package pdf

import "testing"

func TestNormalizeText(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"minus from Latin-1 PostScript", "#MSS\u2212TO: yann.le\u2212goff@medecin.mssante.fr", "#MSS-TO: yann.le-goff@medecin.mssante.fr"},
		{"dashes", "a\u2010b\u2011c\u2012d\u2013e\u2014f\u2015g", "a-b-c-d-e-f-g"},
		{"spaces", "N°\u00a0INS\u202f:\u20092", "N° INS : 2"},
		{"ligatures", "\ufb01brillation, \ufb02utter, e\ufb00ort, \ufb03ce, ba\ufb04e", "fibrillation, flutter, effort, ffice, baffle"},
		{"accents kept", "Hélène DUPRÉ, né à Saint-Étienne, Noël, ça", "Hélène DUPRÉ, né à Saint-Étienne, Noël, ça"},
		{"combining accents composed", "He\u0301le\u0300ne DUPRE\u0301 c\u0327a", "Hélène DUPRÉ ça"},
		{"apostrophes", "N\u2019DIAYE l\u2019examen", "N'DIAYE l'examen"},
		{"zero width removed", "paul\u200b.mercier@medecin\ufeff.mssante.fr", "paul.mercier@medecin.mssante.fr"},
		{"line breaks kept", "a\nb\r\nc", "a\nb\r\nc"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		if got := NormalizeText(tt.in); got != tt.want {
			t.Errorf("%s: NormalizeText(%q) = %q, want %q", tt.name, tt.in, got, tt.want)
		}
	}
}
