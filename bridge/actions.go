package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mssbridge/mssbridge/ins"
	"github.com/mssbridge/mssbridge/reading"
	"github.com/mssbridge/mssbridge/routing"
	"github.com/mssbridge/mssbridge/safefile"
	"github.com/mssbridge/mssbridge/store"
	"github.com/mssbridge/mssbridge/trust"
)

// ErrWrongState is returned when an action does not apply to the job's state.
var ErrWrongState = errors.New("wrong state for this action")

// ReleaseOptions change a held job before it is sent.
type ReleaseOptions struct {
	To  []string // replaces the recipients found
	INS string   // sets the patient's INS (key checked)
}

// Release sends a held job, after a human looked at it. The trust space is checked again.
func (b *Bridge) Release(ctx context.Context, id string, o ReleaseOptions) (store.Job, error) {
	j, err := b.store.Get(ctx, id)
	if err != nil {
		return j, err
	}
	if j.State != store.StateHeld {
		return j, fmt.Errorf("release %s: job is %s: %w", id, j.State, ErrWrongState)
	}
	var dec routing.Decision
	json.Unmarshal(j.Route, &dec)
	var res reading.Result
	json.Unmarshal(j.Reading, &res)
	if len(o.To) > 0 {
		dec.To = nil
		for _, a := range o.To {
			a = strings.ToLower(strings.TrimSpace(a))
			if err := trust.ValidAddress(a); err != nil {
				return j, fmt.Errorf("release %s: %w", id, err)
			}
			dec.To = append(dec.To, a)
		}
	}
	if o.INS != "" {
		n, ok, err := ins.Check(o.INS)
		if err != nil {
			return j, fmt.Errorf("release %s: INS: %w", id, err)
		}
		if !ok {
			return j, fmt.Errorf("release %s: the INS key of %s is wrong", id, n)
		}
		res.Patient.INS, res.Patient.INSKeyValid = n, true
	}
	if len(dec.To) == 0 {
		return j, fmt.Errorf("release %s: no recipient: give one with --to", id)
	}
	for _, a := range append(append([]string{}, dec.To...), dec.Cc...) {
		if !b.trust.Contains(a) {
			return j, fmt.Errorf("release %s: %s is outside the MSSanté trust space: nothing is ever sent there", id, a)
		}
	}
	if why := routing.CheckPatientRecipients(append(append([]string{}, dec.To...), dec.Cc...), res.Patient); len(why) > 0 {
		return j, fmt.Errorf("release %s: %s", id, strings.Join(why, " ; "))
	}
	if dec.Box == "" {
		dec.Box = j.Box
	}
	dec.Action, dec.Reasons = routing.Send, nil
	if err := moveIfPresent(b.docPath(b.dirs.held, j), b.docPath(b.dirs.spool, j)); err != nil {
		return j, fmt.Errorf("release %s: %w", id, err)
	}
	if j.HasSidecar {
		moveIfPresent(sidecarPath(b.dirs.held, j), sidecarPath(b.dirs.spool, j))
	}
	routeJSON, _ := json.Marshal(dec)
	readJSON, _ := json.Marshal(res)
	j, err = b.store.Update(ctx, id, func(x *store.Job) error {
		if x.State != store.StateHeld {
			return fmt.Errorf("release %s: job is %s: %w", id, x.State, ErrWrongState)
		}
		x.State, x.Route, x.Reading, x.Box = store.StateRouted, routeJSON, readJSON, dec.Box
		x.LastError, x.NextAttempt = "", x.CreatedAt
		return nil
	})
	if err != nil {
		return j, err
	}
	os.Remove(jsonPath(b.dirs.held, j))
	detail := map[string]string{"to": recipientsForAudit(dec.To), "cc": recipientsForAudit(dec.Cc)}
	if o.INS != "" {
		detail["ins_set"] = "true"
	}
	b.signal()
	return j, b.record(ctx, j, "released", detail)
}

// Reject closes a held job without sending it; the document is kept in rejected/.
func (b *Bridge) Reject(ctx context.Context, id, reason string) (store.Job, error) {
	j, err := b.store.Get(ctx, id)
	if err != nil {
		return j, err
	}
	if j.State != store.StateHeld {
		return j, fmt.Errorf("reject %s: job is %s: %w", id, j.State, ErrWrongState)
	}
	if err := moveIfPresent(b.docPath(b.dirs.held, j), b.docPath(b.dirs.rejected, j)); err != nil {
		return j, err
	}
	if j.HasSidecar {
		moveIfPresent(sidecarPath(b.dirs.held, j), sidecarPath(b.dirs.rejected, j))
	}
	if err := writeJobJSON(b.dirs.rejected, j, "rejected", b.now(), map[string]any{"reason": reason, "rejected_by": actorOf(ctx)}); err != nil {
		return j, err
	}
	j, err = b.store.Update(ctx, id, func(x *store.Job) error {
		x.State, x.LastError = store.StateRejected, reason
		return nil
	})
	if err != nil {
		return j, err
	}
	os.Remove(jsonPath(b.dirs.held, j))
	return j, b.record(ctx, j, "rejected", nil)
}

// Retry puts a failed job back in the queue, from the start of its tries.
func (b *Bridge) Retry(ctx context.Context, id string) (store.Job, error) {
	j, err := b.store.Get(ctx, id)
	if err != nil {
		return j, err
	}
	if j.State != store.StateFailed {
		return j, fmt.Errorf("retry %s: job is %s: %w", id, j.State, ErrWrongState)
	}
	if err := moveIfPresent(b.docPath(b.dirs.failed, j), b.docPath(b.dirs.spool, j)); err != nil {
		return j, err
	}
	if j.HasSidecar {
		moveIfPresent(sidecarPath(b.dirs.failed, j), sidecarPath(b.dirs.spool, j))
	}
	j, err = b.store.Update(ctx, id, func(x *store.Job) error {
		x.State = store.StateRouted
		if len(x.Route) == 0 {
			x.State = store.StateClaimed // it failed before it could be read: read it again
		}
		x.Tries, x.FirstTryAt, x.LastError, x.ServerReply, x.NextAttempt = 0, time.Time{}, "", "", time.Time{}
		return nil
	})
	if err != nil {
		return j, err
	}
	os.Remove(jsonPath(b.dirs.failed, j))
	b.signal()
	return j, b.record(ctx, j, "retried", nil)
}

// SendNowOptions is what `mssbridge send` asks for.
type SendNowOptions struct {
	Box string
	To  []string
	INS string
}

// SendNow sends one document at once, as a job: it is copied into the store, read, checked
// against the trust space and sent from this process. A temporary failure leaves it queued
// for the service.
func (b *Bridge) SendNow(ctx context.Context, path string, o SendNowOptions) (store.Job, error) {
	box, ok := b.cfg.Box(o.Box)
	if !ok {
		return store.Job{}, fmt.Errorf("unknown box %q", o.Box)
	}
	for _, a := range o.To {
		if err := trust.ValidAddress(a); err != nil {
			return store.Job{}, err
		}
		if !b.trust.Contains(a) {
			return store.Job{}, fmt.Errorf("%s is outside the MSSanté trust space: nothing is ever sent there", a)
		}
	}
	now := b.now()
	id := store.NewID(now)
	j := store.Job{ID: id, Input: "cli", Box: box.ID, SourceName: filepath.Base(path), State: store.StateSending,
		MessageID: store.NewMessageID(id, trust.Domain(box.Address)), CreatedAt: now}
	dst := b.docPath(b.dirs.spool, j)
	if err := safefile.Copy(path, dst); err != nil {
		return j, err
	}
	sum, size, err := hashFile(dst)
	if err != nil {
		return j, err
	}
	j.SHA256, j.Size = sum, size
	res, err := b.readJob(ctx, j)
	if err != nil {
		os.Remove(dst)
		return j, fmt.Errorf("read %s: %w", path, err)
	}
	if o.INS != "" {
		n, ok, err := ins.Check(o.INS)
		if err != nil || !ok {
			os.Remove(dst)
			return j, fmt.Errorf("INS %s: key wrong or malformed", o.INS)
		}
		res.Patient.INS, res.Patient.INSKeyValid = n, true
	}
	if why := routing.CheckPatientRecipients(o.To, res.Patient); len(why) > 0 {
		os.Remove(dst)
		return j, errors.New(strings.Join(why, " ; "))
	}
	dec := routing.Decision{Action: routing.Send, Box: box.ID, To: o.To, Title: res.Document.Title, Subject: res.Document.Subject}
	j.Reading, _ = json.Marshal(res)
	j.Route, _ = json.Marshal(dec)
	if err := b.store.Create(ctx, j); err != nil {
		os.Remove(dst)
		return j, err
	}
	if err := b.record(ctx, j, "claimed", map[string]string{"size": fmt.Sprint(size), "via": "send"}); err != nil {
		return j, err
	}
	b.record(ctx, j, "routed", map[string]string{"to": recipientsForAudit(dec.To)})
	b.send(ctx, j)
	return b.store.Get(ctx, id)
}
