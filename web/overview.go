package web

import (
	"bufio"
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"time"

	"github.com/mssbridge/mssbridge/audit"
	"github.com/mssbridge/mssbridge/store"
)

// stateGroup is a column of the overview's tables.
type stateGroup struct {
	Key    string
	Label  string
	Class  string
	States []store.State
}

var stateGroups = []stateGroup{
	{"busy", "En cours", "busy", []store.State{store.StateClaiming, store.StateClaimed, store.StateRouted, store.StateSending}},
	{"sent", "Envoyés", "ok", []store.State{store.StateSent}},
	{"held", "En attente", "held", []store.State{store.StateHeld}},
	{"failed", "En échec", "bad", []store.State{store.StateFailed}},
	{"rejected", "Écartés", "muted", []store.State{store.StateRejected}},
}

type countRow struct {
	ID     string
	Detail string // the box's address, the input's folder
	N      []int  // one per stateGroups entry
	Certs  []certInfo
}

type dayCounts struct {
	Day                          time.Time
	Label                        string
	Sent, Held, Failed, Received int
}

type overviewData struct {
	Groups     []stateGroup
	Totals     []int
	Boxes      []countRow
	Inputs     []countRow
	Today      dayCounts
	Chart      chart
	Errors     []jobView
	OldestHeld *jobView
	Certs      []certInfo
	Receiving  bool
}

func (srv *Server) overviewPage(w http.ResponseWriter, r *http.Request, se *session) {
	ctx := r.Context()
	st := srv.b.Store()
	counts, err := st.Counts(ctx)
	if err != nil {
		srv.serverError(w, r, se, "lecture des compteurs", err)
		return
	}
	d := overviewData{Groups: stateGroups, Totals: make([]int, len(stateGroups))}
	boxRows := map[string]*countRow{}
	inputRows := map[string]*countRow{}
	for _, b := range srv.cfg.Boxes {
		row := &countRow{ID: b.ID, Detail: b.Address, N: make([]int, len(stateGroups))}
		boxRows[b.ID] = row
		if b.IMAP != nil {
			d.Receiving = true
		}
	}
	for _, in := range srv.cfg.Inputs {
		inputRows[in.ID] = &countRow{ID: in.ID, Detail: in.Path, N: make([]int, len(stateGroups))}
	}
	row := func(m map[string]*countRow, id string) *countRow {
		if m[id] == nil {
			m[id] = &countRow{ID: id, N: make([]int, len(stateGroups))}
		}
		return m[id]
	}
	for _, c := range counts {
		for i, g := range stateGroups {
			if slices.Contains(g.States, c.State) {
				d.Totals[i] += c.N
				row(boxRows, c.Box).N[i] += c.N
				row(inputRows, c.Input).N[i] += c.N
			}
		}
	}
	d.Certs = srv.certificates()
	for _, c := range d.Certs {
		if r := boxRows[c.Box]; r != nil {
			r.Certs = append(r.Certs, c)
		}
	}
	d.Boxes = sortedRows(boxRows)
	d.Inputs = sortedRows(inputRows)

	failed, err := st.List(ctx, store.Filter{States: []store.State{store.StateFailed}, Limit: 8})
	if err == nil {
		for _, j := range failed {
			d.Errors = append(d.Errors, srv.view(j))
		}
	}
	if held, err := st.List(ctx, store.Filter{States: []store.State{store.StateHeld}}); err == nil && len(held) > 0 {
		v := srv.view(held[len(held)-1])
		d.OldestHeld = &v
	}
	days := srv.lastDays(ctx, 7)
	d.Today = days[len(days)-1]
	d.Chart = makeChart(days)
	srv.render(w, r, se, http.StatusOK, "overview", "Tableau de bord", "overview", d)
}

func sortedRows(m map[string]*countRow) []countRow {
	var out []countRow
	for _, r := range m {
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b countRow) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	return out
}

// lastDays counts, for each of the last n local days (today last), the documents sent, held
// and failed (from the audit journal, read backwards from its end) and received (from the
// ledger).
func (srv *Server) lastDays(ctx context.Context, n int) []dayCounts {
	now := srv.now().Local()
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.Local)
	days := make([]dayCounts, n)
	for i := range days {
		day := today.AddDate(0, 0, i-n+1)
		days[i] = dayCounts{Day: day, Label: frDays[day.Weekday()] + " " + day.Format("02/01")}
	}
	since := days[0].Day
	index := func(t time.Time) int {
		t = t.Local()
		for i := n - 1; i >= 0; i-- {
			if !t.Before(days[i].Day) {
				if i == n-1 && !t.Before(today.AddDate(0, 0, 1)) {
					return -1
				}
				return i
			}
		}
		return -1
	}
	err := journalBackwards(srv.journalPath, func(e audit.Entry) bool {
		if e.Time.Before(since) {
			return false
		}
		i := index(e.Time)
		if i < 0 {
			return true
		}
		switch e.Event {
		case "sent":
			days[i].Sent++
		case "held":
			days[i].Held++
		case "failed", "delivery_failed":
			days[i].Failed++
		}
		return true
	})
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		srv.log.Warn("read audit journal for the overview", "err", err)
	}
	if led, ok := srv.b.Store().(receivedLedger); ok {
		for _, b := range srv.cfg.Boxes {
			recs, err := led.ListReceived(ctx, b.ID, "", 5000)
			if err != nil {
				continue
			}
			for _, rec := range recs {
				if rec.Kind != "document" || rec.CreatedAt.Before(since) {
					continue
				}
				if i := index(rec.CreatedAt); i >= 0 {
					days[i].Received++
				}
			}
		}
	}
	return days
}

// journalBackwards calls fn with the journal's entries from the newest, until fn returns
// false or the file's start. It reads 64 KiB blocks from the end, so a look at the last days
// costs the same whatever the journal's age.
func journalBackwards(path string, fn func(audit.Entry) bool) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	const block = 64 << 10
	pos := st.Size()
	var carry []byte // the start of a line whose beginning is in an earlier block
	for pos > 0 {
		n := min(int64(block), pos)
		pos -= n
		buf := make([]byte, n, n+int64(len(carry)))
		if _, err := f.ReadAt(buf, pos); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		buf = append(buf, carry...)
		lines := bytes.Split(buf, []byte{'\n'})
		first := 0
		if pos > 0 {
			carry = append([]byte(nil), lines[0]...)
			first = 1
		} else {
			carry = nil
		}
		for i := len(lines) - 1; i >= first; i-- {
			line := bytes.TrimSpace(lines[i])
			if len(line) == 0 {
				continue
			}
			var e audit.Entry
			if json.Unmarshal(line, &e) != nil {
				continue
			}
			if !fn(e) {
				return nil
			}
		}
	}
	return nil
}

// journalForward calls fn with every entry from the oldest, with its raw line.
func journalForward(path string, fn func(e audit.Entry, raw []byte) bool) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e audit.Entry
		if json.Unmarshal(line, &e) != nil {
			continue
		}
		if !fn(e, line) {
			return nil
		}
	}
	return sc.Err()
}

// certInfo is a box's client certificate, as the overview shows it.
type certInfo struct {
	Box      string
	Use      string // smtp, imap
	File     string
	Subject  string
	NotAfter time.Time
	DaysLeft int
	Class    string // ok, held (30 days or less), bad (expired or unreadable)
	Err      string
}

// certificates reads each box's client certificate (SMTP, and IMAP when it is another file).
func (srv *Server) certificates() []certInfo {
	var out []certInfo
	now := srv.now()
	for _, b := range srv.cfg.Boxes {
		for _, f := range b.ClientCerts() {
			ci := certInfo{Box: b.ID, Use: f.Use, File: f.File}
			cert, err := readCert(f.File)
			if err != nil {
				ci.Err, ci.Class = err.Error(), "bad"
				out = append(out, ci)
				continue
			}
			ci.Subject, ci.NotAfter = cert.Subject.CommonName, cert.NotAfter
			ci.DaysLeft = int(cert.NotAfter.Sub(now).Hours() / 24)
			switch {
			case now.After(cert.NotAfter):
				ci.Class = "bad"
			case ci.DaysLeft <= 30:
				ci.Class = "held"
			default:
				ci.Class = "ok"
			}
			out = append(out, ci)
		}
	}
	return out
}

func readCert(path string) (*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("illisible : %v", errors.Unwrap(err))
	}
	for {
		var blk *pem.Block
		blk, data = pem.Decode(data)
		if blk == nil {
			return nil, errors.New("aucun certificat PEM dans le fichier")
		}
		if blk.Type == "CERTIFICATE" {
			return x509.ParseCertificate(blk.Bytes)
		}
	}
}

// chart is the 7-day bar chart, laid out here so that the template only writes rectangles.
type chart struct {
	Width, Height int
	Groups        []chartGroup
	Legend        []chartBar
	Baseline      int
}

type chartGroup struct {
	Label  string
	X      int
	LabelX int
	Bars   []chartBar
}

type chartBar struct {
	Class string
	Name  string
	N     int
	X, Y  int
	W, H  int
	TextY int
	TextX int
}

func makeChart(days []dayCounts) chart {
	const (
		width, height = 720, 220
		top, bottom   = 24, 40
		left          = 10
		barW, gap     = 18, 3
	)
	c := chart{Width: width, Height: height, Baseline: height - bottom}
	maxN := 1
	for _, d := range days {
		maxN = max(maxN, d.Sent, d.Held, d.Failed, d.Received)
	}
	series := []struct{ class, name string }{{"ok", "envoyés"}, {"held", "mis en attente"}, {"bad", "en échec"}, {"recv", "reçus"}}
	groupW := (width - 2*left) / len(days)
	for i, d := range days {
		g := chartGroup{Label: d.Label, X: left + i*groupW}
		g.LabelX = g.X + groupW/2
		vals := []int{d.Sent, d.Held, d.Failed, d.Received}
		start := g.X + (groupW-(4*barW+3*gap))/2
		for k, v := range vals {
			h := v * (height - top - bottom) / maxN
			if v > 0 && h < 2 {
				h = 2
			}
			b := chartBar{Class: series[k].class, Name: series[k].name, N: v, X: start + k*(barW+gap), W: barW, H: h}
			b.Y = c.Baseline - h
			b.TextX, b.TextY = b.X+barW/2, b.Y-4
			g.Bars = append(g.Bars, b)
		}
		c.Groups = append(c.Groups, g)
	}
	for k, s := range series {
		c.Legend = append(c.Legend, chartBar{Class: s.class, Name: s.name, X: left + k*150})
	}
	return c
}
