// Command mssbridge connects clinical software that can only print or write files to MSSanté,
// the French trust space of secure health mail. See README.md and the contract.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"
)

// Exit statuses fixed by the contract.
const (
	exitOK      = 0
	exitRuntime = 1
	exitUsage   = 2
)

// usageError makes main exit 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// env is what commands write to; tests replace it.
type env struct {
	stdout, stderr io.Writer
}

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, e env, args []string) error
}

func commands() []command {
	return []command{
		{"run", "run the bridge in the foreground (what the OS service runs)", cmdRun},
		{"demo", "run everything on this machine with no set-up", cmdDemo},
		{"extract", "read documents and print what was found and the decision", cmdExtract},
		{"send", "send one document now, as a job", cmdSend},
		{"check-config", "validate the configuration (--connect: also TLS handshakes)", cmdCheckConfig},
		{"status", "jobs per state, last errors, per box and input", cmdStatus},
		{"held", "list|show|release|reject held jobs", cmdHeld},
		{"retry", "put failed jobs back in the queue", cmdRetry},
		{"audit", "verify: check the tamper-evident journal end to end", cmdAudit},
		{"service", "install|uninstall|start|stop|status the OS service", cmdService},
		{"printer", "install|uninstall a print queue pointing at the raw print listener", cmdPrinter},
		{"user", "add|list|remove review-desk accounts", cmdUser},
		{"version", "version, commit, Go version", cmdVersion},
	}
}

func main() {
	os.Exit(runMain(os.Args[1:], env{stdout: os.Stdout, stderr: os.Stderr}))
}

func runMain(args []string, e env) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printUsage(e.stderr)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	if args[0] == compilePDFiumCmd { // not a user's command: see compilePDFiumApart
		return exitCode(e, cmdCompilePDFium(context.Background(), args[1:]))
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		err := c.run(ctx, e, args[1:])
		return exitCode(e, err)
	}
	fmt.Fprintf(e.stderr, "mssbridge: unknown command %q\n\n", args[0])
	printUsage(e.stderr)
	return exitUsage
}

func exitCode(e env, err error) int {
	if err == nil {
		return exitOK
	}
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	fmt.Fprintln(e.stderr, "mssbridge:", err)
	var ue usageError
	var ce configError
	if errors.As(err, &ue) || errors.As(err, &ce) {
		return exitUsage
	}
	return exitRuntime
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: mssbridge COMMAND [options]")
	fmt.Fprintln(w)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-13s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nmssbridge COMMAND -h shows a command's options.")
}

// parseInterspersed lets options follow positional arguments (`held release ID --to X`).
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func newFlags(name string, e env) *flag.FlagSet {
	fs := flag.NewFlagSet("mssbridge "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	return fs
}

// Set at build time with -ldflags "-X main.version=… -X main.commit=…".
var (
	version = "dev"
	commit  = ""
)

func cmdVersion(_ context.Context, e env, args []string) error {
	c := commit
	if c == "" {
		if bi, ok := debug.ReadBuildInfo(); ok {
			for _, s := range bi.Settings {
				if s.Key == "vcs.revision" {
					c = s.Value
				}
			}
		}
	}
	if c == "" {
		c = "unknown"
	}
	fmt.Fprintf(e.stdout, "mssbridge %s (commit %s, %s, %s/%s)\n", version, c, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}
