package bridge

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/mssbridge/mssbridge/inbound"
	"github.com/mssbridge/mssbridge/routing"
	"github.com/mssbridge/mssbridge/store"
)

// ApplyReport follows up a sent job with what the recipients' side said: a DSN (delivered,
// delayed, failed) or a read receipt. A failure after sending puts the job in failed/ with the
// remote reason in French, so that a secretary sees it.
func (b *Bridge) ApplyReport(ctx context.Context, box string, r inbound.Report) (string, error) {
	j, err := b.jobForReport(ctx, r)
	if err != nil {
		return "", err
	}
	switch r.Kind {
	case "mdn":
		j, err = b.store.Update(ctx, j.ID, func(x *store.Job) error {
			if x.Delivery != "failed" {
				x.Delivery, x.DeliveryDetail = "read", r.Disposition
			}
			return nil
		})
		if err != nil {
			return "", err
		}
		return j.ID, b.record(ctx, j, "read_receipt", map[string]string{"disposition": r.Disposition})
	}
	var failed, delayed []inbound.RecipientStatus
	delivered := 0
	for _, rs := range r.Recipients {
		switch rs.Action {
		case "failed":
			failed = append(failed, rs)
		case "delayed":
			delayed = append(delayed, rs)
		case "delivered", "relayed", "expanded":
			delivered++
		}
	}
	switch {
	case len(failed) > 0:
		return j.ID, b.failAfterSend(ctx, j, failed)
	case len(delayed) > 0:
		j, err = b.store.Update(ctx, j.ID, func(x *store.Job) error {
			if x.Delivery == "" {
				x.Delivery, x.DeliveryDetail = "delayed", delayed[0].Status+" "+delayed[0].Diagnostic
			}
			return nil
		})
		if err != nil {
			return "", err
		}
		return j.ID, b.record(ctx, j, "delivery_delayed", map[string]string{"status": delayed[0].Status})
	default:
		j, err = b.store.Update(ctx, j.ID, func(x *store.Job) error {
			if x.Delivery == "" || x.Delivery == "delayed" {
				x.Delivery, x.DeliveryDetail = "delivered", fmt.Sprintf("%d destinataire(s)", delivered)
			}
			return nil
		})
		if err != nil {
			return "", err
		}
		return j.ID, b.record(ctx, j, "delivered", map[string]string{"recipients": fmt.Sprint(delivered)})
	}
}

func (b *Bridge) jobForReport(ctx context.Context, r inbound.Report) (store.Job, error) {
	if r.OriginalEnvelopeID != "" {
		if j, err := b.store.Get(ctx, r.OriginalEnvelopeID); err == nil {
			return j, nil
		}
	}
	if r.OriginalMessageID != "" {
		return b.store.JobByMessageID(ctx, strings.TrimSpace(r.OriginalMessageID))
	}
	return store.Job{}, fmt.Errorf("report: %w", store.ErrNotFound)
}

// failAfterSend moves a sent job's archived document to failed/ with the remote reason.
func (b *Bridge) failAfterSend(ctx context.Context, j store.Job, failed []inbound.RecipientStatus) error {
	var parts []string
	for _, f := range failed {
		parts = append(parts, fmt.Sprintf("%s (%s %s)", f.Recipient, f.Status, f.Diagnostic))
	}
	reason := "Le message n'a pas pu être remis à " + strings.Join(parts, ", ") + " : vérifier l'adresse du destinataire"
	if routing.IsPatient(failed[0].Recipient) {
		reason = PatientRefusal(failed[0].Status + " " + failed[0].Diagnostic)
	}
	if archived, _ := filepath.Glob(filepath.Join(b.dirs.sent, "*", j.ID+docExt(j.SourceName))); len(archived) > 0 {
		if err := moveIfPresent(archived[0], b.docPath(b.dirs.failed, j)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	j, err := b.store.Update(ctx, j.ID, func(x *store.Job) error {
		x.State, x.Delivery, x.DeliveryDetail = store.StateFailed, "failed", reason
		x.LastError, x.ServerReply = reason, failed[0].Diagnostic
		return nil
	})
	if err != nil {
		return err
	}
	if err := writeJobJSON(b.dirs.failed, j, "failed", b.now(), map[string]any{"last_error": reason, "server_reply": failed[0].Diagnostic, "tries": j.Tries, "after_send": true}); err != nil {
		return err
	}
	b.log.Warn("delivery failed after sending", "job", j.ID, "box", j.Box)
	return b.record(ctx, j, "delivery_failed", map[string]string{"status": failed[0].Status})
}

// PatientRefusal says in plain words why the patients' messaging refused a message. The
// operator refuses for three reasons (ANS, MSSanté citoyenne): the address does not exist (the
// patient has no Mon Espace Santé profile or opposed it), the messaging is closed, or the INS
// is invalid.
func PatientRefusal(reply string) string {
	r := strings.ToLower(reply)
	switch {
	case strings.Contains(r, "ins invalid") || strings.Contains(r, "invalid ins") || strings.Contains(r, "ins non valide") || strings.Contains(r, "clé ins") || strings.Contains(r, "cle ins"):
		return "Message au patient refusé : l'INS n'est pas valide (longueur ou clé). Vérifier l'identité du patient. (" + reply + ")"
	case strings.Contains(r, "ferm") || strings.Contains(r, "closed") || strings.Contains(r, "clos"):
		return "Message au patient refusé : sa messagerie Mon Espace Santé est fermée. (" + reply + ")"
	case strings.Contains(r, "5.1.1") || strings.Contains(r, "unknown") || strings.Contains(r, "inconnu") || strings.Contains(r, "not exist") || strings.Contains(r, "existe pas"):
		return "Message au patient refusé : cette adresse n'existe pas (le patient n'a pas activé Mon Espace Santé ou s'y est opposé). (" + reply + ")"
	default:
		return "Message au patient refusé par l'opérateur : " + reply
	}
}
