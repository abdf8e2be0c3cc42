package web

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/mssbridge/mssbridge/audit"
	"github.com/mssbridge/mssbridge/bridge"
	"github.com/mssbridge/mssbridge/store"
)

// jobQuery is a search of the sent and failed documents, kept in the session.
type jobQuery struct {
	Text     string
	From, To string // YYYY-MM-DD, local days, inclusive
}

func (q *jobQuery) empty() bool { return q == nil || (q.Text == "" && q.From == "" && q.To == "") }

// jobTabs are the lists of the « Envois » page; the tab is in the URL (?etat=), it names no one.
type jobTab struct {
	Key, Label string
	States     []store.State
}

var jobTabs = []jobTab{
	{"", "Tous", store.AllStates},
	{"envoyes", "Envoyés", []store.State{store.StateSent}},
	{"echecs", "En échec", []store.State{store.StateFailed}},
	{"ecartes", "Écartés", []store.State{store.StateRejected}},
	{"en-cours", "En cours", []store.State{store.StateRouted, store.StateSending, store.StateClaimed, store.StateClaiming}},
}

// searchWindow bounds how many documents a search reads: the search runs in Go over the
// store's JSON, which is fine for a site's few thousand documents a month.
const searchWindow = 20000

// listLimit is how many documents a list shows.
const listLimit = 300

type jobsData struct {
	Tabs      []tabView
	Tab       string
	Query     jobQuery
	Searching bool
	Jobs      []jobView
	More      bool
	Window    int
}

type tabView struct {
	Key, Label string
	Active     bool
	N          int
}

func (srv *Server) jobsList(w http.ResponseWriter, r *http.Request, se *session) {
	tab := r.URL.Query().Get("etat")
	ti := slices.IndexFunc(jobTabs, func(t jobTab) bool { return t.Key == tab })
	if ti < 0 {
		ti, tab = 0, ""
	}
	var q jobQuery
	srv.sessions.with(se, func(x *session) {
		if x.jobSearch != nil {
			q = *x.jobSearch
		}
	})
	d := jobsData{Tab: tab, Query: q, Searching: !q.empty(), Window: searchWindow}
	counts, _ := srv.b.Store().Counts(r.Context())
	for i, t := range jobTabs {
		tv := tabView{Key: t.Key, Label: t.Label, Active: i == ti}
		for _, c := range counts {
			if slices.Contains(t.States, c.State) {
				tv.N += c.N
			}
		}
		d.Tabs = append(d.Tabs, tv)
	}
	limit := listLimit + 1
	if d.Searching {
		limit = searchWindow
	}
	jobs, err := srv.b.Store().List(r.Context(), store.Filter{States: jobTabs[ti].States, Limit: limit})
	if err != nil {
		srv.serverError(w, r, se, "liste des envois", err)
		return
	}
	m := newMatcher(q)
	for _, j := range jobs {
		v := srv.view(j)
		if d.Searching && !m.match(v) {
			continue
		}
		if len(d.Jobs) == listLimit {
			d.More = true
			break
		}
		d.Jobs = append(d.Jobs, v)
	}
	srv.render(w, r, se, http.StatusOK, "jobs", "Envois", "jobs", d)
}

// jobsSearch keeps the search in the session and shows the list again (POST, redirect, GET:
// the words searched never appear in a URL, and the back button works).
func (srv *Server) jobsSearch(w http.ResponseWriter, r *http.Request, se *session) {
	q := &jobQuery{
		Text: strings.TrimSpace(r.PostFormValue("q")),
		From: dateOrEmpty(r.PostFormValue("from")),
		To:   dateOrEmpty(r.PostFormValue("to")),
	}
	if r.PostFormValue("clear") != "" || q.empty() {
		q = nil
	}
	srv.sessions.with(se, func(x *session) { x.jobSearch = q })
	target := "/envois"
	if tab := r.PostFormValue("etat"); tab != "" && slices.ContainsFunc(jobTabs, func(t jobTab) bool { return t.Key == tab }) {
		target += "?etat=" + tab
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

func dateOrEmpty(s string) string {
	s = strings.TrimSpace(s)
	if _, err := time.Parse("2006-01-02", s); err != nil {
		return ""
	}
	return s
}

// matcher finds the documents where every word of the query appears in the patient's name,
// INS or birth date, a recipient, the title, the file name or the ids; accents and case do
// not matter.
type matcher struct {
	words    []string
	from, to time.Time
}

func newMatcher(q jobQuery) matcher {
	m := matcher{words: strings.Fields(fold(q.Text))}
	if t, err := time.ParseInLocation("2006-01-02", q.From, time.Local); err == nil {
		m.from = t
	}
	if t, err := time.ParseInLocation("2006-01-02", q.To, time.Local); err == nil {
		m.to = t.AddDate(0, 0, 1)
	}
	return m
}

func (m matcher) match(v jobView) bool {
	if !m.from.IsZero() && v.CreatedAt.Before(m.from) {
		return false
	}
	if !m.to.IsZero() && !v.CreatedAt.Before(m.to) {
		return false
	}
	if len(m.words) == 0 {
		return true
	}
	p := v.Reading.Patient
	hay := []string{p.FamilyName, p.GivenNames, p.INS, p.BirthDate, fmtDate(p.BirthDate), v.Title, v.Reading.Document.Subject,
		v.SourceName, v.ID, v.MessageID, v.PrintJob, v.PrintUser, v.Box, v.Input}
	hay = append(hay, v.Recipients...)
	for _, rc := range v.Reading.Recipients {
		hay = append(hay, rc.Address, rc.Name, rc.RPPS)
	}
	text := fold(strings.Join(hay, " "))
	for _, w := range m.words {
		if !strings.Contains(text, w) {
			return false
		}
	}
	return true
}

// fold lowercases and drops French accents, so that « helene » finds HÉLÈNE.
func fold(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case 'à', 'â', 'ä', 'á', 'À', 'Â', 'Ä', 'Á':
			return 'a'
		case 'é', 'è', 'ê', 'ë', 'É', 'È', 'Ê', 'Ë':
			return 'e'
		case 'î', 'ï', 'í', 'Î', 'Ï', 'Í':
			return 'i'
		case 'ô', 'ö', 'ó', 'Ô', 'Ö', 'Ó':
			return 'o'
		case 'ù', 'û', 'ü', 'ú', 'Ù', 'Û', 'Ü', 'Ú':
			return 'u'
		case 'ç', 'Ç':
			return 'c'
		case 'ÿ', 'Ÿ':
			return 'y'
		case '-', '\'', '’':
			return ' '
		}
		return []rune(strings.ToLower(string(r)))[0]
	}, s)
}

type jobData struct {
	Job      jobView
	Reasons  []string
	Entries  []traceEntry
	HasDoc   bool
	IsPDF    bool
	Rejected string
}

// jobPage shows one document: its state, what was read, the server's replies, the delivery
// reports and every journal entry about it.
func (srv *Server) jobPage(w http.ResponseWriter, r *http.Request, se *session) {
	j, ok := srv.jobFromPath(w, r, se)
	if !ok {
		return
	}
	id := j.ID
	v := srv.view(j)
	d := jobData{Job: v}
	if j.State == store.StateHeld {
		d.Reasons, _ = srv.heldReasons(j, v)
	}
	if p := srv.documentPath(j); p != "" {
		d.HasDoc = true
		d.IsPDF = isPDF(p)
	}
	// Newest first, back to the job's creation: a job's entries all come after it (a minute of
	// margin for clocks), so an old journal is not read whole for a recent job.
	since := j.CreatedAt.Add(-time.Minute)
	journalBackwards(srv.journalPath, func(e audit.Entry) bool {
		if e.Time.Before(since) {
			return false
		}
		if e.Job == id {
			d.Entries = append(d.Entries, newTraceEntry(e))
		}
		return true
	})
	srv.render(w, r, se, http.StatusOK, "job", "Document "+id, "jobs", d)
}

func (srv *Server) retryAction(w http.ResponseWriter, r *http.Request, se *session) {
	id := r.PathValue("id")
	if !jobIDRE.MatchString(id) {
		srv.notFound(w, r, se, "Ce document n'existe pas.")
		return
	}
	if _, err := srv.b.Retry(srv.actor(r.Context(), se), id); err != nil {
		msg := "Le document n'a pas pu être relancé : " + plainError(id, err)
		if errors.Is(err, bridge.ErrWrongState) {
			msg = "Seul un document en échec peut être relancé : quelqu'un l'a peut-être déjà fait."
		}
		srv.sessions.addFlash(se, "error", msg)
	} else {
		srv.metrics.actions.WithLabelValues("retry").Inc()
		srv.log.Info("failed document retried from the desk", "job", id, "login", se.login)
		srv.sessions.addFlash(se, "ok", "Document remis dans la file d'envoi : il repart dans quelques secondes.")
	}
	http.Redirect(w, r, "/envois/"+id, http.StatusSeeOther)
}

// docExt is the extension the bridge gives a job's document (the bridge's rule: .pdf for a
// PDF, .original.EXT for anything else).
func docExt(name string) string {
	ext := strings.ToLower(filepath.Ext(name))
	if ext == ".pdf" {
		return ".pdf"
	}
	if ext == "" || len(ext) > 8 || strings.ContainsAny(ext, " \\/") {
		return ".original"
	}
	return ".original" + ext
}

// documentPath finds a job's document where its state puts it; "" when it is nowhere.
func (srv *Server) documentPath(j store.Job) string {
	name := j.ID + docExt(j.SourceName)
	var candidates []string
	switch j.State {
	case store.StateHeld:
		candidates = []string{filepath.Join(srv.b.HeldDir(), name)}
	case store.StateFailed:
		candidates = []string{filepath.Join(srv.b.FailedDir(), name)}
	case store.StateRejected:
		candidates = []string{filepath.Join(srv.dataDir, "rejected", name)}
	case store.StateSent:
		if m, _ := filepath.Glob(filepath.Join(srv.dataDir, "sent", "*", name)); len(m) > 0 {
			candidates = m
		}
	default:
		candidates = []string{filepath.Join(srv.dataDir, "spool", name)}
	}
	for _, c := range candidates {
		if st, err := os.Stat(c); err == nil && st.Mode().IsRegular() {
			return c
		}
	}
	return ""
}

func isPDF(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, 5)
	n, _ := io.ReadFull(f, head)
	return n == 5 && string(head) == "%PDF-"
}

// documentFile serves a job's document: a PDF inline (for the viewer beside the reading),
// anything else as a download. The file name is the job id: the original name may name the
// patient and would end up in the browser's download history.
func (srv *Server) documentFile(w http.ResponseWriter, r *http.Request, se *session) {
	id := r.PathValue("id")
	if !jobIDRE.MatchString(id) {
		http.NotFound(w, r)
		return
	}
	j, err := srv.b.Store().Get(r.Context(), id)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	p := srv.documentPath(j)
	if p == "" {
		http.Error(w, "Le document n'est plus dans les dossiers de la passerelle.", http.StatusNotFound)
		return
	}
	serveFile(w, r, p, id)
}

func serveFile(w http.ResponseWriter, r *http.Request, path, name string) {
	f, err := os.Open(path)
	if err != nil {
		http.Error(w, "Document illisible.", http.StatusNotFound)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		http.Error(w, "Document illisible.", http.StatusNotFound)
		return
	}
	if isPDF(path) {
		w.Header().Set("Content-Type", "application/pdf")
		w.Header().Set("Content-Disposition", fmt.Sprintf(`inline; filename="%s.pdf"`, name))
	} else {
		ext := filepath.Ext(path)
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s%s"`, name, ext))
	}
	http.ServeContent(w, r, "", st.ModTime(), f)
}
