package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mssbridge/mssbridge/audit"
	"github.com/mssbridge/mssbridge/bridge"
	"github.com/mssbridge/mssbridge/config"
	"github.com/mssbridge/mssbridge/imapbox"
	"github.com/mssbridge/mssbridge/mail"
	"github.com/mssbridge/mssbridge/safefile"
	"github.com/mssbridge/mssbridge/service"
	"github.com/mssbridge/mssbridge/store"
	"github.com/mssbridge/mssbridge/trust"
)

func cmdRun(ctx context.Context, e env, args []string) error {
	fs := newFlags("run", e)
	cfgPath := configFlag(fs)
	if _, err := parseInterspersed(fs, args); err != nil {
		return usageError{err.Error()}
	}
	if runtime.GOOS == "windows" && service.UnderManager() {
		// Started by the Windows service manager: it must be answered through kardianos.
		path, err := filepath.Abs(resolveConfigPath(*cfgPath))
		if err != nil {
			return err
		}
		return runAsService(path)
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	logOut, closeLog, err := logWriter(cfg, e.stderr)
	if err != nil {
		return err
	}
	defer closeLog()
	return runBridge(ctx, cfg, newLogger(logOut, cfg.Log.Level), nil)
}

// runBridge runs until ctx ends; the demo and the service use it too.
func runBridge(ctx context.Context, cfg *config.Config, logger *slog.Logger, onEvent func(audit.Entry)) error {
	bridge.SetSoftMemoryLimit()
	// On Windows a data_dir made beforehand (by hand, on another drive) inherits its parent's
	// ACL, often readable by every user: only the service may read the documents. Only under
	// the service manager, whose account is the one to keep (an administrator running `run` in
	// a console would put their own in its place). Modes do this job elsewhere; it does nothing
	// there.
	// Not when the import folder lies inside data_dir: the clinical software reads it, and the
	// rights it was given there would be taken away at each start.
	if service.UnderManager() {
		if config.Within(cfg.Import.Path, cfg.DataDir) {
			logger.Warn("import.path is inside data_dir: data folder access left as it is; keep them apart")
		} else if err := safefile.MakePrivate(cfg.DataDir); err != nil && !errors.Is(err, os.ErrNotExist) {
			logger.Warn("data folder access could not be restricted to the service and administrators", "err", err)
		}
	}
	sp, err := trust.Load(cfg.Trust.DomainsFile)
	if err != nil {
		return configError{err}
	}
	r, closeReader, err := newReader(ctx, cfg, sp)
	if err != nil {
		return err
	}
	defer closeReader()
	b, err := bridge.Open(ctx, bridge.Options{Config: cfg, Logger: logger, Reader: r, OnEvent: onEvent})
	if err != nil {
		return err
	}
	defer b.Close()
	// Loading PDFium and opening the store leave tens of MB of garbage and freed spans that the
	// runtime would keep for hours at rest: given back once, the resting RSS went from 89 to 66
	// MB and a burst of 1,000 letters peaked 10 MB lower.
	debug.FreeOSMemory()
	waitPrinter, err := startPrinter(ctx, cfg, b, logger)
	if err != nil {
		return err
	}
	defer waitPrinter() // runs before b.Close: a print being stored finishes first
	if err := startWeb(ctx, cfg, b, logger); err != nil {
		return err
	}
	err = b.Run(ctx)
	logger.Info("bridge stopped")
	return err
}

// logWriter adds the configured log file (append, 0600) to stderr.
func logWriter(cfg *config.Config, stderr io.Writer) (io.Writer, func(), error) {
	if cfg.Log.File == "" {
		return stderr, func() {}, nil
	}
	if err := safefile.MkdirAll(filepath.Dir(cfg.Log.File)); err != nil {
		return nil, nil, err
	}
	f, err := service.OpenLogFile(cfg.Log.File, 0, 0) // rotated by size
	if err != nil {
		return nil, nil, fmt.Errorf("open log file: %w", err)
	}
	return io.MultiWriter(stderr, f), func() { f.Close() }, nil
}

func cmdExtract(ctx context.Context, e env, args []string) error {
	fs := newFlags("extract", e)
	cfgPath := fs.String("c", "", "configuration file (optional: its trust.domains_file is used)")
	asJSON := fs.Bool("json", false, "one JSON object per document (the contract's schema)")
	dirFile := fs.String("directory", "", "Annuaire Santé MSSanté extraction to resolve names and RPPS (default: the configuration's directory.file)")
	files, err := parseInterspersed(fs, args)
	if err != nil {
		return usageError{err.Error()}
	}
	if len(files) == 0 {
		return usagef("extract: give at least one PDF")
	}
	cfg := &config.Config{}
	if *cfgPath != "" {
		if cfg, err = loadConfig(*cfgPath); err != nil {
			return err
		}
	}
	if *dirFile != "" {
		cfg.Directory.File = *dirFile
	}
	if *dirFile != "" {
		cfg.Directory.File = *dirFile
	}
	sp, err := trust.Load(cfg.Trust.DomainsFile)
	if err != nil {
		return configError{err}
	}
	r, closeReader, err := newReader(ctx, cfg, sp)
	if err != nil {
		return err
	}
	defer closeReader()
	failed := 0
	for _, f := range files {
		side := strings.TrimSuffix(f, extOf(f)) + ".json"
		if _, err := os.Stat(side); err != nil {
			side = ""
		}
		res, err := r.Read(ctx, f, side)
		if err != nil {
			fmt.Fprintf(e.stderr, "%s: %v\n", f, err)
			failed++
			continue
		}
		if *asJSON {
			b, _ := json.Marshal(res)
			fmt.Fprintln(e.stdout, string(b))
			continue
		}
		fmt.Fprintf(e.stdout, "%s: %s (%d pages)\n", f, res.Decision, res.Pages)
		p := res.Patient
		fmt.Fprintf(e.stdout, "  patient: %s %s, né(e) %s, INS %s (clé valide: %v)\n", p.FamilyName, p.GivenNames, p.BirthDate, p.INS, p.INSKeyValid)
		for _, rc := range res.Recipients {
			fmt.Fprintf(e.stdout, "  %s: %s (%s, espace de confiance: %v)\n", rc.Role, rc.Address, rc.Source, rc.InTrustSpace)
		}
		for _, why := range res.Reasons {
			fmt.Fprintf(e.stdout, "  motif: %s\n", why)
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d document(s) could not be read", failed)
	}
	return nil
}

func extOf(p string) string {
	if i := strings.LastIndexByte(p, '.'); i > strings.LastIndexAny(p, `/\`) {
		return p[i:]
	}
	return ""
}

type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

func cmdSend(ctx context.Context, e env, args []string) error {
	fs := newFlags("send", e)
	cfgPath := configFlag(fs)
	box := fs.String("box", "", "id of the box to send from")
	var to listFlag
	fs.Var(&to, "to", "recipient address (repeat or comma-separate)")
	insFlag := fs.String("ins", "", "the patient's INS")
	files, err := parseInterspersed(fs, args)
	if err != nil {
		return usageError{err.Error()}
	}
	if len(files) != 1 || *box == "" || len(to) == 0 {
		return usagef("send: usage: mssbridge send -c FILE --box ID --to ADDR [--ins INS] PDF")
	}
	_, b, closeAll, err := openFromFlag(ctx, e, *cfgPath, true)
	if err != nil {
		return err
	}
	defer closeAll()
	j, err := b.SendNow(bridge.WithActor(ctx, currentUser()), files[0], bridge.SendNowOptions{Box: *box, To: to, INS: *insFlag})
	if err != nil {
		return err
	}
	switch j.State {
	case store.StateSent:
		fmt.Fprintf(e.stdout, "job %s sent (%s)\n", j.ID, j.ServerReply)
		return nil
	case store.StateRouted:
		fmt.Fprintf(e.stdout, "job %s deferred, the service will retry: %s\n", j.ID, j.LastError)
		return nil
	default:
		return fmt.Errorf("job %s %s: %s", j.ID, j.State, j.LastError)
	}
}

func cmdCheckConfig(ctx context.Context, e env, args []string) error {
	fs := newFlags("check-config", e)
	cfgPath := configFlag(fs)
	connect := fs.Bool("connect", false, "also do the TLS handshakes and logins")
	if _, err := parseInterspersed(fs, args); err != nil {
		return usageError{err.Error()}
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	if _, err := trust.Load(cfg.Trust.DomainsFile); err != nil {
		return configError{fmt.Errorf("%s: trust.domains_file: %w", cfg.Path, err)}
	}
	fmt.Fprintf(e.stdout, "%s: configuration OK (%d boxes, %d inputs, %d rules)\n", cfg.Path, len(cfg.Boxes), len(cfg.Inputs), len(cfg.Routing.Rules))
	if !*connect {
		return nil
	}
	bad := 0
	for _, box := range cfg.Boxes {
		ep, err := bridge.SMTPEndpoint(box, cfg.Sending)
		if err != nil {
			fmt.Fprintf(e.stdout, "box %s: smtp %s:%d: %v\n", box.ID, box.SMTP.Host, box.SMTP.Port, err)
			bad++
			continue
		}
		pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		caps, err := mail.Probe(pctx, ep)
		cancel()
		if err != nil {
			bad++
			var me *mail.Error
			if errors.As(err, &me) {
				fmt.Fprintf(e.stdout, "box %s: smtp %s:%d: FAILED (%s error at %s): %v\n", box.ID, box.SMTP.Host, box.SMTP.Port, me.Class, me.Stage, err)
				if me.Class == mail.Config || me.Class == mail.ServerCert {
					fmt.Fprintf(e.stdout, "  %s\n", me.French())
				}
			} else {
				fmt.Fprintf(e.stdout, "box %s: smtp %s:%d: FAILED: %v\n", box.ID, box.SMTP.Host, box.SMTP.Port, err)
			}
			continue
		}
		fmt.Fprintf(e.stdout, "box %s: smtp %s:%d OK: %s, client certificate accepted, server %q; STARTTLS=%v DSN=%v SIZE=%d SMTPUTF8=%v AUTH=%q\n",
			box.ID, box.SMTP.Host, box.SMTP.Port, caps.TLSVersion, caps.ServerCert, caps.StartTLS, caps.DSN, caps.Size, caps.SMTPUTF8, caps.Auth)
		if !caps.DSN {
			fmt.Fprintf(e.stdout, "  warning: the server does not advertise DSN: deliveries cannot be followed up\n")
		}
	}
	for _, box := range cfg.Boxes {
		if box.IMAP == nil {
			continue
		}
		if err := probeIMAP(ctx, box, cfg); err != nil {
			bad++
			fmt.Fprintf(e.stdout, "box %s: imap %s:%d: FAILED: %v\n", box.ID, box.IMAP.Host, box.IMAP.Port, err)
			continue
		}
		how := "certificate (EXTERNAL)"
		if box.IMAP.Username != "" {
			how = "login " + box.IMAP.Username
		}
		fmt.Fprintf(e.stdout, "box %s: imap %s:%d OK: %s, mailbox %s selected\n", box.ID, box.IMAP.Host, box.IMAP.Port, how, box.IMAP.Mailbox)
	}
	if bad > 0 {
		return fmt.Errorf("%d box(es) could not connect", bad)
	}
	return nil
}

func cmdStatus(ctx context.Context, e env, args []string) error {
	fs := newFlags("status", e)
	cfgPath := configFlag(fs)
	if _, err := parseInterspersed(fs, args); err != nil {
		return usageError{err.Error()}
	}
	cfg, b, closeAll, err := openFromFlag(ctx, e, *cfgPath, false)
	if err != nil {
		return err
	}
	defer closeAll()
	counts, err := b.Store().Counts(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "BOX\tINPUT\tSTATE\tJOBS")
	total := map[store.State]int{}
	for _, c := range counts {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\n", c.Box, c.Input, c.State, c.N)
		total[c.State] += c.N
	}
	tw.Flush()
	var parts []string
	for _, s := range store.AllStates {
		if total[s] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", s, total[s]))
		}
	}
	fmt.Fprintf(e.stdout, "\ntotal: %s\n", strings.Join(parts, ", "))
	recent, err := b.Store().List(ctx, store.Filter{States: []store.State{store.StateFailed, store.StateRouted, store.StateHeld}, Limit: 10})
	if err != nil {
		return err
	}
	shown := 0
	for _, j := range recent {
		if j.LastError == "" {
			continue
		}
		if shown == 0 {
			fmt.Fprintln(e.stdout, "\nlast errors:")
		}
		shown++
		printed := ""
		if j.PrintJob != "" || j.PrintUser != "" {
			printed = fmt.Sprintf(" (impression « %s » de %s)", j.PrintJob, j.PrintUser)
		}
		fmt.Fprintf(e.stdout, "  %s %s [%s/%s]%s tries=%d: %s\n", j.ID, j.State, j.Box, j.Input, printed, j.Tries, j.LastError)
	}
	noDSN, _ := b.Store().List(ctx, store.Filter{States: []store.State{store.StateSent}, Limit: 50})
	boxes := map[string]bool{}
	for _, j := range noDSN {
		if j.DSN == "unsupported" {
			boxes[j.Box] = true
		}
	}
	for box := range boxes {
		fmt.Fprintf(e.stdout, "box %s: the server does not offer delivery notifications (DSN)\n", box)
	}
	for _, box := range cfg.Boxes {
		for _, c := range box.ClientCerts() {
			name := box.ID
			if c.Use == "imap" {
				name += " (imap)"
			}
			end, soon, err := mail.ExpiresWithin(c.File, mail.CertWarning)
			switch {
			case err != nil:
				fmt.Fprintf(e.stdout, "box %s: client certificate unreadable: %v\n", name, err)
			case soon && end.Before(time.Now()):
				fmt.Fprintf(e.stdout, "box %s: WARNING the client certificate EXPIRED on %s: nothing can be %s\n", name, end.Local().Format("2006-01-02"), map[string]string{"smtp": "sent", "imap": "received"}[c.Use])
			case soon:
				fmt.Fprintf(e.stdout, "box %s: WARNING the client certificate expires on %s (in %d days): order its renewal\n", name, end.Local().Format("2006-01-02"), int(time.Until(end).Hours()/24))
			default:
				fmt.Fprintf(e.stdout, "box %s: client certificate valid until %s\n", name, end.Local().Format("2006-01-02"))
			}
		}
	}
	return nil
}

func cmdHeld(ctx context.Context, e env, args []string) error {
	if len(args) == 0 {
		return usagef("held: usage: mssbridge held list|show|release|reject [-c FILE] [ID]")
	}
	sub := args[0]
	fs := newFlags("held "+sub, e)
	cfgPath := configFlag(fs)
	var to listFlag
	insFlag := new(string)
	reason := new(string)
	switch sub {
	case "release":
		fs.Var(&to, "to", "recipient address replacing those found (repeat or comma-separate)")
		insFlag = fs.String("ins", "", "the patient's INS")
	case "reject":
		reason = fs.String("reason", "rejeté après relecture", "why, in words the team understands")
	case "list", "show":
	default:
		return usagef("held: unknown sub-command %q (list, show, release, reject)", sub)
	}
	pos, err := parseInterspersed(fs, args[1:])
	if err != nil {
		return usageError{err.Error()}
	}
	_, b, closeAll, err := openFromFlag(ctx, e, *cfgPath, false)
	if err != nil {
		return err
	}
	defer closeAll()
	ctx = bridge.WithActor(ctx, currentUser())
	if sub == "list" {
		jobs, err := b.Store().List(ctx, store.Filter{States: []store.State{store.StateHeld}})
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "JOB\tINPUT\tBOX\tSINCE\tREASON")
		for _, j := range jobs {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", j.ID, j.Input, j.Box, j.UpdatedAt.Local().Format("2006-01-02 15:04"), j.LastError)
		}
		return tw.Flush()
	}
	if len(pos) != 1 {
		return usagef("held %s: give one job id", sub)
	}
	id := pos[0]
	switch sub {
	case "show":
		data, err := os.ReadFile(b.HeldDir() + string(os.PathSeparator) + id + ".json")
		if err != nil {
			j, gerr := b.Store().Get(ctx, id)
			if gerr != nil {
				return gerr
			}
			return fmt.Errorf("job %s is %s, not held", id, j.State)
		}
		_, err = e.stdout.Write(data)
		return err
	case "release":
		j, err := b.Release(ctx, id, bridge.ReleaseOptions{To: to, INS: *insFlag})
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "job %s released: it will be sent from box %s\n", j.ID, j.Box)
	case "reject":
		j, err := b.Reject(ctx, id, *reason)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "job %s rejected: the document is kept in rejected/\n", j.ID)
	}
	return nil
}

func cmdRetry(ctx context.Context, e env, args []string) error {
	fs := newFlags("retry", e)
	cfgPath := configFlag(fs)
	all := fs.Bool("failed", false, "retry every failed job")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return usageError{err.Error()}
	}
	if (len(pos) == 1) == *all {
		return usagef("retry: give one job id or --failed")
	}
	_, b, closeAll, err := openFromFlag(ctx, e, *cfgPath, false)
	if err != nil {
		return err
	}
	defer closeAll()
	ctx = bridge.WithActor(ctx, currentUser())
	ids := pos
	if *all {
		jobs, err := b.Store().List(ctx, store.Filter{States: []store.State{store.StateFailed}})
		if err != nil {
			return err
		}
		ids = nil
		for _, j := range jobs {
			ids = append(ids, j.ID)
		}
		sort.Strings(ids)
	}
	var errs []error
	for _, id := range ids {
		if _, err := b.Retry(ctx, id); err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintf(e.stdout, "job %s queued again\n", id)
	}
	return errors.Join(errs...)
}

func cmdAudit(ctx context.Context, e env, args []string) error {
	if len(args) == 0 || args[0] != "verify" {
		return usagef("audit: usage: mssbridge audit verify -c FILE")
	}
	fs := newFlags("audit verify", e)
	cfgPath := configFlag(fs)
	if _, err := parseInterspersed(fs, args[1:]); err != nil {
		return usageError{err.Error()}
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	path := auditPath(cfg)
	rep, err := audit.Verify(path)
	if err != nil {
		var be *audit.BrokenError
		if errors.As(err, &be) {
			return fmt.Errorf("audit journal %s is BROKEN at entry %d (line %d): %s", path, be.Seq, be.Line, be.Reason)
		}
		return fmt.Errorf("audit journal %s: %w", path, err)
	}
	fmt.Fprintf(e.stdout, "audit journal %s: OK, %d entries, chain intact (last hash %s)\n", path, rep.Entries, rep.LastHash)
	return nil
}

func auditPath(cfg *config.Config) string {
	return cfg.DataDir + string(os.PathSeparator) + "audit" + string(os.PathSeparator) + "journal.jsonl"
}

// probeIMAP connects, authenticates and selects the box's mailbox, then logs out.
func probeIMAP(ctx context.Context, box config.Box, cfg *config.Config) error {
	ep, err := bridge.IMAPEndpoint(*box.IMAP, cfg.Sending)
	if err != nil {
		return err
	}
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cn, err := imapbox.Dial(pctx, ep, box.IMAP.Mailbox)
	if err != nil {
		return err
	}
	return cn.Close()
}

// openFromFlag loads the configuration named by -c and opens its store and journal, with the
// PDF reader when withReader is set: what every job-handling command starts with.
func openFromFlag(ctx context.Context, e env, cfgPath string, withReader bool) (*config.Config, *bridge.Bridge, func(), error) {
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		return nil, nil, nil, err
	}
	b, closeAll, err := openBridge(ctx, cfg, newLogger(e.stderr, "warn"), withReader)
	return cfg, b, closeAll, err
}
