package web

import (
	"bytes"
	"context"
	"encoding/json"
	"mime"
	"net/http"
	"net/mail"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/mssbridge/mssbridge/inbound"
	"github.com/mssbridge/mssbridge/store"
)

var receivedKinds = map[string]string{
	"document":   "document déposé",
	"dsn":        "accusé de remise",
	"mdn":        "accusé de lecture",
	"quarantine": "mis en quarantaine",
	"duplicate":  "doublon ignoré",
}

type receivedView struct {
	store.Received
	KindLabel  string
	Class      string
	Files      []receivedFile
	Sidecar    *inbound.Sidecar // the first document's sidecar
	Patient    string
	Sender     string
	Subject    string
	Quarantine map[string]any
}

type receivedFile struct {
	N       int
	Name    string
	Present bool
	Sidecar bool
}

type receivedData struct {
	Tab        string
	Tabs       []tabView
	Items      []receivedView
	Receiving  bool
	Import     string
	Quarantine string
}

var receivedTabs = []struct{ Key, Label string }{
	{"", "Tous"}, {"documents", "Documents"}, {"quarantaine", "Quarantaine"}, {"accuses", "Accusés"},
}

func (srv *Server) receivedRecords(ctx context.Context, limit int) ([]store.Received, bool) {
	led, ok := srv.b.Store().(receivedLedger)
	if !ok {
		return nil, false
	}
	var all []store.Received
	for _, b := range srv.cfg.Boxes {
		recs, err := led.ListReceived(ctx, b.ID, "", limit)
		if err != nil {
			srv.log.Warn("list received messages", "box", b.ID, "err", err)
			continue
		}
		all = append(all, recs...)
	}
	slices.SortFunc(all, func(a, b store.Received) int { return b.CreatedAt.Compare(a.CreatedAt) })
	return all, true
}

func (srv *Server) receivedList(w http.ResponseWriter, r *http.Request, se *session) {
	tab := r.URL.Query().Get("type")
	d := receivedData{Tab: tab, Import: srv.cfg.Import.Path, Quarantine: srv.cfg.Import.Quarantine}
	for _, b := range srv.cfg.Boxes {
		if b.IMAP != nil {
			d.Receiving = true
		}
	}
	recs, _ := srv.receivedRecords(r.Context(), 2000)
	counts := map[string]int{}
	for _, rec := range recs {
		counts[receivedTab(rec.Kind)]++
		counts[""]++
	}
	for _, t := range receivedTabs {
		d.Tabs = append(d.Tabs, tabView{Key: t.Key, Label: t.Label, Active: t.Key == tab, N: counts[t.Key]})
	}
	for _, rec := range recs {
		if tab != "" && receivedTab(rec.Kind) != tab {
			continue
		}
		d.Items = append(d.Items, srv.receivedView(rec))
		if len(d.Items) == listLimit {
			break
		}
	}
	srv.render(w, r, se, http.StatusOK, "received_list", "Reçus", "received", d)
}

func receivedTab(kind string) string {
	switch kind {
	case "document":
		return "documents"
	case "quarantine":
		return "quarantaine"
	case "dsn", "mdn":
		return "accuses"
	}
	return "autres"
}

// receivedView reads what the deposit left: the sidecars in the import folder (the clinical
// software may already have taken them), or the quarantine note.
func (srv *Server) receivedView(rec store.Received) receivedView {
	v := receivedView{Received: rec, KindLabel: receivedKinds[rec.Kind]}
	if v.KindLabel == "" {
		v.KindLabel = rec.Kind
	}
	switch rec.Kind {
	case "document":
		v.Class = "ok"
	case "quarantine":
		v.Class = "bad"
	default:
		v.Class = "muted"
	}
	dir := srv.receivedDir(rec)
	for i, name := range rec.Files {
		name = filepath.Base(name)
		f := receivedFile{N: i, Name: name, Sidecar: strings.HasSuffix(name, ".json")}
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			f.Present = true
			if f.Sidecar && v.Sidecar == nil {
				if data, err := os.ReadFile(p); err == nil {
					var sc inbound.Sidecar
					if json.Unmarshal(data, &sc) == nil {
						v.Sidecar = &sc
					}
				}
			}
		}
		v.Files = append(v.Files, f)
	}
	if v.Sidecar != nil {
		v.Sender, v.Subject = v.Sidecar.Sender, v.Sidecar.Subject
		if p := v.Sidecar.Patient; p != nil {
			v.Patient = strings.TrimSpace(p.FamilyName + " " + p.GivenNames)
		}
	}
	if rec.Kind == "quarantine" && srv.cfg.Import.Quarantine != "" {
		if data, err := os.ReadFile(filepath.Join(srv.cfg.Import.Quarantine, rec.ID+".json")); err == nil {
			json.Unmarshal(data, &v.Quarantine)
		}
		if raw, err := os.ReadFile(filepath.Join(srv.cfg.Import.Quarantine, rec.ID+".eml")); err == nil {
			if m, err := mail.ReadMessage(bytes.NewReader(raw)); err == nil {
				v.Sender = m.Header.Get("From")
				v.Subject = m.Header.Get("Subject")
				if s, err := new(mime.WordDecoder).DecodeHeader(v.Subject); err == nil {
					v.Subject = s
				}
			}
		}
	}
	return v
}

func (srv *Server) receivedDir(rec store.Received) string {
	if rec.Kind == "quarantine" {
		return srv.cfg.Import.Quarantine
	}
	return srv.cfg.Import.Path
}

func (srv *Server) findReceived(ctx context.Context, id string) (store.Received, bool) {
	recs, _ := srv.receivedRecords(ctx, 0)
	for _, rec := range recs {
		if rec.ID == id {
			return rec, true
		}
	}
	return store.Received{}, false
}

func (srv *Server) receivedPage(w http.ResponseWriter, r *http.Request, se *session) {
	id := r.PathValue("id")
	rec, ok := srv.findReceived(r.Context(), id)
	if !receivedIDRE.MatchString(id) || !ok {
		srv.notFound(w, r, se, "Ce message reçu n'existe pas.")
		return
	}
	srv.render(w, r, se, http.StatusOK, "received", "Message reçu", "received", srv.receivedView(rec))
}

// receivedFile serves a deposited document (inline when a PDF) or a quarantined message (as a
// download: it was refused and is not shown in the browser).
func (srv *Server) receivedFile(w http.ResponseWriter, r *http.Request, se *session) {
	id := r.PathValue("id")
	n, err := strconv.Atoi(r.PathValue("n"))
	if !receivedIDRE.MatchString(id) || err != nil {
		http.NotFound(w, r)
		return
	}
	rec, ok := srv.findReceived(r.Context(), id)
	if !ok || n < 0 || n >= len(rec.Files) {
		http.NotFound(w, r)
		return
	}
	name := filepath.Base(rec.Files[n])
	p := filepath.Join(srv.receivedDir(rec), name)
	if rec.Kind == "quarantine" {
		f, err := os.Open(p)
		if err != nil {
			http.Error(w, "Le fichier n'est plus dans le dossier de quarantaine.", http.StatusNotFound)
			return
		}
		defer f.Close()
		st, _ := f.Stat()
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Disposition", `attachment; filename="`+id+filepath.Ext(name)+`"`)
		http.ServeContent(w, r, "", st.ModTime(), f)
		return
	}
	if _, err := os.Stat(p); err != nil {
		http.Error(w, "Le fichier n'est plus dans le dossier d'import : le logiciel métier l'a sans doute déjà pris.", http.StatusNotFound)
		return
	}
	serveFile(w, r, p, id+"-"+strconv.Itoa(n+1))
}
