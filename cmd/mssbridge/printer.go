package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"

	"github.com/mssbridge/mssbridge/bridge"
	"github.com/mssbridge/mssbridge/config"
	"github.com/mssbridge/mssbridge/printer"
)

// printerListeners are the configured printers. The contract has one (printer: {listen,
// input}); the printer package takes several, each bound to its input.
func printerListeners(cfg *config.Config) []printer.Listener {
	if cfg == nil || cfg.Printer == nil || cfg.Printer.Listen == "" {
		return nil
	}
	ls := []printer.Listener{{Addr: cfg.Printer.Listen, Input: cfg.Printer.Input}}
	for _, more := range cfg.Printer.More {
		ls = append(ls, printer.Listener{Addr: more.Listen, Input: more.Input})
	}
	return ls
}

// startPrinter starts the raw print listeners the configuration has. It returns at once with a
// function that waits for them to stop (they stop with ctx): the store must outlive a job
// being stored at shutdown.
func startPrinter(ctx context.Context, cfg *config.Config, b *bridge.Bridge, log *slog.Logger) (func(), error) {
	ls := printerListeners(cfg)
	if len(ls) == 0 {
		return func() {}, nil
	}
	p := cfg.Printer
	srv, err := printer.Start(ctx, printer.Options{
		Listeners:   ls,
		Logger:      log,
		MaxSize:     int64(p.MaxSize),
		IdleTimeout: p.IdleTimeout,
		JobTimeout:  p.JobTimeout,
		Submit: func(ctx context.Context, j printer.Job) (string, error) {
			return b.SubmitPrinted(ctx, j.Input, j.Name, j.Data, bridge.PrintInfo{JobName: j.JobName, User: j.User, Note: j.Note})
		},
	})
	if err != nil {
		return nil, err
	}
	return srv.Wait, nil
}

const printerUsage = `usage: mssbridge printer install [--name NAME] [-c FILE | --address HOST:PORT] [--dry-run]
       mssbridge printer uninstall [--name NAME] [--dry-run]`

// cmdPrinter adds or removes the operating system's print queue that sends to the listener:
// CUPS on Linux and macOS (lpadmin with mssbridge's own PPD: PDF through pdftopdf, plain text
// passed on as text), PowerShell on Windows (Standard TCP/IP port and the built-in
// « Microsoft Print to PDF » driver).
func cmdPrinter(ctx context.Context, e env, args []string) error {
	if len(args) == 0 || (args[0] != "install" && args[0] != "uninstall") {
		return usagef("%s", printerUsage)
	}
	action := args[0]
	fs := newFlags("printer "+action, e)
	name := fs.String("name", "mssbridge", "the printer's name in print dialogs")
	dry := fs.Bool("dry-run", false, "print the commands instead of running them")
	var cfgPath, address *string
	if action == "install" {
		cfgPath = configFlag(fs)
		address = fs.String("address", "", "the listener to print to (default: the configuration's printer.listen); another machine's address makes a workstation's queue")
	}
	rest, err := parseInterspersed(fs, args[1:])
	if err != nil {
		return usageError{err.Error()}
	}
	if len(rest) > 0 {
		return usagef("printer %s: unexpected %q\n%s", action, rest[0], printerUsage)
	}
	run := printer.ExecRunner
	script := "" // the PowerShell script, shown in clear by a dry run
	if *dry {
		run = func(_ context.Context, prog string, a ...string) ([]byte, error) {
			if prog == "lpinfo" || prog == "lpstat" && action == "uninstall" {
				return printer.ExecRunner(ctx, prog, a...) // read-only: run them for real
			}
			fmt.Fprintln(e.stdout, shellLine(prog, a))
			if prog == "powershell.exe" {
				fmt.Fprintln(e.stdout, "# the script, base64 UTF-16LE above:")
				fmt.Fprintln(e.stdout, script)
			}
			return nil, nil
		}
	}

	if action == "uninstall" {
		if runtime.GOOS == "windows" {
			script = printer.WindowsUninstallScript(*name)
			err = printer.UninstallWindows(ctx, run, *name)
		} else {
			err = printer.UninstallCUPS(ctx, run, *name)
		}
		switch {
		case errors.Is(err, printer.ErrNotInstalled):
			fmt.Fprintf(e.stdout, "printer %s: not installed, nothing to remove\n", *name)
			return nil
		case err != nil:
			return fmt.Errorf("printer uninstall: %w", err)
		}
		if !*dry {
			fmt.Fprintf(e.stdout, "printer %s: removed\n", *name)
		}
		return nil
	}

	listen := *address
	if listen == "" {
		cfg, err := loadConfig(*cfgPath)
		if err != nil {
			return err
		}
		ls := printerListeners(cfg)
		if len(ls) == 0 {
			return configError{fmt.Errorf("%s: no printer.listen: add a printer section (listen, input) or give --address", cfg.Path)}
		}
		listen = ls[0].Addr
	}
	q, err := printer.QueueFor(*name, listen)
	if err != nil {
		return usageError{err.Error()}
	}
	if err := q.Validate(runtime.GOOS); err != nil {
		return usageError{err.Error()}
	}
	var out string
	if runtime.GOOS == "windows" {
		script = printer.WindowsInstallScript(q)
		out, err = printer.InstallWindows(ctx, run, q)
	} else {
		out, err = printer.InstallCUPS(ctx, run, q)
	}
	if err != nil {
		return fmt.Errorf("printer install: %w", err)
	}
	if !*dry {
		fmt.Fprintf(e.stdout, "printer %s: installed, printing to %s:%d\n", q.Name, q.Host, q.Port)
		if out != "" {
			fmt.Fprintln(e.stdout, out)
		}
	}
	return nil
}

// shellLine shows a command as it could be pasted in a POSIX shell.
func shellLine(prog string, args []string) string {
	parts := []string{prog}
	for _, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$`()&;|<>*?#~[]{}!") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}
