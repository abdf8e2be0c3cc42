package printer

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf16"
)

// Queue is a print queue of the operating system that sends its jobs to a listener.
type Queue struct {
	Name string // as shown in print dialogs
	Host string // where the listener is, as the queue's machine reaches it
	Port int
}

// QueueFor is the queue for a listener address: a listener on every interface (0.0.0.0, ::,
// or no host) is reached on 127.0.0.1 from its own machine.
func QueueFor(name, listen string) (Queue, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return Queue{}, fmt.Errorf("printer address %q: %w", listen, err)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 1 || p > 65535 {
		return Queue{}, fmt.Errorf("printer address %q: bad port", listen)
	}
	switch host {
	case "", "0.0.0.0", "::", "[::]":
		host = "127.0.0.1"
	}
	return Queue{Name: name, Host: host, Port: p}, nil
}

// ErrNotInstalled is returned by Uninstall when there is no such queue.
var ErrNotInstalled = errors.New("no such printer")

// Validate checks the queue for the rules of goos's print system, so that what reaches lpadmin
// or PowerShell is a plain name and a plain address.
func (q Queue) Validate(goos string) error {
	if err := validName(q.Name, goos); err != nil {
		return err
	}
	if q.Port < 1 || q.Port > 65535 {
		return fmt.Errorf("printer port %d: out of range", q.Port)
	}
	if ip := net.ParseIP(q.Host); ip == nil {
		if q.Host == "" || len(q.Host) > 253 || strings.Trim(q.Host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") != "" || q.Host[0] == '-' {
			return fmt.Errorf("printer host %q: not an IP address or a host name", q.Host)
		}
	}
	return nil
}

// validName: CUPS allows up to 127 printable characters except space, "/", "\\", "#", "'" and
// '"'; we keep to letters, digits, "-", "_" and "." there. Windows allows spaces and accents,
// not "\\", "," or "!"; quote-like characters are refused as well so that the PowerShell
// string stays trivially safe.
func validName(name, goos string) error {
	if name == "" || len([]rune(name)) > 127 {
		return fmt.Errorf("printer name %q: 1 to 127 characters", name)
	}
	for _, r := range name {
		ok := r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("-_.", r))
		if goos == "windows" {
			ok = unicode.IsPrint(r) && !strings.ContainsRune("\\,!'\"`‘’‚‛“”„$", r)
		}
		if !ok {
			return fmt.Errorf("printer name %q: %q is not allowed (use letters, digits, - _ .)", name, r)
		}
	}
	return nil
}

// Runner runs a program and returns its combined output; tests replace it.
type Runner func(ctx context.Context, name string, args ...string) ([]byte, error)

// ExecRunner runs programs for real.
func ExecRunner(ctx context.Context, name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("%s: %w: %s", name, err, strings.TrimSpace(string(out)))
	}
	return out, nil
}

// --- CUPS (Linux, macOS) ------------------------------------------------------------------

// genericPDFPPD is cups-filters' generic PDF printer: whatever is printed (PDF, text, images)
// becomes PDF, wrapped in PJL, and goes to the socket.
const genericPDFPPD = "Generic-PDF_Printer-PDF.ppd"

// ppdDirs are where cups-filters installs its PPD files (Debian, Fedora, /usr/local builds,
// Homebrew), for a CUPS whose lpinfo does not list it.
var ppdDirs = []string{
	"/usr/share/ppd/cupsfilters", "/usr/share/cups/model", "/usr/share/cups/model/cupsfilters",
	"/usr/local/share/ppd/cupsfilters", "/opt/homebrew/share/ppd/cupsfilters",
}

// Model is how lpadmin is told the driver: a model name lpinfo lists (-m) or a PPD file (-P).
type Model struct {
	Name string
	File string
}

func (m Model) args() []string {
	if m.File != "" {
		return []string{"-P", m.File}
	}
	return []string{"-m", m.Name}
}

// FindCUPSModel finds the generic PDF driver: first in what CUPS itself lists (lpinfo -m: the
// name differs between distributions, e.g. Debian's "lsb/usr/cupsfilters/…"), then as a file.
func FindCUPSModel(ctx context.Context, run Runner) (Model, error) {
	out, err := run(ctx, "lpinfo", "-m")
	if err == nil {
		sc := bufio.NewScanner(bytes.NewReader(out))
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) > 0 && strings.HasSuffix(f[0], "/"+genericPDFPPD) || len(f) > 0 && f[0] == genericPDFPPD {
				return Model{Name: f[0]}, nil
			}
		}
	}
	for _, d := range ppdDirs {
		p := d + "/" + genericPDFPPD
		if _, serr := os.Stat(p); serr == nil {
			return Model{File: p}, nil
		}
	}
	if err != nil {
		return Model{}, fmt.Errorf("the generic PDF printer driver was not found (%v); install cups-filters", err)
	}
	return Model{}, errors.New("the generic PDF printer driver (" + genericPDFPPD + ") was not found: install cups-filters (Debian: apt-get install cups-filters)")
}

// CUPSInstallArgs are lpadmin's arguments: the queue enabled and accepting (-E after -p),
// the listener as an AppSocket device, the generic PDF driver, not shared on the network, and
// a job that fails to reach the bridge (stopped, restarting) retried rather than stopping the
// queue.
func CUPSInstallArgs(q Queue, m Model) []string {
	args := []string{"-p", q.Name, "-E", "-v", q.DeviceURI()}
	args = append(args, m.args()...)
	return append(args,
		"-D", "mssbridge (MSSanté)", "-L", "mssbridge",
		"-o", "printer-is-shared=false", "-o", "printer-error-policy=retry-job")
}

// DeviceURI is the queue's CUPS device.
func (q Queue) DeviceURI() string {
	return "socket://" + net.JoinHostPort(q.Host, strconv.Itoa(q.Port))
}

// InstallCUPS adds (or updates) the queue and returns what lpstat says of it.
func InstallCUPS(ctx context.Context, run Runner, q Queue) (string, error) {
	if err := q.Validate("linux"); err != nil {
		return "", err
	}
	m, err := FindCUPSModel(ctx, run)
	if err != nil && runtime.GOOS == "darwin" {
		// macOS has no cups-filters: a raw queue passes on what applications print, which on
		// macOS is PDF (a text file given to lp would arrive as text and fail with a reason).
		m, err = Model{Name: "raw"}, nil
	}
	if err != nil {
		return "", err
	}
	if _, err := run(ctx, "lpadmin", CUPSInstallArgs(q, m)...); err != nil {
		return "", err
	}
	out, err := run(ctx, "lpstat", "-v", q.Name)
	return strings.TrimSpace(string(out)), err
}

// UninstallCUPS removes the queue; ErrNotInstalled when there is none.
func UninstallCUPS(ctx context.Context, run Runner, name string) error {
	if err := validName(name, "linux"); err != nil {
		return err
	}
	if _, err := run(ctx, "lpstat", "-p", name); err != nil {
		return ErrNotInstalled
	}
	_, err := run(ctx, "lpadmin", "-x", name)
	return err
}

// --- Windows ------------------------------------------------------------------------------

// WindowsDriver is built into Windows 10, 11 and Server 2016 and later: it renders what is
// printed to PDF and, on a TCP/IP port, sends that PDF to the port. No third-party driver.
const WindowsDriver = "Microsoft Print to PDF"

// WindowsPortName is the Standard TCP/IP port made for a queue.
func (q Queue) WindowsPortName() string {
	return "mssbridge_" + strings.NewReplacer(":", "-", "[", "", "]", "").Replace(q.Host) + "_" + strconv.Itoa(q.Port)
}

// psQuote is a PowerShell single-quoted string. Names were validated (no quote characters);
// doubling the quote is what PowerShell's grammar asks anyway.
func psQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// WindowsInstallScript adds a Standard TCP/IP port (raw, port Port) pointing at the listener
// and a printer on it with the built-in PDF driver; run again, it updates the printer.
func WindowsInstallScript(q Queue) string {
	return strings.Join([]string{
		"$ErrorActionPreference = 'Stop'",
		"$name = " + psQuote(q.Name),
		"$port = " + psQuote(q.WindowsPortName()),
		"$driver = " + psQuote(WindowsDriver),
		"if (-not (Get-PrinterDriver -Name $driver -ErrorAction SilentlyContinue)) { throw \"mssbridge: the driver '$driver' is missing: enable the Windows feature Printing-PrintToPDFServices-Features\" }",
		"if (-not (Get-PrinterPort -Name $port -ErrorAction SilentlyContinue)) { Add-PrinterPort -Name $port -PrinterHostAddress " + psQuote(q.Host) + " -PortNumber " + strconv.Itoa(q.Port) + " }",
		"if (Get-Printer -Name $name -ErrorAction SilentlyContinue) { Set-Printer -Name $name -DriverName $driver -PortName $port } else { Add-Printer -Name $name -DriverName $driver -PortName $port -Comment 'mssbridge (MSSante)' }",
		"Get-Printer -Name $name | ForEach-Object { \"$($_.Name) -> $($_.PortName) ($($_.DriverName))\" }",
	}, "\n")
}

// WindowsUninstallScript removes the printer, then its port when it is one of ours and no
// other printer uses it. It prints "absent" when there was no such printer.
func WindowsUninstallScript(name string) string {
	return strings.Join([]string{
		"$ErrorActionPreference = 'Stop'",
		"$name = " + psQuote(name),
		"$p = Get-Printer -Name $name -ErrorAction SilentlyContinue",
		"if (-not $p) { 'absent'; exit 0 }",
		"$port = $p.PortName",
		"Remove-Printer -Name $name",
		"if ($port -like 'mssbridge_*' -and -not (Get-Printer | Where-Object { $_.PortName -eq $port })) {",
		"  try { Remove-PrinterPort -Name $port } catch { Write-Warning \"port ${port}: $_ (removed at the next restart of the spooler)\" }",
		"}",
		"'removed'",
	}, "\n")
}

// PowerShellArgs runs a script with no profile and no prompt. The script goes base64 in
// UTF-16LE (-EncodedCommand), so no character of a name is ever interpreted by a command line.
func PowerShellArgs(script string) []string {
	u := utf16.Encode([]rune(script))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		b[2*i], b[2*i+1] = byte(c), byte(c>>8)
	}
	return []string{"-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass",
		"-EncodedCommand", base64.StdEncoding.EncodeToString(b)}
}

// InstallWindows runs the install script with powershell.exe (administrator rights needed).
func InstallWindows(ctx context.Context, run Runner, q Queue) (string, error) {
	if err := q.Validate("windows"); err != nil {
		return "", err
	}
	out, err := run(ctx, "powershell.exe", PowerShellArgs(WindowsInstallScript(q))...)
	return strings.TrimSpace(string(out)), err
}

// UninstallWindows runs the uninstall script; ErrNotInstalled when there was no such printer.
func UninstallWindows(ctx context.Context, run Runner, name string) error {
	if err := validName(name, "windows"); err != nil {
		return err
	}
	out, err := run(ctx, "powershell.exe", PowerShellArgs(WindowsUninstallScript(name))...)
	if err != nil {
		return err
	}
	if strings.TrimSpace(string(out)) == "absent" {
		return ErrNotInstalled
	}
	return nil
}
