package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/mssbridge/mssbridge/audit"
	"github.com/mssbridge/mssbridge/bridge"
	"github.com/mssbridge/mssbridge/ins"
	"github.com/mssbridge/mssbridge/reading"
	"github.com/mssbridge/mssbridge/routing"
	"github.com/mssbridge/mssbridge/store"
	"github.com/mssbridge/mssbridge/trust"
)

// heldQueue lists the held jobs oldest first: the letter that has waited longest comes first.
func (srv *Server) heldQueue(ctx context.Context) ([]store.Job, error) {
	jobs, err := srv.b.Store().List(ctx, store.Filter{States: []store.State{store.StateHeld}})
	slices.Reverse(jobs)
	return jobs, err
}

type heldListData struct {
	Jobs []jobView
}

func (srv *Server) heldList(w http.ResponseWriter, r *http.Request, se *session) {
	jobs, err := srv.heldQueue(r.Context())
	if err != nil {
		srv.serverError(w, r, se, "liste des documents en attente", err)
		return
	}
	d := heldListData{}
	for _, j := range jobs {
		d.Jobs = append(d.Jobs, srv.view(j))
	}
	srv.render(w, r, se, http.StatusOK, "held_list", "Documents en attente", "held", d)
}

// rcptView is one recipient the document will be sent to, as the review form shows it.
type rcptView struct {
	Address        string
	Role           string // to | cc
	Name           string
	Detail         string // profession, town
	InTrust        bool
	Dematerialised bool
}

type patientForm struct {
	FamilyName, GivenNames, BirthDate, Sex, INS string
	INSValid                                    bool
}

type heldData struct {
	Job            jobView
	Reasons        []string
	ReadRecipients []readRecipient
	Send           []rcptView
	Patient        patientForm
	Prev, Next     string
	Pos, Total     int
	Error          string
	HasDirectory   bool
	IsPDF          bool
	RejectReasons  []string
	HeldAt         string
	// Suggestions are the addresses the reasons name (the homonyms the reader could not choose
	// between) and the recipients read but not kept, offered first in the picker.
	Suggestions []directoryEntry
}

type readRecipient struct {
	reading.Recipient
	InTrust bool
}

// rejectReasons are offered as a list; the secretary may type another.
var rejectReasons = []string{
	"Doublon : déjà envoyé",
	"Mauvais patient ou document erroné",
	"Document incomplet ou à refaire",
	"Envoyé par un autre moyen (courrier, fax, main propre)",
	"Destinataire sans messagerie sécurisée",
}

func (srv *Server) heldPage(w http.ResponseWriter, r *http.Request, se *session) {
	j, ok := srv.jobFromPath(w, r, se)
	if !ok {
		return
	}
	id := j.ID
	if j.State != store.StateHeld {
		http.Redirect(w, r, "/envois/"+id, http.StatusSeeOther)
		return
	}
	d, err := srv.heldData(r.Context(), j)
	if err != nil {
		srv.serverError(w, r, se, "lecture des documents en attente", err)
		return
	}
	srv.render(w, r, se, http.StatusOK, "held", "Relecture", "held", d)
}

func (srv *Server) heldData(ctx context.Context, j store.Job) (heldData, error) {
	v := srv.view(j)
	d := heldData{Job: v, HasDirectory: srv.dir != nil, RejectReasons: rejectReasons}
	queue, err := srv.heldQueue(ctx)
	if err != nil {
		return d, err
	}
	d.Total = len(queue)
	for i, q := range queue {
		if q.ID == j.ID {
			d.Pos = i + 1
			if i > 0 {
				d.Prev = queue[i-1].ID
			}
			if i+1 < len(queue) {
				d.Next = queue[i+1].ID
			}
		}
	}
	d.Reasons, d.HeldAt = srv.heldReasons(j, v)
	for _, rc := range v.Reading.Recipients {
		d.ReadRecipients = append(d.ReadRecipients, readRecipient{Recipient: rc, InTrust: srv.trust.Contains(rc.Address)})
	}
	// What will be sent: the routing's recipients, else those read in the document.
	add := func(addr, role string) {
		addr = strings.ToLower(strings.TrimSpace(addr))
		if addr == "" || slices.ContainsFunc(d.Send, func(x rcptView) bool { return x.Address == addr }) {
			return
		}
		d.Send = append(d.Send, srv.recipient(addr, role, v.Reading.Recipients))
	}
	for _, a := range v.Route.To {
		add(a, "to")
	}
	for _, a := range v.Route.Cc {
		add(a, "cc")
	}
	if len(d.Send) == 0 {
		for _, rc := range v.Reading.Recipients {
			add(rc.Address, string(rc.Role))
		}
	}
	d.Suggestions = srv.suggestions(d.Reasons, v.Reading.Recipients, d.Send)
	p := v.Reading.Patient
	d.Patient = patientForm{FamilyName: p.FamilyName, GivenNames: p.GivenNames, BirthDate: p.BirthDate, Sex: p.Sex, INS: p.INS, INSValid: p.INSKeyValid}
	d.IsPDF = strings.EqualFold(filepath.Ext(j.SourceName), ".pdf")
	return d, nil
}

var addressRE = regexp.MustCompile(`[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}`)

// suggestions lists the trust-space addresses named in the reasons or read in the document
// that are not already among the recipients, described from the directory.
func (srv *Server) suggestions(reasons []string, read []reading.Recipient, send []rcptView) []directoryEntry {
	var addrs []string
	for _, r := range reasons {
		addrs = append(addrs, addressRE.FindAllString(r, -1)...)
	}
	for _, rc := range read {
		addrs = append(addrs, rc.Address)
	}
	var out []directoryEntry
	seen := map[string]bool{}
	for _, rv := range send {
		seen[rv.Address] = true
	}
	for _, a := range addrs {
		a = strings.ToLower(a)
		if seen[a] || !srv.trust.Contains(a) || routing.IsPatient(a) {
			continue
		}
		seen[a] = true
		rv := srv.recipient(a, "to", read)
		out = append(out, directoryEntry{Address: a, Name: rv.Name, Detail: rv.Detail, Dematerialised: rv.Dematerialised, InTrust: true})
	}
	return out
}

// recipient describes an address with what the directory and the reading know of it.
func (srv *Server) recipient(addr, role string, read []reading.Recipient) rcptView {
	if role != "cc" {
		role = "to"
	}
	rv := rcptView{Address: addr, Role: role, InTrust: srv.trust.Contains(addr)}
	for _, rc := range read {
		if strings.EqualFold(rc.Address, addr) {
			rv.Name = rc.Name
		}
	}
	if routing.IsPatient(addr) {
		rv.Name = "Le patient (Mon Espace Santé)"
	}
	if srv.dir != nil && trust.ValidAddress(addr) == nil {
		for _, e := range srv.dir.Search(addr, 1) {
			rv.Name = entryName(e)
			rv.Detail = entryDetail(e)
			rv.Dematerialised = e.Dematerialised
		}
	}
	return rv
}

// heldReasons are the reasons in held/JOBID.json (what the bridge wrote when it held the
// job), else the store's last error, plus the reading's own, without repeats.
func (srv *Server) heldReasons(j store.Job, v jobView) ([]string, string) {
	var out []string
	add := func(s string) {
		s = strings.TrimSpace(s)
		if s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	var side struct {
		Reasons []string `json:"reasons"`
		HeldAt  string   `json:"held_at"`
	}
	heldAt := ""
	if data, err := os.ReadFile(filepath.Join(srv.b.HeldDir(), j.ID+".json")); err == nil && json.Unmarshal(data, &side) == nil {
		for _, s := range side.Reasons {
			add(s)
		}
		if t, err := time.Parse(time.RFC3339, side.HeldAt); err == nil {
			heldAt = fmtTime(t)
		}
	}
	if len(out) == 0 {
		for _, s := range strings.Split(j.LastError, " ; ") {
			add(s)
		}
	}
	for _, s := range v.Route.Reasons {
		add(s)
	}
	for _, s := range v.Reading.Reasons {
		add(s)
	}
	return out, heldAt
}

// afterAction is where the secretary goes once a held document is dealt with: the next one
// in the queue, so that ten letters are cleared without going back to the list.
func (srv *Server) afterAction(ctx context.Context, id string, queue []store.Job) string {
	i := slices.IndexFunc(queue, func(j store.Job) bool { return j.ID == id })
	for _, k := range []int{i + 1, i - 1} {
		if i >= 0 && k >= 0 && k < len(queue) {
			if j, err := srv.b.Store().Get(ctx, queue[k].ID); err == nil && j.State == store.StateHeld {
				return "/attente/" + j.ID
			}
		}
	}
	if q, err := srv.heldQueue(ctx); err == nil && len(q) > 0 {
		return "/attente/" + q[0].ID
	}
	return "/attente"
}

func (srv *Server) actor(ctx context.Context, se *session) context.Context {
	return bridge.WithActor(ctx, "desk:"+se.login)
}

// formList reads a multi-valued field, trimmed, lowercased, without blanks or repeats. A
// value may itself hold several addresses separated by commas or semicolons.
func formList(r *http.Request, key string) []string {
	var out []string
	for _, v := range r.PostForm[key] {
		for _, a := range strings.FieldsFunc(v, func(c rune) bool { return c == ',' || c == ';' || c == ' ' || c == '\n' || c == '\r' || c == '\t' }) {
			a = strings.ToLower(strings.TrimSpace(a))
			if a != "" && !slices.Contains(out, a) {
				out = append(out, a)
			}
		}
	}
	return out
}

func (srv *Server) releaseAction(w http.ResponseWriter, r *http.Request, se *session) {
	ctx := r.Context()
	id := r.PathValue("id")
	if !jobIDRE.MatchString(id) {
		srv.notFound(w, r, se, "Ce document n'existe pas.")
		return
	}
	j, err := srv.b.Store().Get(ctx, id)
	if err != nil {
		srv.notFound(w, r, se, "Ce document n'existe pas.")
		return
	}
	if j.State != store.StateHeld {
		srv.sessions.addFlash(se, "error", "Ce document n'est plus en attente ("+stateLabel(j.State)+") : quelqu'un l'a peut-être déjà traité.")
		http.Redirect(w, r, "/envois/"+id, http.StatusSeeOther)
		return
	}
	to, cc := formList(r, "to"), formList(r, "cc")
	cc = slices.DeleteFunc(cc, func(a string) bool { return slices.Contains(to, a) })
	pf := patientForm{
		FamilyName: strings.TrimSpace(r.PostFormValue("family_name")),
		GivenNames: strings.TrimSpace(r.PostFormValue("given_names")),
		BirthDate:  strings.TrimSpace(r.PostFormValue("birth_date")),
		Sex:        strings.TrimSpace(r.PostFormValue("sex")),
		INS:        ins.Normalize(r.PostFormValue("ins")),
	}
	var problems []string
	if len(to) == 0 {
		problems = append(problems, "Choisissez au moins un destinataire principal (« À »).")
	}
	for _, a := range append(append([]string{}, to...), cc...) {
		if err := trust.ValidAddress(a); err != nil {
			problems = append(problems, fmt.Sprintf("Adresse mal formée : %s", a))
		} else if !srv.trust.Contains(a) {
			problems = append(problems, fmt.Sprintf("%s est hors de l'espace de confiance MSSanté : rien n'est jamais envoyé hors de cet espace.", a))
		}
	}
	if pf.INS != "" {
		n, ok, err := ins.Check(pf.INS)
		switch {
		case err != nil:
			problems = append(problems, "INS : "+err.Error())
		case !ok:
			problems = append(problems, "La clé de l'INS ne correspond pas au numéro : vérifiez les 15 caractères.")
		default:
			pf.INS = n
		}
	}
	if pf.BirthDate != "" {
		if t, err := time.Parse("2006-01-02", pf.BirthDate); err != nil || t.After(srv.now()) || t.Year() < 1890 {
			problems = append(problems, "Date de naissance impossible.")
		}
	}
	if pf.Sex != "" && pf.Sex != "F" && pf.Sex != "M" {
		pf.Sex = ""
	}
	if len(problems) > 0 {
		srv.showHeldAgain(w, r, se, j, to, cc, pf, strings.Join(problems, "\n"))
		return
	}
	queue, _ := srv.heldQueue(ctx)
	actx := srv.actor(ctx, se)
	if err := srv.correct(actx, se, j, cc, pf); err != nil {
		srv.showHeldAgain(w, r, se, j, to, cc, pf, "La correction n'a pas pu être enregistrée : "+err.Error())
		return
	}
	var o bridge.ReleaseOptions
	o.To = to
	var cur reading.Result
	json.Unmarshal(j.Reading, &cur)
	if pf.INS != "" && (pf.INS != cur.Patient.INS || !cur.Patient.INSKeyValid) {
		o.INS = pf.INS
	}
	if _, err := srv.b.Release(actx, id, o); err != nil {
		if errors.Is(err, bridge.ErrWrongState) {
			srv.sessions.addFlash(se, "error", "Ce document n'est plus en attente : quelqu'un l'a peut-être déjà traité.")
			http.Redirect(w, r, "/envois/"+id, http.StatusSeeOther)
			return
		}
		srv.showHeldAgain(w, r, se, j, to, cc, pf, "L'envoi a été refusé : "+plainError(id, err))
		return
	}
	srv.metrics.actions.WithLabelValues("release").Inc()
	srv.log.Info("held document released from the desk", "job", id, "login", se.login, "recipients", len(to)+len(cc))
	srv.sessions.addFlash(se, "ok", fmt.Sprintf("Document libéré : il part vers %s.", strings.Join(append(append([]string{}, to...), cc...), ", ")))
	http.Redirect(w, r, srv.afterAction(ctx, id, queue), http.StatusSeeOther)
}

// correct writes the patient fields and the copies the secretary changed into the held job,
// before Release reads it, and records which fields changed (never their values) in the
// journal.
func (srv *Server) correct(ctx context.Context, se *session, j store.Job, cc []string, pf patientForm) error {
	var res reading.Result
	var dec routing.Decision
	json.Unmarshal(j.Reading, &res)
	json.Unmarshal(j.Route, &dec)
	var fields []string
	p := res.Patient
	set := func(name string, cur *string, v string) {
		if *cur != v {
			*cur = v
			fields = append(fields, name)
		}
	}
	set("family_name", &p.FamilyName, pf.FamilyName)
	set("given_names", &p.GivenNames, pf.GivenNames)
	set("birth_date", &p.BirthDate, pf.BirthDate)
	set("sex", &p.Sex, pf.Sex)
	if pf.INS == "" && p.INS != "" {
		p.INS, p.INSKeyValid = "", false
		fields = append(fields, "ins_removed")
	}
	ccChanged := !slices.Equal(cc, dec.Cc) && !(len(cc) == 0 && len(dec.Cc) == 0)
	if len(fields) == 0 && !ccChanged {
		return nil
	}
	_, err := srv.b.Store().Update(ctx, j.ID, func(x *store.Job) error {
		if x.State != store.StateHeld {
			return fmt.Errorf("the job is %s: %w", x.State, bridge.ErrWrongState)
		}
		var res reading.Result
		var dec routing.Decision
		json.Unmarshal(x.Reading, &res)
		json.Unmarshal(x.Route, &dec)
		res.Patient = p
		if ccChanged {
			dec.Cc = cc
		}
		var err error
		if x.Reading, err = json.Marshal(res); err != nil {
			return err
		}
		x.Route, err = json.Marshal(dec)
		return err
	})
	if err != nil {
		return err
	}
	detail := map[string]string{}
	if len(fields) > 0 {
		detail["patient_fields"] = strings.Join(fields, ",")
	}
	if ccChanged {
		detail["cc"] = addressesForAudit(cc)
	}
	return srv.record(ctx, audit.Entry{Event: "desk_corrected", Job: j.ID, Input: j.Input, Box: j.Box,
		Actor: "desk:" + se.login, DocSHA256: j.SHA256, MessageID: j.MessageID, Detail: detail})
}

// addressesForAudit masks patients' addresses (INS@patient.mssante.fr holds the INS): the
// journal holds no patient data.
func addressesForAudit(list []string) string {
	out := make([]string, 0, len(list))
	for _, a := range list {
		if routing.IsPatient(a) {
			a = "patient@patient.mssante.fr"
		}
		out = append(out, a)
	}
	return strings.Join(out, ",")
}

// plainError drops the "release ID: " prefix the bridge puts on its errors.
func plainError(id string, err error) string {
	s := err.Error()
	for _, verb := range []string{"release", "reject", "retry"} {
		s = strings.TrimPrefix(s, verb+" "+id+": ")
	}
	return s
}

func (srv *Server) showHeldAgain(w http.ResponseWriter, r *http.Request, se *session, j store.Job, to, cc []string, pf patientForm, msg string) {
	d, err := srv.heldData(r.Context(), j)
	if err != nil {
		srv.serverError(w, r, se, "lecture des documents en attente", err)
		return
	}
	d.Send = nil
	for _, a := range to {
		d.Send = append(d.Send, srv.recipient(a, "to", d.Job.Reading.Recipients))
	}
	for _, a := range cc {
		d.Send = append(d.Send, srv.recipient(a, "cc", d.Job.Reading.Recipients))
	}
	if _, ok, err := ins.Check(pf.INS); err == nil && ok {
		pf.INSValid = true
	}
	d.Patient, d.Error = pf, msg
	srv.render(w, r, se, http.StatusUnprocessableEntity, "held", "Relecture", "held", d)
}

func (srv *Server) rejectAction(w http.ResponseWriter, r *http.Request, se *session) {
	ctx := r.Context()
	id := r.PathValue("id")
	if !jobIDRE.MatchString(id) {
		srv.notFound(w, r, se, "Ce document n'existe pas.")
		return
	}
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	if reason == "" {
		srv.sessions.addFlash(se, "error", "Pour écarter un document, donnez une raison.")
		http.Redirect(w, r, "/attente/"+id, http.StatusSeeOther)
		return
	}
	if len([]rune(reason)) > 500 {
		reason = string([]rune(reason)[:500])
	}
	queue, _ := srv.heldQueue(ctx)
	if _, err := srv.b.Reject(srv.actor(ctx, se), id, reason); err != nil {
		msg := "Le document n'a pas pu être écarté : " + plainError(id, err)
		if errors.Is(err, bridge.ErrWrongState) {
			msg = "Ce document n'est plus en attente : quelqu'un l'a peut-être déjà traité."
		} else if errors.Is(err, store.ErrNotFound) {
			msg = "Ce document n'existe pas."
		}
		srv.sessions.addFlash(se, "error", msg)
		http.Redirect(w, r, "/envois/"+id, http.StatusSeeOther)
		return
	}
	srv.metrics.actions.WithLabelValues("reject").Inc()
	srv.log.Info("held document rejected from the desk", "job", id, "login", se.login)
	srv.sessions.addFlash(se, "ok", "Document écarté : il ne sera pas envoyé (gardé dans rejected/).")
	http.Redirect(w, r, srv.afterAction(ctx, id, queue), http.StatusSeeOther)
}

// directoryEntry is one result of the recipient search, as the script shows it.
type directoryEntry struct {
	Address        string `json:"address"`
	Name           string `json:"name"`
	Detail         string `json:"detail"`
	RPPS           string `json:"rpps,omitempty"`
	Dematerialised bool   `json:"dematerialised"`
	InTrust        bool   `json:"in_trust"`
	Kind           string `json:"kind"`
}

// directorySearch answers the recipient picker (POST, so that a name never reaches a URL).
func (srv *Server) directorySearch(w http.ResponseWriter, r *http.Request, se *session) {
	if srv.dir == nil {
		writeJSONError(w, http.StatusNotFound, "Aucun annuaire n'est configuré (directory.file) : saisissez l'adresse.")
		return
	}
	q := strings.TrimSpace(r.PostFormValue("q"))
	if len(q) > 200 {
		q = q[:200]
	}
	out := []directoryEntry{}
	if q != "" {
		for _, e := range srv.dir.Search(q, 20) {
			out = append(out, directoryEntry{Address: e.Address, Name: entryName(e), Detail: entryDetail(e), RPPS: e.PPID,
				Dematerialised: e.Dematerialised, InTrust: srv.trust.Contains(e.Address), Kind: e.Kind})
		}
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	json.NewEncoder(w).Encode(out)
}

// jobFromPath reads the job named by the path's {id}, answering 404 (or 500) itself when it
// cannot.
func (srv *Server) jobFromPath(w http.ResponseWriter, r *http.Request, se *session) (store.Job, bool) {
	id := r.PathValue("id")
	if !jobIDRE.MatchString(id) {
		srv.notFound(w, r, se, "Ce document n'existe pas.")
		return store.Job{}, false
	}
	j, err := srv.b.Store().Get(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		srv.notFound(w, r, se, "Ce document n'existe pas.")
		return store.Job{}, false
	}
	if err != nil {
		srv.serverError(w, r, se, "lecture du document", err)
		return store.Job{}, false
	}
	return j, true
}
