package routing

import (
	"strings"
	"testing"

	"github.com/mssbridge/mssbridge/config"
	"github.com/mssbridge/mssbridge/reading"
)

func TestPatientRecipients(t *testing.T) {
	p := reading.Patient{INS: "256036912304545", INSKeyValid: true}
	tests := []struct {
		name  string
		addrs []string
		want  string
	}{
		{"the document's patient", []string{"256036912304545@patient.mssante.fr"}, ""},
		{"wrong key", []string{"256036912304546@patient.mssante.fr"}, "clé de l'INS est fausse"},
		{"malformed", []string{"12345@patient.mssante.fr"}, "mal formé"},
		{"another patient", []string{"148112901900703@patient.mssante.fr"}, "pas l'INS du patient"},
		{"mixed with a professional", []string{"256036912304545@patient.mssante.fr", "a@medecin.mssante.fr"}, "part seul"},
		{"professionals only", []string{"a@medecin.mssante.fr"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := strings.Join(CheckPatientRecipients(tt.addrs, p), "|")
			if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
				t.Errorf("reasons %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRuleToPatient(t *testing.T) {
	rules := config.Routing{DefaultAction: "hold", Rules: []config.Rule{{Name: "patient", When: config.Condition{Input: "mes"}, ToPatient: true, CloseConversation: true, Action: "send"}}}
	r := New(rules, []config.Box{{ID: "b"}}, mssanteOnly{})
	res := reading.Result{Decision: reading.DecisionSend, Patient: reading.Patient{INS: "256036912304545", INSKeyValid: true}}
	d := r.Route(Document{Input: "mes", InputBox: "b", Reading: res})
	if d.Action != Send || len(d.To) != 1 || d.To[0] != "256036912304545@patient.mssante.fr" || !d.CloseConversation {
		t.Fatalf("decision %+v", d)
	}
	res.Patient.INSKeyValid = false
	if d := r.Route(Document{Input: "mes", InputBox: "b", Reading: res}); d.Action != Hold {
		t.Errorf("a patient without a valid INS must hold: %+v", d)
	}
}
