package reading

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/mssbridge/mssbridge/ins"
)

// sidecarFile is the part of a sidecar NAME.json that mssbridge reads: the `extract` JSON's
// patient, recipients and document objects. Other members (a whole extract object may be
// dropped back) are ignored.
type sidecarFile struct {
	Patient    *Patient    `json:"patient"`
	Recipients []Recipient `json:"recipients"`
	Document   *Document   `json:"document"`
}

// maxSidecarBytes: a sidecar is a few hundred bytes; anything larger is not one.
const maxSidecarBytes = 1 << 20

// parseSidecar reads a sidecar. name is its base name, for the reasons.
func parseSidecar(name string, b []byte, now time.Time) *found {
	f := &found{source: SourceSidecar}
	label := fmt.Sprintf("Fichier compagnon « %s »", name)
	problem := func(format string, args ...any) {
		f.addProblem(label + " : " + fmt.Sprintf(format, args...))
	}
	if len(b) > maxSidecarBytes {
		problem("trop volumineux (%d octets)", len(b))
		return f
	}
	var s sidecarFile
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&s); err != nil {
		problem("JSON illisible (%v)", err)
		return f
	}
	if dec.More() {
		problem("JSON illisible (plusieurs objets)")
		return f
	}

	for _, r := range s.Recipients {
		a := normalizeAddress(r.Address)
		if msg := checkAddress(a); msg != "" {
			problem("adresse « %s » invalide (%s)", r.Address, msg)
			continue
		}
		role := r.Role
		switch Role(strings.ToLower(string(role))) {
		case "", RoleTo:
			role = RoleTo
		case RoleCc:
			role = RoleCc
		default:
			problem("rôle « %s » inconnu pour %s (attendu to ou cc)", r.Role, a)
			continue
		}
		rpps := strings.TrimSpace(r.RPPS)
		if rpps != "" && !isRPPS(rpps) {
			problem("RPPS « %s » invalide pour %s (11 chiffres)", rpps, a)
			continue
		}
		f.addRecipient(Recipient{Address: a, RPPS: rpps, Name: collapseSpaces(r.Name), Role: role, Source: SourceSidecar})
	}

	if p := s.Patient; p != nil {
		f.family, f.given = collapseSpaces(p.FamilyName), collapseSpaces(p.GivenNames)
		if bp := strings.ToUpper(strings.TrimSpace(p.BirthPlace)); bp != "" {
			if ValidBirthPlace(bp) {
				f.birthPlace = bp
			} else {
				problem("lieu de naissance « %s » : code INSEE de commune attendu", bp)
			}
		}
		if b := strings.TrimSpace(p.BirthDate); b != "" {
			if msg := checkBirthDate(b, now); msg != "" {
				problem("%s", msg)
			} else {
				f.birth = b
			}
		}
		if v := strings.TrimSpace(p.INS); v != "" {
			n, keyValid, err := ins.Check(v)
			switch {
			case err != nil:
				problem("INS « %s » invalide (%s)", v, insErrorFrench(err))
			case !keyValid:
				problem("la clé de l'INS « %s » ne correspond pas", n)
			default:
				f.ins, f.insKeyValid = n, true
			}
		}
		switch sex := strings.ToUpper(strings.TrimSpace(p.Sex)); sex {
		case "", "F", "M":
			f.sex = sex
		default:
			problem("sexe « %s » inconnu (attendu F ou M)", p.Sex)
		}
	}

	if d := s.Document; d != nil {
		f.title, f.subject = collapseSpaces(d.Title), collapseSpaces(d.Subject)
		if date := strings.TrimSpace(d.Date); date != "" {
			if msg := checkDate(date); msg != "" {
				problem("%s", msg)
			} else {
				f.date = date
			}
		}
		if box := strings.TrimSpace(d.Box); box != "" {
			if msg := checkBoxID(box); msg != "" {
				problem("%s", msg)
			} else {
				f.box = box
			}
		}
	}
	return f
}

func isRPPS(s string) bool {
	if len(s) != 11 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
