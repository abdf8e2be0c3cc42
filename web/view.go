package web

import (
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/mssbridge/mssbridge/reading"
	"github.com/mssbridge/mssbridge/routing"
	"github.com/mssbridge/mssbridge/store"
)

// page is what the layout needs around every page's content.
type page struct {
	Title     string
	Nav       string // active menu entry
	Page      string // body data-page, for the script's shortcuts
	Login     string
	CSRF      string
	Flash     []flash
	HeldCount int
	Data      any
}

func (srv *Server) render(w http.ResponseWriter, r *http.Request, se *session, status int, name, title, nav string, data any) {
	t := srv.pages[name]
	if t == nil {
		http.Error(w, "page inconnue", http.StatusInternalServerError)
		return
	}
	p := page{Title: title, Nav: nav, Page: name, Data: data}
	if se != nil {
		p.Login, p.CSRF, p.Flash = se.login, se.csrf, srv.sessions.takeFlash(se)
		p.HeldCount = srv.heldCount(r)
	}
	var b strings.Builder
	if err := t.ExecuteTemplate(&b, "layout", p); err != nil {
		srv.log.Error("render page", "page", name, "err", err)
		http.Error(w, "Erreur d'affichage de la page.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write([]byte(b.String()))
}

func (srv *Server) heldCount(r *http.Request) int {
	counts, err := srv.b.Store().Counts(r.Context())
	if err != nil {
		return 0
	}
	n := 0
	for _, c := range counts {
		if c.State == store.StateHeld {
			n += c.N
		}
	}
	return n
}

func (srv *Server) notFound(w http.ResponseWriter, r *http.Request, se *session, msg string) {
	srv.render(w, r, se, http.StatusNotFound, "message", "Introuvable", "", msg)
}

func (srv *Server) serverError(w http.ResponseWriter, r *http.Request, se *session, what string, err error) {
	srv.log.Error("desk: "+what, "path", r.URL.Path, "err", err)
	srv.render(w, r, se, http.StatusInternalServerError, "message", "Erreur", "", "Une erreur est survenue ("+what+"). Le détail est dans le journal du service.")
}

func writeJSONError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

// Ids are checked before they reach the store or the file system.
var (
	jobIDRE      = regexp.MustCompile(`^[0-9]{8}-[0-9]{6}-[0-9a-f]{8}$`)
	receivedIDRE = regexp.MustCompile(`^R[0-9]{8}-[0-9]{6}-[0-9a-f]{8}$`)
)

// stateLabels are the words a secretary reads for each state.
var stateLabels = map[store.State]string{
	store.StateClaiming: "en cours de prise en charge",
	store.StateClaimed:  "en cours de lecture",
	store.StateRouted:   "à envoyer",
	store.StateSending:  "envoi en cours",
	store.StateSent:     "envoyé",
	store.StateHeld:     "en attente de relecture",
	store.StateFailed:   "en échec",
	store.StateRejected: "écarté",
}

func stateLabel(s store.State) string {
	if l, ok := stateLabels[s]; ok {
		return l
	}
	return string(s)
}

// stateClass groups the states into the four colours of the desk.
func stateClass(s store.State) string {
	switch s {
	case store.StateSent:
		return "ok"
	case store.StateHeld:
		return "held"
	case store.StateFailed:
		return "bad"
	case store.StateRejected:
		return "muted"
	default:
		return "busy"
	}
}

// dispositionLabels translate a read receipt's disposition (RFC 8098).
var dispositionLabels = map[string]string{
	"displayed": "ouvert par le destinataire", "deleted": "supprimé sans avoir été lu",
	"dispatched": "transmis sans être affiché", "processed": "traité par un logiciel",
}

func deliveryDetail(j store.Job) string {
	if l, ok := dispositionLabels[strings.ToLower(strings.TrimSpace(j.DeliveryDetail))]; ok && j.Delivery == "read" {
		return l
	}
	return j.DeliveryDetail
}

func deliveryLabel(j store.Job) string {
	switch j.Delivery {
	case "delivered":
		return "remis au destinataire"
	case "read":
		return "lu par le destinataire"
	case "delayed":
		return "remise retardée"
	case "failed":
		return "non remis"
	}
	if j.State != store.StateSent {
		return ""
	}
	if j.DSN == "unsupported" {
		return "accepté par le serveur (pas d'accusé de remise possible)"
	}
	return "accepté par le serveur, accusé de remise attendu"
}

var eventLabels = map[string]string{
	"claimed": "pris en charge", "read": "lu", "routed": "adressé", "held": "mis en attente",
	"released": "libéré pour envoi", "rejected": "écarté", "retried": "relancé", "sending": "envoi",
	"sent": "envoyé", "deferred": "envoi différé", "failed": "en échec", "delivered": "remis",
	"delivery_delayed": "remise retardée", "delivery_failed": "non remis", "read_receipt": "accusé de lecture",
	"journal_repaired": "journal réparé après un arrêt brutal",
	"desk_login":       "connexion au poste de relecture", "desk_login_failed": "échec de connexion",
	"desk_logout": "déconnexion", "desk_corrected": "correction avant envoi", "desk_export": "export du journal",
	"desk_user_added": "compte créé", "desk_user_removed": "compte supprimé", "desk_password_changed": "mot de passe changé",
}

func eventLabel(e string) string {
	if l, ok := eventLabels[e]; ok {
		return l
	}
	return e
}

var frDays = []string{"dim.", "lun.", "mar.", "mer.", "jeu.", "ven.", "sam."}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Local().Format("02/01/2006 15:04")
}

func fmtDate(s string) string {
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t.Format("02/01/2006")
	}
	return s
}

func fmtAge(now, t time.Time) string {
	d := now.Sub(t)
	switch {
	case t.IsZero():
		return ""
	case d < time.Minute:
		return "à l'instant"
	case d < time.Hour:
		return fmt.Sprintf("il y a %d min", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("il y a %d h", int(d.Hours()))
	default:
		return fmt.Sprintf("il y a %d jours", int(d.Hours()/24))
	}
}

var funcs = template.FuncMap{
	"stateLabel": stateLabel,
	"stateClass": stateClass,
	"eventLabel": eventLabel,
	"time":       fmtTime,
	"date":       fmtDate,
	"join":       strings.Join,
	"sourceLabel": func(s reading.Source) string {
		switch s {
		case reading.SourceTag:
			return "balise #MSS imprimée par le logiciel"
		case reading.SourceMetadata:
			return "métadonnées du PDF"
		case reading.SourceSidecar:
			return "fichier JSON déposé avec le PDF"
		case reading.SourceText:
			return "lu dans le courrier"
		case reading.SourceDirectory:
			return "trouvé dans l'annuaire"
		}
		return string(s)
	},
	"sexLabel": func(s string) string {
		switch s {
		case "F":
			return "femme"
		case "M":
			return "homme"
		}
		return ""
	},
	"add": func(a, b int) int { return a + b },
}

// jobView is a job with what was read and routed decoded, for the lists and pages.
type jobView struct {
	store.Job
	Reading       reading.Result
	Route         routing.Decision
	Patient       string // "DUPONT Marie", or ""
	Title         string
	Recipients    []string
	StateLabel    string
	StateClass    string
	DeliveryLabel string
	DeliveryNote  string // the DSN's status or the read receipt's disposition, in words
	Age           string
}

func (srv *Server) view(j store.Job) jobView {
	v := jobView{Job: j, StateLabel: stateLabel(j.State), StateClass: stateClass(j.State), DeliveryLabel: deliveryLabel(j), DeliveryNote: deliveryDetail(j)}
	if len(j.Reading) > 0 {
		json.Unmarshal(j.Reading, &v.Reading)
	}
	if len(j.Route) > 0 {
		json.Unmarshal(j.Route, &v.Route)
	}
	v.Patient = strings.TrimSpace(v.Reading.Patient.FamilyName + " " + v.Reading.Patient.GivenNames)
	v.Title = v.Route.Title
	if v.Title == "" {
		v.Title = v.Reading.Document.Title
	}
	v.Recipients = append(append([]string{}, v.Route.To...), v.Route.Cc...)
	if len(v.Recipients) == 0 {
		for _, r := range v.Reading.Recipients {
			v.Recipients = append(v.Recipients, r.Address)
		}
	}
	v.Age = fmtAge(srv.now(), j.CreatedAt)
	return v
}
