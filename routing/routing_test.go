package routing

import (
	"strings"
	"testing"

	"github.com/mssbridge/mssbridge/config"
	"github.com/mssbridge/mssbridge/reading"
)

type mssanteOnly struct{}

func (mssanteOnly) Contains(a string) bool {
	a = strings.ToLower(a)
	return strings.HasSuffix(a, "@mssante.fr") || strings.HasSuffix(a, ".mssante.fr")
}

func sendable(to ...string) reading.Result {
	r := reading.Result{Decision: reading.DecisionSend, Text: "COMPTE RENDU DE BIOLOGIE"}
	for _, a := range to {
		r.Recipients = append(r.Recipients, reading.Recipient{Address: a, Role: reading.RoleTo, Source: reading.SourceTag})
	}
	return r
}

func TestRoute(t *testing.T) {
	boxes := []config.Box{{ID: "bio"}, {ID: "radio"}}
	rules := config.Routing{DefaultAction: "send", Rules: []config.Rule{
		{Name: "bio", When: config.Condition{Input: "depot", TextContains: "biologie"}, Box: "bio", Cc: []string{"secretariat@ch.mssante.fr"}, Action: "send"},
		{Name: "relire-radio", When: config.Condition{Input: "radio"}, Action: "hold"},
		{Name: "fuite", When: config.Condition{Input: "fuite"}, Cc: []string{"someone@gmail.com"}, Action: "send"},
	}}
	tests := []struct {
		name       string
		doc        Document
		def        string
		wantAction Action
		wantBox    string
		wantCc     int
		wantReason string
	}{
		{"rule matches, cc added", Document{Input: "depot", InputBox: "radio", Reading: sendable("a@medecin.mssante.fr")}, "send", Send, "bio", 1, ""},
		{"rule holds", Document{Input: "radio", InputBox: "radio", Reading: sendable("a@medecin.mssante.fr")}, "send", Hold, "radio", 0, "relire-radio"},
		{"no rule, default send", Document{Input: "autre", InputBox: "radio", Reading: sendable("a@medecin.mssante.fr")}, "send", Send, "radio", 0, ""},
		{"no rule, default hold", Document{Input: "autre", InputBox: "radio", Reading: sendable("a@medecin.mssante.fr")}, "hold", Hold, "radio", 0, "Aucune règle"},
		{"out of trust", Document{Input: "autre", InputBox: "radio", Reading: sendable("dr.lambert@gmail.com")}, "send", Hold, "radio", 0, "hors de l'espace de confiance"},
		{"look-alike domain", Document{Input: "autre", InputBox: "radio", Reading: sendable("x@medecin.mssante.fr.example.net")}, "send", Hold, "radio", 0, "hors de l'espace"},
		{"rule cc out of trust still holds", Document{Input: "fuite", InputBox: "radio", Reading: sendable("a@medecin.mssante.fr")}, "send", Hold, "radio", 1, "gmail.com"},
		{"no recipient", Document{Input: "autre", InputBox: "radio", Reading: sendable()}, "send", Hold, "radio", 0, reading.ReasonNoRecipient},
		{"reading held stays held", Document{Input: "depot", InputBox: "radio", Reading: reading.Result{Decision: reading.DecisionHold, Reasons: []string{"Clé INS fausse"},
			Text: "biologie", Recipients: []reading.Recipient{{Address: "a@medecin.mssante.fr", Role: reading.RoleTo}}}}, "send", Hold, "bio", 1, "Clé INS fausse"},
		{"tag box", Document{Input: "autre", InputBox: "radio", Reading: func() reading.Result { r := sendable("a@medecin.mssante.fr"); r.Document.Box = "bio"; return r }()}, "send", Send, "bio", 0, ""},
		{"unknown tag box", Document{Input: "autre", InputBox: "radio", Reading: func() reading.Result { r := sendable("a@medecin.mssante.fr"); r.Document.Box = "nope"; return r }()}, "send", Hold, "radio", 0, "n'existe pas"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rr := rules
			rr.DefaultAction = tt.def
			got := New(rr, boxes, mssanteOnly{}).Route(tt.doc)
			if got.Action != tt.wantAction || got.Box != tt.wantBox || len(got.Cc) != tt.wantCc {
				t.Errorf("got %+v", got)
			}
			if tt.wantReason != "" && !strings.Contains(strings.Join(got.Reasons, "|"), tt.wantReason) {
				t.Errorf("reasons %q lack %q", got.Reasons, tt.wantReason)
			}
		})
	}
}

func TestRuleRecipientsLiftNoRecipientOnly(t *testing.T) {
	rules := config.Routing{DefaultAction: "hold", Rules: []config.Rule{{Name: "labo", When: config.Condition{Input: "labo"}, To: []string{"labo@ch.mssante.fr"}, Action: "send"}}}
	r := New(rules, []config.Box{{ID: "b"}}, mssanteOnly{})
	noRcpt := reading.Result{Decision: reading.DecisionHold, Reasons: []string{reading.ReasonNoRecipient}}
	if d := r.Route(Document{Input: "labo", InputBox: "b", Reading: noRcpt}); d.Action != Send {
		t.Errorf("rule recipients should lift 'no recipient': %+v", d)
	}
	badINS := reading.Result{Decision: reading.DecisionHold, Reasons: []string{reading.ReasonNoRecipient, "Clé INS fausse"}}
	if d := r.Route(Document{Input: "labo", InputBox: "b", Reading: badINS}); d.Action != Hold || len(d.Reasons) != 1 {
		t.Errorf("other reading reasons must still hold: %+v", d)
	}
}
