package reading

import (
	"reflect"
	"testing"

	"github.com/mssbridge/mssbridge/pdf"
)

func TestFindTextINS(t *testing.T) {
	tests := []struct {
		name  string
		lines []string
		want  []textINS
	}{
		{"spaced", []string{"INS : 2 56 03 69 123 045 45"}, []textINS{{value: "256036912304545", keyValid: true}}},
		{"matricule", []string{"Matricule INS : 148112901900703"}, []textINS{{value: "148112901900703", keyValid: true}}},
		{"no colon", []string{"INS 1 15 06 69 381 211 66"}, []textINS{{value: "115066938121166", keyValid: true}}},
		{"N°, Corsica, wrong key", []string{"N° INS : 1 39 08 2A 004 088 72"}, []textINS{{value: "139082A00408872"}}},
		{"followed by text", []string{"INS : 285047511134293 - née le 21/04/1985"}, []textINS{{value: "285047511134293", keyValid: true}}},
		{"twice the same", []string{"INS : 285047511134293", "INS 2 85 04 75 111 342 93"}, []textINS{{value: "285047511134293", keyValid: true}}},
		{"not labelled", []string{"Tél. 285047511134293"}, nil},
		{"INSEE is not INS", []string{"INSEE : 285047511134293"}, nil},
		{"tags are not letter text", []string{"#MSS-INS: 285047511134293", "#MSS-PATIENT: A|B|1985-04-21|285047511134293"}, nil},
		{"text before a tag", []string{"INS : 285047511134293  #MSS-INS: 256037512345654"}, []textINS{{value: "285047511134293", keyValid: true}}},
		{"too short to be one", []string{"INS : 12 34"}, nil},
	}
	for _, tt := range tests {
		var p pdf.Page
		for _, l := range tt.lines {
			p.Lines = append(p.Lines, pdf.Line{Text: l})
		}
		got := findTextINS([]pdf.Page{p})
		for i := range got {
			got[i].err = nil
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: findTextINS = %+v, want %+v", tt.name, got, tt.want)
		}
	}
}
