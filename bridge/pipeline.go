package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/mssbridge/mssbridge/config"
	"github.com/mssbridge/mssbridge/inbound"
	"github.com/mssbridge/mssbridge/mail"
	"github.com/mssbridge/mssbridge/reading"
	"github.com/mssbridge/mssbridge/routing"
	"github.com/mssbridge/mssbridge/safefile"
	"github.com/mssbridge/mssbridge/store"
	"github.com/mssbridge/mssbridge/watcher"
	"github.com/mssbridge/mssbridge/xdm"
)

// pollEvery bounds how late a job released or retried by another process (the CLI) is
// noticed. In-process work (claims, finished steps, the desk) wakes the loop at once and a
// retry wakes it at its time, so at rest the loop sleeps: polling every 500 ms cost 0.13 to
// 0.17 % of a core with nothing to do (two store queries a tick), over the 0.1 % aim.
const pollEvery = 5 * time.Second

// shutdownGrace is how long a stop waits for in-flight steps before cancelling them; service
// managers allow 20-30 s before they kill, so this leaves ample margin.
const shutdownGrace = 5 * time.Second

// Run watches the inputs and moves jobs along until ctx ends. In-flight work finishes or is
// released before it returns.
func (b *Bridge) Run(ctx context.Context) error {
	if err := b.Recover(ctx); err != nil {
		return fmt.Errorf("recover: %w", err)
	}
	var wg sync.WaitGroup
	for _, in := range b.cfg.Inputs {
		if err := safefile.MkdirAll(in.Path); err != nil {
			// A share not mounted yet must not stop the other inputs, the inboxes and the
			// sending: its watcher waits for the folder and says when it is back.
			b.log.Error("input folder unavailable; documents dropped there wait until it is back", "input", in.ID, "err", err)
		}
		w, err := watcher.New(watcher.Options{
			InputID: in.ID, Path: in.Path, Quiet: b.cfg.Watch.Quiet, Rescan: b.cfg.Watch.Rescan,
			MaxWait: b.cfg.Watch.MaxWait, PDFQuiet: b.cfg.Watch.PDFQuiet, SidecarWait: b.cfg.Watch.SidecarWait, Logger: b.log,
		})
		if err != nil {
			return fmt.Errorf("watch input %s: %w", in.ID, err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w.Run(ctx, b.Claim); err != nil && ctx.Err() == nil {
				b.log.Error("watcher stopped", "input", in.ID, "err", err)
			}
		}()
	}
	for _, box := range b.cfg.Boxes {
		if box.IMAP == nil {
			continue
		}
		o, err := b.inboxOptions(box)
		if err != nil {
			return fmt.Errorf("box %s: imap: %w", box.ID, err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			inbound.Run(ctx, o)
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		b.watchCertificates(ctx)
	}()
	b.log.Info("bridge running", "inputs", len(b.cfg.Inputs), "boxes", len(b.cfg.Boxes))
	b.loop(ctx)
	wg.Wait()
	return nil
}

// loop dispatches due jobs: reading on a small pool, sending with the per-box connection
// limit. It returns once ctx is done and the workers have stopped.
func (b *Bridge) loop(ctx context.Context) {
	// Reading is CPU-bound (pdfium): one worker a core at most on the small servers this runs on.
	readSlots := make(chan struct{}, 2)
	sendSlots := map[string]chan struct{}{}
	for _, box := range b.cfg.Boxes {
		sendSlots[box.ID] = make(chan struct{}, max(1, b.cfg.Sending.Connections))
	}
	// Work in flight at a stop gets a grace period to finish (an SMTP exchange takes well under
	// a second when the server is healthy); past it, it is cancelled and requeued, which is safe
	// because the retry carries the same Message-ID.
	workCtx, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	stopGrace := context.AfterFunc(ctx, func() {
		time.AfterFunc(shutdownGrace, cancelWork)
	})
	defer stopGrace()
	defer cancelWork()
	var wg sync.WaitGroup
	defer wg.Wait()
	timer := time.NewTimer(pollEvery)
	defer timer.Stop()
	last := time.Now()
	for {
		now := time.Now()
		if d := clockJump(last, now); d != 0 {
			b.log.Warn("the system clock jumped (or the machine was suspended)", "by", d.Round(time.Second).String())
			b.settleClock(ctx)
		}
		last = now
		b.dispatch(ctx, workCtx, &wg, store.StateClaimed, readSlots, nil, b.readAndRoute)
		b.dispatch(ctx, workCtx, &wg, store.StateRouted, nil, sendSlots, b.send)
		timer.Reset(b.untilNextRetry(ctx))
		select {
		case <-ctx.Done():
			return
		case <-b.wake:
		case <-timer.C:
		}
	}
}

func tooLarge(size, limit int64) string {
	return fmt.Sprintf("Le message (%d Ko) dépasse la taille maximale autorisée (%d Ko) : envoyez un document plus léger", size/1000, limit/1000)
}

// noteStall sets a job aside for a while when its worker left its row untouched: the store
// refused the step that moves it on (disk full). Without it the loop, woken by the
// worker's end, would take it again at once, and again.
func (b *Bridge) noteStall(ctx context.Context, j store.Job) {
	if ctx.Err() != nil {
		return
	}
	after, err := b.store.Get(ctx, j.ID)
	if err == nil && !reflect.DeepEqual(after, j) {
		return // the step wrote its outcome (whole rows compared: times are in milliseconds)
	}
	if err != nil && errors.Is(err, store.ErrNotFound) {
		return
	}
	pause := max(b.cfg.Sending.RetryInitial, time.Second)
	b.mu.Lock()
	b.stalled[j.ID] = b.now().Add(pause)
	b.mu.Unlock()
	b.log.Warn("job left in place by its step, set aside", "job", j.ID, "state", j.State, "for", pause.String())
}

// untilNextRetry is how long the loop may sleep: until the next deferred send is due, at most
// pollEvery.
func (b *Bridge) untilNextRetry(ctx context.Context) time.Duration {
	now := b.now()
	next, ok, err := b.store.NextAttempt(ctx, store.StateRouted, now)
	if err != nil || !ok {
		return pollEvery
	}
	return min(max(next.Sub(now), time.Millisecond), pollEvery)
}

func (b *Bridge) dispatch(ctx, workCtx context.Context, wg *sync.WaitGroup, state store.State, slots chan struct{}, perBox map[string]chan struct{}, work func(context.Context, store.Job)) {
	if ctx.Err() != nil {
		return
	}
	// Only as many as could start now: the free slots, plus those already in flight (still
	// listed in their state). Listing 200 full rows at every wake-up cost 5% of the CPU.
	b.mu.Lock()
	limit := len(b.inflight)
	b.mu.Unlock()
	if slots != nil {
		limit += cap(slots)
	} else {
		for _, s := range perBox {
			limit += cap(s)
		}
		limit += 32 // room for other boxes behind a busy one
	}
	jobs, err := b.store.Due(ctx, state, b.now(), limit)
	if err != nil {
		if ctx.Err() == nil {
			b.log.Error("list due jobs", "state", state, "err", err)
		}
		return
	}
	now := b.now()
	for _, j := range jobs {
		b.mu.Lock()
		busy := b.inflight[j.ID]
		until, stalled := b.stalled[j.ID]
		if stalled && !now.Before(until) {
			delete(b.stalled, j.ID)
			stalled = false
		}
		b.mu.Unlock()
		if busy || stalled {
			continue
		}
		s := slots
		if perBox != nil {
			s = perBox[j.Box]
			if s == nil {
				s = make(chan struct{}, 1)
				perBox[j.Box] = s
			}
		}
		select {
		case s <- struct{}{}:
		default:
			continue // full: the job waits for the next round
		}
		b.mu.Lock()
		b.inflight[j.ID] = true
		b.mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				<-s
				b.mu.Lock()
				delete(b.inflight, j.ID)
				b.mu.Unlock()
				b.signal()
			}()
			// Due gave the job's ID only. Read whole now, it must still be in state: a person
			// may have released, rejected or retried it in between.
			full, err := b.store.Get(workCtx, j.ID)
			if err != nil {
				if workCtx.Err() == nil {
					b.log.Error("read due job", "job", j.ID, "err", err)
				}
				return
			}
			if full.State != state || full.NextAttempt.After(b.now()) {
				return // a person, or a worker that just failed it, moved it meanwhile
			}
			work(workCtx, full)
			b.noteStall(workCtx, full)
		}()
	}
}

// readAndRoute reads a claimed job and routes it: to routed (sendable) or held.
func (b *Bridge) readAndRoute(ctx context.Context, j store.Job) {
	if ext := strings.ToLower(filepath.Ext(j.SourceName)); ext != ".pdf" {
		reason := "Ce fichier n'est pas un PDF : seuls les documents PDF sont envoyés"
		switch {
		case ext == ".json":
			reason = "Fichier de métadonnées (.json) déposé sans le PDF du même nom"
		case ext == ".ps":
			// A PostScript print that could not be converted is a document: a human can
			// convert and release it, so it waits rather than fails.
			b.hold(ctx, j, []string{firstNonEmpty(j.LastError, "Document PostScript reçu de l'imprimante, non converti en PDF")})
			return
		case j.LastError != "":
			reason = j.LastError // the print listener's own explanation
		}
		b.fail(ctx, j, reason, "")
		return
	}
	res, err := b.readJob(ctx, j)
	if err != nil {
		b.log.Error("read failed", "job", j.ID, "err", err)
		b.fail(ctx, j, "Le document n'a pas pu être lu : "+err.Error(), "")
		return
	}
	in, _ := b.cfg.Input(j.Input)
	dec := b.router.Route(routing.Document{Input: j.Input, InputBox: in.Box, FileName: j.SourceName, PrintedBy: j.PrintUser, Reading: res})
	b.applyDecision(ctx, j, res, dec)
}

func (b *Bridge) readJob(ctx context.Context, j store.Job) (reading.Result, error) {
	side := ""
	if j.HasSidecar {
		side = sidecarPath(b.dirs.spool, j)
	}
	if b.reader == nil {
		return reading.Result{}, errors.New("no reader configured")
	}
	res, err := b.reader.Read(ctx, b.docPath(b.dirs.spool, j), side)
	if err != nil {
		return res, err
	}
	res.File = j.SourceName
	return res, nil
}

func (b *Bridge) applyDecision(ctx context.Context, j store.Job, res reading.Result, dec routing.Decision) {
	readJSON, _ := json.Marshal(res)
	routeJSON, _ := json.Marshal(dec)
	j, err := b.store.Update(ctx, j.ID, func(x *store.Job) error {
		x.Reading, x.Route = readJSON, routeJSON
		if dec.Box != "" {
			x.Box = dec.Box
		}
		if dec.Action == routing.Send {
			x.State = store.StateRouted
			x.NextAttempt = time.Time{}
		}
		return nil
	})
	if err != nil {
		b.log.Error("store routing", "job", j.ID, "err", err)
		return
	}
	// One journal entry says what was read and what was decided: "routed" or "held".
	readDetail := map[string]string{"reading": string(res.Decision), "pages": fmt.Sprint(res.Pages), "found": fmt.Sprint(len(res.Recipients))}
	if dec.Action == routing.Send {
		b.log.Info("document routed", "job", j.ID, "box", j.Box, "rule", dec.Rule, "recipients", len(dec.To)+len(dec.Cc))
		readDetail["rule"], readDetail["to"], readDetail["cc"] = dec.Rule, recipientsForAudit(dec.To), recipientsForAudit(dec.Cc)
		b.record(ctx, j, "routed", readDetail)
		return
	}
	b.holdWith(ctx, j, dec.Reasons, readDetail)
}

// hold moves the job's files to held/ with a sidecar saying why, in French.
func (b *Bridge) hold(ctx context.Context, j store.Job, reasons []string) {
	b.holdWith(ctx, j, reasons, nil)
}

func (b *Bridge) holdWith(ctx context.Context, j store.Job, reasons []string, detail map[string]string) {
	if err := b.parkFiles(j, b.dirs.held, "held", map[string]any{"reasons": reasons}); err != nil {
		b.log.Error("hold: move files", "job", j.ID, "err", err)
		return
	}
	j, err := b.store.Update(ctx, j.ID, func(x *store.Job) error {
		x.State = store.StateHeld
		x.LastError = strings.Join(reasons, " ; ")
		return nil
	})
	if err != nil {
		b.log.Error("hold", "job", j.ID, "err", err)
		return
	}
	b.log.Info("document held for review", "job", j.ID, "reasons", len(reasons))
	if detail == nil {
		detail = map[string]string{}
	}
	detail["reasons"] = fmt.Sprint(len(reasons))
	b.record(ctx, j, "held", detail)
}

// fail moves the job's files to failed/ with the last error and the server's reply.
func (b *Bridge) fail(ctx context.Context, j store.Job, reason, reply string) {
	if err := b.parkFiles(j, b.dirs.failed, "failed", map[string]any{"last_error": reason, "server_reply": reply, "tries": j.Tries}); err != nil {
		b.log.Error("fail: move files", "job", j.ID, "err", err)
		return
	}
	j, err := b.store.Update(ctx, j.ID, func(x *store.Job) error {
		x.State = store.StateFailed
		x.LastError, x.ServerReply = reason, reply
		return nil
	})
	if err != nil {
		b.log.Error("fail", "job", j.ID, "err", err)
		return
	}
	b.log.Warn("document failed", "job", j.ID, "box", j.Box, "tries", j.Tries)
	b.record(ctx, j, "failed", map[string]string{"reply": reply, "tries": fmt.Sprint(j.Tries)})
}

// parkFiles moves the document (and its source sidecar) from the spool into dir, then writes
// JOBID.json. The json is written last: its presence means the folder holds the whole job.
func (b *Bridge) parkFiles(j store.Job, dir, state string, extra map[string]any) error {
	if err := moveIfPresent(b.docPath(b.dirs.spool, j), b.docPath(dir, j)); err != nil {
		return err
	}
	if j.HasSidecar {
		if err := moveIfPresent(sidecarPath(b.dirs.spool, j), sidecarPath(dir, j)); err != nil {
			return err
		}
	}
	return writeJobJSON(dir, j, state, b.now(), extra)
}

func writeJobJSON(dir string, j store.Job, state string, now time.Time, extra map[string]any) error {
	doc := map[string]any{
		"job": j.ID, "state": state, "input": j.Input, "box": j.Box, "file": j.SourceName,
		"document": j.ID + docExt(j.SourceName), "message_id": j.MessageID, "sha256": j.SHA256,
		state + "_at": now.UTC().Format(time.RFC3339),
	}
	if j.PrintJob != "" || j.PrintUser != "" {
		doc["print_job"], doc["printed_by"] = j.PrintJob, j.PrintUser
	}
	if len(j.Reading) > 0 {
		doc["reading"] = json.RawMessage(j.Reading)
	}
	if len(j.Route) > 0 {
		doc["route"] = json.RawMessage(j.Route)
	}
	for k, v := range extra {
		doc[k] = v
	}
	data, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	return safefile.WriteFile(jsonPath(dir, j), append(data, '\n'))
}

func jsonPath(dir string, j store.Job) string { return dir + string(os.PathSeparator) + j.ID + ".json" }

// send submits a routed job. The Message-ID is the one fixed at claim.
func (b *Bridge) send(ctx context.Context, j store.Job) {
	var dec routing.Decision
	if err := json.Unmarshal(j.Route, &dec); err != nil || len(dec.To) == 0 {
		b.hold(ctx, j, []string{"Aucun destinataire enregistré pour ce document"})
		return
	}
	// The trust space once more, just before the wire: a release or an edited store must not
	// open a way out.
	for _, a := range append(append([]string{}, dec.To...), dec.Cc...) {
		if !b.trust.Contains(a) {
			b.hold(ctx, j, []string{fmt.Sprintf("Destinataire hors de l'espace de confiance MSSanté : %s", a)})
			return
		}
	}
	var res reading.Result
	json.Unmarshal(j.Reading, &res)
	if why := routing.CheckPatientRecipients(append(append([]string{}, dec.To...), dec.Cc...), res.Patient); len(why) > 0 {
		b.hold(ctx, j, why)
		return
	}
	box, ok := b.cfg.Box(j.Box)
	sender := b.senders[j.Box]
	if !ok || sender == nil {
		b.hold(ctx, j, []string{fmt.Sprintf("La boîte d'envoi %q n'existe pas dans la configuration", j.Box)})
		return
	}
	docFile, err := os.Open(b.docPath(b.dirs.spool, j))
	if errors.Is(err, os.ErrNotExist) {
		b.fail(ctx, j, "Le document n'a pas été retrouvé dans le dossier de travail : "+err.Error(), "")
		return
	}
	if err != nil {
		// Too many open files, an antivirus holding it: the document is there, try later.
		b.log.Error("open the document to send", "job", j.ID, "err", errorCause(err))
		b.requeue(ctx, j, "Le document n'a pas pu être ouvert dans le dossier de travail : nouvel essai plus tard", "")
		return
	}
	// Everything opened or written for the send is closed and removed before the job moves
	// on: Windows renames no open file, and the spool keeps only the jobs' own files.
	out := &outgoing{dir: b.dirs.spool, job: j.ID, doc: docFile}
	defer out.remove()
	st, err := docFile.Stat()
	if err != nil {
		out.remove()
		b.requeue(ctx, j, "Le document n'a pas pu être relu dans le dossier de travail : nouvel essai plus tard", "")
		return
	}
	limit := int64(b.cfg.Sending.MaxMessageSize)
	if box.MaxMessageSize > 0 {
		limit = int64(box.MaxMessageSize)
	}
	// The message carries the PDF in base64 at least: one that cannot fit is failed before
	// anything is written (on a full disk, writing it would only be deferred, forever).
	if limit > 0 && st.Size()*4/3 > limit {
		out.remove()
		b.fail(ctx, j, tooLarge(st.Size()*4/3, limit), "")
		return
	}
	// The message is written to the spool and sent from there: a 14 MB PDF makes a 39 MB
	// message with its package, which the bridge never holds in memory.
	now := b.now()
	msg := composeMessage(box, j, dec, res, mail.Attachment{Body: docFile, Size: st.Size()}, now)
	xdmNote := "attached"
	pkg, why := xdmPackage(box, b.ruleNamed(dec.Rule), dec, res, docFile, st.Size(), now)
	if pkg != nil && excludedFromXDM(box.XDMExclude, append(append([]string{}, dec.To...), dec.Cc...)) {
		pkg, why = nil, "a recipient cannot read IHE XDM"
	}
	if pkg == nil {
		xdmNote = "not attached: " + why
	} else {
		att, err := out.write("xdm", func(w io.Writer) error { return xdm.BuildXDMTo(w, *pkg) })
		switch {
		case errors.Is(err, xdm.ErrInvalid):
			// The PDF still goes: every receiver reads it; the package is a convenience.
			xdmNote = "not attached: " + err.Error()
			b.log.Warn("IHE XDM package not built, sending the PDF alone", "job", j.ID, "err", err)
		case err != nil:
			b.log.Error("write the IHE XDM package to the spool", "job", j.ID, "err", err)
			out.remove()
			b.requeue(ctx, j, "Le message n'a pas pu être préparé sur le disque (espace plein ?) : nouvel essai plus tard", "")
			return
		default:
			att.Filename, att.ContentType = xdm.FileName, "application/zip"
			msg.Attachments = append(msg.Attachments, att)
		}
	}
	raw, err := out.write("eml", func(w io.Writer) error { return mail.Write(w, msg) })
	if err == nil && limit > 0 && raw.Size > limit && len(msg.Attachments) > 1 {
		// The package carries the PDF a second time: a scan of 8 MB no longer fits a 20 MB
		// message with it. Every receiver reads the PDF alone; a failed document helps no one.
		msg.Attachments = msg.Attachments[:1]
		xdmNote = "not attached: the message would pass the size limit with it"
		b.log.Warn("IHE XDM package left out: the message would pass the size limit with it", "job", j.ID, "bytes", raw.Size, "limit", limit)
		raw, err = out.write("eml", func(w io.Writer) error { return mail.Write(w, msg) })
	}
	if err != nil {
		b.log.Error("write the message to the spool", "job", j.ID, "err", err)
		out.remove()
		b.requeue(ctx, j, "Le message n'a pas pu être préparé sur le disque (espace plein ?) : nouvel essai plus tard", "")
		return
	}
	if limit > 0 && raw.Size > limit {
		out.remove()
		b.fail(ctx, j, tooLarge(raw.Size, limit), "")
		return
	}
	now = b.now()
	j, err = b.store.Update(ctx, j.ID, func(x *store.Job) error {
		x.State = store.StateSending
		x.Tries++
		if x.FirstTryAt.IsZero() {
			x.FirstTryAt = now
		}
		return nil
	})
	if err != nil {
		b.log.Error("mark sending", "job", j.ID, "err", err)
		out.remove()
		return
	}
	if err := b.record(ctx, j, "sending", map[string]string{"try": fmt.Sprint(j.Tries), "bytes": fmt.Sprint(raw.Size), "xdm": xdmNote}); err != nil {
		out.remove()
		b.requeue(ctx, j, "Journal d'audit indisponible : envoi suspendu", "")
		return
	}
	sendCtx, cancel := context.WithTimeout(ctx, 2*b.cfg.Sending.Timeout+10*time.Second)
	result, err := sender.Send(sendCtx, mail.Envelope{From: box.Address, To: append(append([]string{}, dec.To...), dec.Cc...), EnvelopeID: j.ID, Body: raw.Body, Size: raw.Size})
	cancel()
	if err := out.remove(); err != nil {
		b.log.Warn("spool file of the message not removed; it goes at the next start", "job", j.ID, "err", err)
	}
	// Whatever happened on the wire is recorded, even if a stop cancelled the send.
	ctx = context.WithoutCancel(ctx)
	if err == nil {
		b.sent(ctx, j, result)
		return
	}
	var me *mail.Error
	if !errors.As(err, &me) {
		me = &mail.Error{Class: mail.Temporary, Stage: "send", Err: err}
	}
	switch me.Class {
	case mail.Permanent:
		reason := me.French()
		if me.Stage == "rcpt" && routing.IsPatient(me.Recipient) {
			reason = PatientRefusal(me.ServerReply())
		}
		b.fail(ctx, j, reason, me.ServerReply())
	case mail.Config:
		b.log.Error("box configuration refused by the server", "job", j.ID, "box", j.Box, "stage", me.Stage, "err", me.Err)
		b.fail(ctx, j, me.French(), me.ServerReply()+errText(me))
	default:
		if me.Class == mail.ServerCert {
			// Nothing left: the operator's certificate is expired, unknown or for another
			// name. Kept and retried, but someone must know today.
			b.log.Error("the server's certificate is not trusted; the document waits", "job", j.ID, "box", j.Box, "stage", me.Stage, "err", me.Err)
		}
		if b.giveUp(j) {
			b.fail(ctx, j, "Abandon après "+fmt.Sprint(j.Tries)+" essais : "+me.French(), me.ServerReply())
			return
		}
		b.requeue(ctx, j, me.French(), me.ServerReply())
	}
}

func errText(e *mail.Error) string {
	if e.Reply != "" || e.Err == nil {
		return ""
	}
	return e.Err.Error()
}

// requeue schedules the next try with exponential backoff and jitter, persisted in the store so
// it survives restarts.
func (b *Bridge) requeue(ctx context.Context, j store.Job, reason, reply string) {
	next := b.now().Add(backoff(b.cfg.Sending.RetryInitial, b.cfg.Sending.RetryMax, j.Tries))
	j, err := b.store.Update(ctx, j.ID, func(x *store.Job) error {
		x.State = store.StateRouted
		x.NextAttempt = next
		x.LastError, x.ServerReply = reason, reply
		return nil
	})
	if err != nil {
		b.log.Error("requeue", "job", j.ID, "err", err)
		return
	}
	b.log.Info("send deferred", "job", j.ID, "box", j.Box, "try", j.Tries, "next", next.Format(time.RFC3339))
	b.record(ctx, j, "deferred", map[string]string{"reply": reply, "try": fmt.Sprint(j.Tries), "next": next.UTC().Format(time.RFC3339)})
}

func backoff(initial, maxDelay time.Duration, tries int) time.Duration {
	// ±10% so that a whole queue deferred by one outage does not come back in one burst.
	return time.Duration(float64(plainBackoff(initial, maxDelay, tries)) * (0.9 + 0.2*rand.Float64()))
}

// plainBackoff is the backoff without its jitter: initial, doubled each try, capped.
func plainBackoff(initial, maxDelay time.Duration, tries int) time.Duration {
	d := float64(initial) * math.Pow(2, float64(max(tries-1, 0)))
	if d > float64(maxDelay) {
		d = float64(maxDelay)
	}
	return time.Duration(d)
}

func (b *Bridge) sent(ctx context.Context, j store.Job, r mail.Result) {
	now := b.now()
	archive := b.dirs.sent + string(os.PathSeparator) + now.UTC().Format("2006-01")
	j, err := b.store.Update(ctx, j.ID, func(x *store.Job) error {
		x.State = store.StateSent
		x.SentAt = now
		x.ServerReply = r.Reply
		x.LastError = ""
		x.DSN = "requested"
		if !r.DSN {
			x.DSN = "unsupported"
		}
		return nil
	})
	if err != nil {
		b.log.Error("mark sent", "job", j.ID, "err", err)
		return
	}
	// The state is committed before the files move: a crash here leaves a sent job whose file
	// is still in the spool, which the next start archives (never a resend).
	if err := moveIfPresent(b.docPath(b.dirs.spool, j), b.docPath(archive, j)); err != nil {
		b.log.Warn("archive sent document", "job", j.ID, "err", err)
	}
	if j.HasSidecar {
		moveIfPresent(sidecarPath(b.dirs.spool, j), sidecarPath(archive, j))
	}
	b.log.Info("document sent", "job", j.ID, "box", j.Box, "dsn", j.DSN)
	b.record(ctx, j, "sent", map[string]string{"reply": r.Reply, "dsn": j.DSN})
}

// recipientsForAudit lists recipients for the journal. A patient's address carries the INS:
// it is replaced by a marker, the store keeps the address.
func recipientsForAudit(list []string) string {
	out := make([]string, 0, len(list))
	for _, a := range list {
		if strings.HasSuffix(strings.ToLower(a), "@patient.mssante.fr") {
			out = append(out, "patient@patient.mssante.fr")
			continue
		}
		out = append(out, a)
	}
	return strings.Join(out, ",")
}

func (b *Bridge) ruleNamed(name string) *config.Rule {
	for i := range b.cfg.Routing.Rules {
		if b.cfg.Routing.Rules[i].Name == name {
			return &b.cfg.Routing.Rules[i]
		}
	}
	return nil
}

// watchCertificates warns in the log, at start and then daily, about a box's client
// certificate (SMTP, and IMAP when it is another file) that expires within 30 days: time enough to renew an IGC-Santé certificate.
func (b *Bridge) watchCertificates(ctx context.Context) {
	check := func() {
		for _, box := range b.cfg.Boxes {
			for _, c := range box.ClientCerts() {
				end, soon, err := mail.ExpiresWithin(c.File, mail.CertWarning)
				switch {
				case err != nil:
					b.log.Warn("client certificate unreadable", "box", box.ID, "use", c.Use, "err", err)
				case soon:
					b.log.Warn("client certificate expires soon: renew it", "box", box.ID, "use", c.Use, "not_after", end.Format(time.RFC3339), "days_left", int(time.Until(end).Hours()/24))
				}
			}
		}
	}
	check()
	t := time.NewTicker(24 * time.Hour)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			check()
		}
	}
}
