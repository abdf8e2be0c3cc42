// Package routing decides, for a document that has been read, which box sends it and to whom,
// or that it waits for a human: the configured rules first (first match wins), then the trust
// space, enforced whatever the rules say.
package routing

import (
	"fmt"
	"strings"

	"github.com/mssbridge/mssbridge/config"
	"github.com/mssbridge/mssbridge/reading"
)

// Action is what happens to the document.
type Action string

const (
	Send Action = "send"
	Hold Action = "hold"
)

// TrustSpace says whether an address is inside MSSanté's trust space.
type TrustSpace interface {
	Contains(address string) bool
}

// Document is what routing looks at.
type Document struct {
	Input     string // input id
	InputBox  string // the input's default box
	FileName  string
	PrintedBy string
	Reading   reading.Result
}

// Decision is routing's answer; it is stored with the job as JSON.
type Decision struct {
	Action  Action   `json:"action"`
	Rule    string   `json:"rule,omitempty"`
	Box     string   `json:"box"`
	To      []string `json:"to"`
	Cc      []string `json:"cc,omitempty"`
	Subject string   `json:"subject,omitempty"`
	Title   string   `json:"title,omitempty"`
	Reasons []string `json:"reasons,omitempty"` // French, for the held sidecar
	// Per-rule message options.
	CloseConversation bool   `json:"close_conversation,omitempty"`
	ReadReceipt       bool   `json:"read_receipt,omitempty"`
	ReplyTo           string `json:"reply_to,omitempty"`
}

// Router applies the configuration's rules.
type Router struct {
	rules         []config.Rule
	defaultAction Action
	boxes         map[string]bool
	trust         TrustSpace
}

// New builds a router from the configuration.
func New(r config.Routing, boxes []config.Box, trust TrustSpace) *Router {
	ids := map[string]bool{}
	for _, b := range boxes {
		ids[b.ID] = true
	}
	def := Action(r.DefaultAction)
	if def != Send {
		def = Hold
	}
	return &Router{rules: r.Rules, defaultAction: def, boxes: ids, trust: trust}
}

// Route decides. It never returns Send for a recipient outside the trust space.
func (r *Router) Route(d Document) Decision {
	res := d.Reading
	dec := Decision{Box: d.InputBox, Title: res.Document.Title, Subject: res.Document.Subject}
	var reasons []string
	if res.Document.Box != "" {
		if r.boxes[res.Document.Box] {
			dec.Box = res.Document.Box
		} else {
			reasons = append(reasons, fmt.Sprintf("La boîte d'envoi %q demandée par le document n'existe pas dans la configuration", res.Document.Box))
		}
	}

	action := r.defaultAction
	rule, matched := r.match(d)
	if matched {
		dec.Rule = rule.Name
		action = Action(rule.Action)
		if rule.Box != "" {
			dec.Box = rule.Box
		}
	} else if action == Hold {
		reasons = append(reasons, "Aucune règle d'envoi ne s'applique à ce document : il attend une relecture")
	}
	if matched && action == Hold {
		reasons = append(reasons, fmt.Sprintf("La règle « %s » demande une relecture avant envoi", rule.Name))
	}

	seen := map[string]bool{}
	add := func(list *[]string, addr string) {
		a := strings.ToLower(strings.TrimSpace(addr))
		if a == "" || seen[a] {
			return
		}
		seen[a] = true
		*list = append(*list, a)
	}
	for _, rc := range res.Recipients {
		if rc.Role == reading.RoleTo {
			add(&dec.To, rc.Address)
		}
	}
	if matched {
		for _, a := range rule.To {
			add(&dec.To, a)
		}
		dec.CloseConversation, dec.ReadReceipt, dec.ReplyTo = rule.CloseConversation, rule.ReadReceipt, rule.ReplyTo
		if rule.ToPatient {
			if res.Patient.INS != "" && res.Patient.INSKeyValid {
				add(&dec.To, res.Patient.INS+"@"+PatientDomain)
			} else {
				reasons = append(reasons, fmt.Sprintf("La règle « %s » écrit au patient, mais son INS est inconnu ou invalide", rule.Name))
			}
		}
	}
	for _, rc := range res.Recipients {
		if rc.Role == reading.RoleCc {
			add(&dec.Cc, rc.Address)
		}
	}
	if matched {
		for _, a := range rule.Cc {
			add(&dec.Cc, a)
		}
	}

	if len(reasons) > 0 && action == Send {
		action = Hold // the unknown box the document asked for
	}
	if res.Decision != reading.DecisionSend {
		// What the reading found comes first: it is what the secretary must fix. "No recipient"
		// no longer stands when a rule names the recipients.
		var rr []string
		for _, why := range res.Reasons {
			if why == reading.ReasonNoRecipient && len(dec.To) > 0 {
				continue
			}
			rr = append(rr, why)
		}
		if len(rr) > 0 || len(res.Reasons) == 0 {
			action = Hold
		}
		reasons = append(rr, reasons...)
	}
	if len(dec.To) == 0 {
		action = Hold
		if !contains(reasons, reading.ReasonNoRecipient) {
			reasons = append(reasons, reading.ReasonNoRecipient)
		}
	}
	reasons = append(reasons, CheckPatientRecipients(append(append([]string{}, dec.To...), dec.Cc...), res.Patient)...)
	if len(reasons) > 0 && action == Send {
		action = Hold
	}
	// The trust space is enforced last, whatever the rules and the reading said.
	for _, a := range append(append([]string{}, dec.To...), dec.Cc...) {
		if !r.trust.Contains(a) {
			action = Hold
			reason := fmt.Sprintf("Destinataire hors de l'espace de confiance MSSanté : %s", a)
			if !contains(reasons, reason) {
				reasons = append(reasons, reason)
			}
		}
	}
	dec.Action = action
	if action == Hold {
		dec.Reasons = dedupe(reasons)
	}
	return dec
}

func (r *Router) match(d Document) (config.Rule, bool) {
	for _, rule := range r.rules {
		if matches(rule.When, d) {
			return rule, true
		}
	}
	return config.Rule{}, false
}

func matches(c config.Condition, d Document) bool {
	res := d.Reading
	if c.Input != "" && c.Input != d.Input {
		return false
	}
	if c.TextContains != "" && !containsFold(res.Text, c.TextContains) {
		return false
	}
	if c.TitleContains != "" && !containsFold(res.Document.Title, c.TitleContains) {
		return false
	}
	if c.FileNameContains != "" && !containsFold(d.FileName, c.FileNameContains) {
		return false
	}
	if c.PrintedBy != "" && !strings.EqualFold(c.PrintedBy, d.PrintedBy) {
		return false
	}
	if c.HasPatientINS != nil && (*c.HasPatientINS != (res.Patient.INS != "" && res.Patient.INSKeyValid)) {
		return false
	}
	if c.RecipientDomain != "" {
		found := false
		for _, rc := range res.Recipients {
			if strings.HasSuffix(strings.ToLower(rc.Address), "@"+strings.ToLower(c.RecipientDomain)) {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	if c.Source != "" {
		if len(res.Recipients) == 0 {
			return false
		}
		for _, rc := range res.Recipients {
			if string(rc.Source) != c.Source {
				return false
			}
		}
	}
	return true
}

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func dedupe(list []string) []string {
	var out []string
	for _, s := range list {
		if !contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}
