package web

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mssbridge/mssbridge/audit"
	"github.com/mssbridge/mssbridge/store"
)

// traceQuery is a search of the audit journal, kept in the session.
type traceQuery struct {
	Text  string `json:"text,omitempty"`
	Event string `json:"event,omitempty"`
	From  string `json:"from,omitempty"`
	To    string `json:"to,omitempty"`
}

type traceEntry struct {
	audit.Entry
	Label  string
	Detail []string
	Local  string
}

func newTraceEntry(e audit.Entry) traceEntry {
	t := traceEntry{Entry: e, Label: eventLabel(e.Event), Local: e.Time.Local().Format("02/01/2006 15:04:05")}
	keys := make([]string, 0, len(e.Detail))
	for k := range e.Detail {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if e.Detail[k] != "" {
			t.Detail = append(t.Detail, k+" = "+e.Detail[k])
		}
	}
	return t
}

// verification is what audit.Verify said of the whole journal.
type verification struct {
	OK       bool      `json:"ok"`
	Entries  int64     `json:"entries"`
	LastSeq  int64     `json:"last_seq"`
	LastHash string    `json:"last_hash"`
	Line     int       `json:"broken_line,omitempty"`
	Seq      int64     `json:"broken_seq,omitempty"`
	Reason   string    `json:"reason,omitempty"`
	Error    string    `json:"error,omitempty"`
	At       time.Time `json:"-"` // when, for the page's cached result
}

// verifyCacheFor is how long the trace page reuses a verification of the whole journal: a
// year of a busy site is a few hundred MB to hash. The export always verifies afresh.
const verifyCacheFor = 5 * time.Minute

type verifyCache struct {
	mu  sync.Mutex
	at  time.Time
	res verification
}

func (srv *Server) verifyCached() verification {
	srv.verified.mu.Lock()
	defer srv.verified.mu.Unlock()
	if srv.verified.at.IsZero() || time.Since(srv.verified.at) > verifyCacheFor {
		srv.verified.res, srv.verified.at = srv.verify(), time.Now()
	}
	v := srv.verified.res
	v.At = srv.verified.at
	return v
}

func (srv *Server) verify() verification {
	rep, err := audit.Verify(srv.journalPath)
	v := verification{OK: err == nil, Entries: rep.Entries, LastSeq: rep.LastSeq, LastHash: rep.LastHash}
	var be *audit.BrokenError
	switch {
	case errors.As(err, &be):
		v.Line, v.Seq, v.Reason = be.Line, be.Seq, be.Reason
	case errors.Is(err, os.ErrNotExist):
		v.OK = true
	case err != nil:
		v.Error = err.Error()
	}
	return v
}

type traceData struct {
	Query    traceQuery
	Events   []string
	Labels   map[string]string
	Entries  []traceEntry
	More     bool
	Verify   verification
	Path     string
	Matching int
}

// traceLimit is how many entries the page shows (the export has them all).
const traceLimit = 500

func (srv *Server) tracePage(w http.ResponseWriter, r *http.Request, se *session) {
	var q traceQuery
	srv.sessions.with(se, func(x *session) {
		if x.traceSearch != nil {
			q = *x.traceSearch
		}
	})
	d := traceData{Query: q, Labels: eventLabels, Verify: srv.verifyCached(), Path: srv.journalPath}
	for e := range eventLabels {
		d.Events = append(d.Events, e)
	}
	slices.Sort(d.Events)
	if q == (traceQuery{}) {
		// No filter: the newest entries, read from the end; the whole journal is not read.
		err := journalBackwards(srv.journalPath, func(e audit.Entry) bool {
			d.Entries = append(d.Entries, newTraceEntry(e))
			return len(d.Entries) < traceLimit
		})
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			srv.serverError(w, r, se, "lecture du journal", err)
			return
		}
		d.Matching = max(int(d.Verify.Entries), len(d.Entries))
		d.More = d.Matching > len(d.Entries)
		srv.render(w, r, se, http.StatusOK, "trace", "Journal d'audit", "trace", d)
		return
	}
	// The last traceLimit matches, kept in a ring while the journal is read.
	ring := make([]audit.Entry, 0, traceLimit)
	next := 0
	err := srv.traceMatches(r, q, func(e audit.Entry, _ []byte) {
		d.Matching++
		if len(ring) < traceLimit {
			ring = append(ring, e)
			return
		}
		ring[next] = e
		next = (next + 1) % traceLimit
	})
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		srv.serverError(w, r, se, "lecture du journal", err)
		return
	}
	entries := append(ring[next:len(ring):len(ring)], ring[:next]...)
	slices.Reverse(entries)
	d.More = d.Matching > len(entries)
	for _, e := range entries {
		d.Entries = append(d.Entries, newTraceEntry(e))
	}
	srv.render(w, r, se, http.StatusOK, "trace", "Journal d'audit", "trace", d)
}

func (srv *Server) traceSearch(w http.ResponseWriter, r *http.Request, se *session) {
	q := &traceQuery{
		Text:  strings.TrimSpace(r.PostFormValue("q")),
		Event: strings.TrimSpace(r.PostFormValue("event")),
		From:  dateOrEmpty(r.PostFormValue("from")),
		To:    dateOrEmpty(r.PostFormValue("to")),
	}
	if _, ok := eventLabels[q.Event]; !ok {
		q.Event = ""
	}
	if r.PostFormValue("clear") != "" || *q == (traceQuery{}) {
		q = nil
	}
	srv.sessions.with(se, func(x *session) { x.traceSearch = q })
	http.Redirect(w, r, "/journal", http.StatusSeeOther)
}

// traceMatches reads the journal from the start and keeps the entries that match q, in
// order, with their lines as written. A word of the query matches an entry's event, job,
// box, input, actor, Message-ID, document hash or details; and since the journal holds no
// patient data, words that name a patient (or an INS, a recipient, a title) are first looked
// up in the job store and match the entries of those jobs.
func (srv *Server) traceMatches(r *http.Request, q traceQuery, fn func(e audit.Entry, raw []byte)) error {
	words := strings.Fields(fold(q.Text))
	var jobs map[string]bool
	if len(words) > 0 {
		jobs = map[string]bool{}
		all, err := srv.b.Store().List(r.Context(), store.Filter{Limit: searchWindow})
		if err == nil {
			m := newMatcher(jobQuery{Text: q.Text})
			for _, j := range all {
				if m.match(srv.view(j)) {
					jobs[j.ID] = true
				}
			}
		}
	}
	var from, to time.Time
	if t, err := time.ParseInLocation("2006-01-02", q.From, time.Local); err == nil {
		from = t
	}
	if t, err := time.ParseInLocation("2006-01-02", q.To, time.Local); err == nil {
		to = t.AddDate(0, 0, 1)
	}
	return journalForward(srv.journalPath, func(e audit.Entry, raw []byte) bool {
		if q.Event != "" && e.Event != q.Event {
			return true
		}
		if !from.IsZero() && e.Time.Before(from) || !to.IsZero() && !e.Time.Before(to) {
			return true
		}
		if len(words) > 0 && !jobs[e.Job] {
			parts := []string{e.Event, eventLabel(e.Event), e.Job, e.Box, e.Input, e.Actor, e.MessageID, e.DocSHA256}
			for k, v := range e.Detail {
				parts = append(parts, k, v)
			}
			text := fold(strings.Join(parts, " "))
			for _, w := range words {
				if !strings.Contains(text, w) {
					return true
				}
			}
		}
		fn(e, raw)
		return true
	})
}

// traceExport downloads, for a dispute, the matching entries exactly as written (so that
// anyone can recompute their hashes, see audit's package documentation) with the result of
// the verification of the whole journal and the journal file's SHA-256 at that moment.
func (srv *Server) traceExport(w http.ResponseWriter, r *http.Request, se *session) {
	var q traceQuery
	srv.sessions.with(se, func(x *session) {
		if x.traceSearch != nil {
			q = *x.traceSearch
		}
	})
	if job := strings.TrimSpace(r.PostFormValue("job")); jobIDRE.MatchString(job) {
		q = traceQuery{Text: job}
	}
	ver := srv.verify()
	sum := ""
	if f, err := os.Open(srv.journalPath); err == nil {
		h := sha256.New()
		io.Copy(h, f)
		f.Close()
		sum = hex.EncodeToString(h.Sum(nil))
	}
	now := srv.now()
	head := struct {
		Format       string       `json:"format"`
		ExportedAt   string       `json:"exported_at"`
		ExportedBy   string       `json:"exported_by"`
		Filter       traceQuery   `json:"filter"`
		Journal      string       `json:"journal"`
		JournalSHA   string       `json:"journal_sha256"`
		Verification verification `json:"verification"`
		Note         string       `json:"note"`
	}{
		Format: "mssbridge-audit-export/1", ExportedAt: now.UTC().Format(time.RFC3339), ExportedBy: "desk:" + se.login,
		Filter: q, Journal: srv.journalPath, JournalSHA: sum, Verification: ver,
		Note: "Entrées copiées telles qu'écrites dans le journal chaîné. Chaque « hash » est le SHA-256 de l'encodage " +
			"canonique de l'entrée (voir la documentation du paquet audit) et « prev » celui de l'entrée précédente ; " +
			"« verification » est le résultat de audit.Verify sur le journal entier au moment de l'export.",
	}
	headJSON, err := json.MarshalIndent(head, "", "  ")
	if err != nil {
		srv.serverError(w, r, se, "export du journal", err)
		return
	}
	name := "mssbridge-journal-" + now.Local().Format("20060102-150405") + ".json"
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	// The entries are streamed: an export of a whole year is never held in memory.
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.Write(headJSON[:len(headJSON)-2]) // without the closing "\n}"
	bw.WriteString(",\n  \"entries\": [")
	n := 0
	err = srv.traceMatches(r, q, func(_ audit.Entry, raw []byte) {
		if n > 0 {
			bw.WriteByte(',')
		}
		bw.WriteString("\n    ")
		bw.Write(raw)
		n++
	})
	fmt.Fprintf(bw, "\n  ],\n  \"count\": %d\n}\n", n)
	bw.Flush()
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		srv.log.Error("desk: journal export cut short", "err", err)
	}
	detail := map[string]string{"entries": fmt.Sprint(n), "verified": fmt.Sprint(ver.OK)}
	if q.Event != "" {
		detail["event"] = q.Event
	}
	if q.From != "" || q.To != "" {
		detail["dates"] = q.From + ".." + q.To
	}
	if jobIDRE.MatchString(q.Text) {
		detail["job"] = q.Text
	} else if q.Text != "" {
		detail["search"] = "yes" // the words may name a patient: not written here
	}
	srv.record(r.Context(), audit.Entry{Event: "desk_export", Actor: "desk:" + se.login, Detail: detail})
	srv.metrics.actions.WithLabelValues("export").Inc()
}
