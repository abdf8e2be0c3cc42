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
	"path/filepath"
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
// becomes PDF, wrapped in PJL, and goes to the socket. It is the fallback driver when our own
// (CUPSPPD) cannot be used; plain text then arrives as texttopdf's PDF, whose fonts have no
// Unicode map: the bridge cannot read it and holds the job.
const genericPDFPPD = "Generic-PDF_Printer-PDF.ppd"

// ppdDirs are where cups-filters installs its PPD files (Debian, Fedora, /usr/local builds,
// Homebrew), for a CUPS whose lpinfo does not list it.
var ppdDirs = []string{
	"/usr/share/ppd/cupsfilters", "/usr/share/cups/model", "/usr/share/cups/model/cupsfilters",
	"/usr/local/share/ppd/cupsfilters", "/opt/homebrew/share/ppd/cupsfilters",
}

// Where CUPS is on this machine; tests point these at a temporary folder.
var (
	// cupsServerBins are the usual ServerBin folders (Debian and Fedora, macOS, /usr/local
	// builds); cups-files.conf may name another, which is looked at first.
	cupsServerBins = []string{"/usr/lib/cups", "/usr/libexec/cups", "/usr/local/lib/cups", "/usr/local/libexec/cups"}
	cupsFilesConf  = "/etc/cups/cups-files.conf"
	cupsPPDDir     = "/etc/cups/ppd" // the PPD of each queue, NAME.ppd
)

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

// TextFilterName is our CUPS filter for plain text, installed in CUPS's filter folder.
const TextFilterName = "mssbridge-text"

// TextFilterScript passes plain text to the bridge as it was printed, inside the same PJL
// envelope pdftopdf writes around a PDF, so that the job's title and user are kept. CUPS calls
// a filter with: job-id user title copies options [file]. Quotes and control characters are
// taken out of the title and the user: they must not end the PJL string early. Copies are
// ignored: the bridge sends a document once.
const TextFilterScript = `#!/bin/sh
# mssbridge-text: CUPS filter of the print queues "mssbridge printer install" makes; removed by
# "mssbridge printer uninstall". Plain text reaches the bridge unchanged, in a PJL envelope
# carrying the job's title and user.
label() { printf '%s' "$1" | LC_ALL=C tr -d '\000-\037"\177'; }
printf '\033%%-12345X@PJL JOB NAME = "%s"\r\n@PJL SET USERNAME = "%s"\r\n@PJL ENTER LANGUAGE = TEXT\r\n' "$(label "$3")" "$(label "$2")"
if [ -n "$6" ]; then cat -- "$6" || exit 1; else cat || exit 1; fi
printf '\033%%-12345X@PJL EOJ\r\n\033%%-12345X'
`

// CUPSPPD is the driver of the queue: a PDF printer, as cups-filters' generic one, except that
// plain text is not turned into PDF by CUPS (texttopdf embeds fonts without a Unicode map,
// whose text no reader can take back) but handed to textFilter, or sent as it is when
// textFilter is "-"; the bridge lays it out itself. Everything else a desktop prints
// (PostScript, images, office documents) still becomes PDF through cups-filters, and a PDF
// gets pdftopdf's PJL envelope with the job's name and user. A4 by default, no margins (a
// virtual printer: nothing is shrunk), and copies left to the "printer" (the bridge sends one).
func CUPSPPD(textFilter string) string {
	sizes := []struct{ name, pjl, dim string }{
		{"A4", "A4", "595 842"}, {"A3", "A3", "842 1191"}, {"A5", "A5", "420 595"},
		{"Letter", "LETTER", "612 792"}, {"Legal", "LEGAL", "612 1008"},
	}
	var b strings.Builder
	b.WriteString(`*PPD-Adobe: "4.3"
*% mssbridge: the print queue "mssbridge printer install" makes. PDF, and whatever CUPS turns
*% into PDF, goes to the bridge's print listener as PDF; plain text goes as it was printed.
*FormatVersion: "4.3"
*FileVersion: "1.0"
*LanguageVersion: English
*LanguageEncoding: ISOLatin1
*PCFileName: "MSSBRIDG.PPD"
*Manufacturer: "mssbridge"
*Product: "(mssbridge)"
*ModelName: "mssbridge"
*ShortNickName: "mssbridge MSSante"
*NickName: "mssbridge MSSante (PDF, plain text)"
*PSVersion: "(3010.000) 0"
*LanguageLevel: "3"
*ColorDevice: True
*DefaultColorSpace: RGB
*FileSystem: False
*Throughput: "100"
*LandscapeOrientation: Plus90
*TTRasterizer: Type42
*cupsVersion: 2.2
*cupsManualCopies: False
*cupsFilter2: "application/vnd.cups-pdf application/pdf 0 -"
`)
	fmt.Fprintf(&b, "*cupsFilter2: \"text/plain text/plain 0 %s\"\n", textFilter)
	b.WriteString(`*JCLBegin: "<1B>%-12345X@PJL JOB<0A>"
*JCLToPDFInterpreter: "@PJL ENTER LANGUAGE = PDF<0A>"
*JCLEnd: "<1B>%-12345X@PJL EOJ <0A><1B>%-12345X"
`)
	for _, kw := range []string{"PageSize", "PageRegion"} {
		title := map[string]string{"PageSize": "/Page Size", "PageRegion": ""}[kw]
		fmt.Fprintf(&b, "*JCLOpenUI *%s%s: PickOne\n*OrderDependency: 100 JCLSetup *%s\n*Default%s: A4\n", kw, title, kw, kw)
		for _, sz := range sizes {
			fmt.Fprintf(&b, "*%s %s/%s: \"@PJL SET PAPER=%s<0A>\"\n", kw, sz.name, sz.name, sz.pjl)
		}
		fmt.Fprintf(&b, "*JCLCloseUI: *%s\n", kw)
	}
	b.WriteString("*DefaultImageableArea: A4\n")
	for _, sz := range sizes {
		fmt.Fprintf(&b, "*ImageableArea %s/%s: \"0 0 %s\"\n", sz.name, sz.name, sz.dim)
	}
	b.WriteString("*DefaultPaperDimension: A4\n")
	for _, sz := range sizes {
		fmt.Fprintf(&b, "*PaperDimension %s/%s: \"%s\"\n", sz.name, sz.name, sz.dim)
	}
	b.WriteString("*DefaultFont: Courier\n*Font Courier: Standard \"(002.004S)\" Standard ROM\n")
	return b.String()
}

// cupsFilterDir is the folder where CUPS runs filters from (ServerBin/filter) when
// cups-filters is installed there (its pdftopdf, which our driver needs, is in it); "" when
// there is none.
func cupsFilterDir() string {
	dirs := cupsServerBins
	if b, err := os.ReadFile(cupsFilesConf); err == nil {
		for line := range strings.Lines(string(b)) {
			if f := strings.Fields(line); len(f) == 2 && f[0] == "ServerBin" {
				dirs = append([]string{f[1]}, dirs...)
			}
		}
	}
	for _, d := range dirs {
		fd := filepath.Join(d, "filter")
		if _, err := os.Stat(filepath.Join(fd, "pdftopdf")); err == nil {
			return fd
		}
	}
	return ""
}

// CUPSInstallArgs are lpadmin's arguments: the queue enabled and accepting (-E after -p),
// the listener as an AppSocket device, the driver, not shared on the network, and a job that
// fails to reach the bridge (stopped, restarting) retried rather than stopping the queue.
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

// InstallCUPS adds (or updates) the queue and returns what lpstat says of it, and a line for
// each thing that works less well than it should.
//
// With cups-filters, the queue gets our driver (CUPSPPD) and the text filter, both written
// through run (install, lpadmin -P) so that a dry run shows them; lpadmin keeps its own copy
// of the PPD, the temporary one is removed. The filter goes into CUPS's filter folder, which
// needs root; without it, text still reaches the bridge unchanged, only without its title and
// user.
func InstallCUPS(ctx context.Context, run Runner, q Queue) (string, error) {
	if err := q.Validate("linux"); err != nil {
		return "", err
	}
	var notes []string
	var m Model
	if fd := cupsFilterDir(); fd != "" {
		tmp, err := os.MkdirTemp("", "mssbridge-cups-")
		if err != nil {
			return "", fmt.Errorf("printer driver: %w", err)
		}
		defer os.RemoveAll(tmp)
		filter := TextFilterName
		if err := installTextFilter(ctx, run, tmp, fd); err != nil {
			filter = "-"
			notes = append(notes, fmt.Sprintf("plain text will reach the bridge without its job name and user: the CUPS filter %s was not installed (%v)", TextFilterName, err))
		}
		m = Model{File: filepath.Join(tmp, "mssbridge.ppd")}
		if err := os.WriteFile(m.File, []byte(CUPSPPD(filter)), 0o600); err != nil {
			return "", fmt.Errorf("printer driver: %w", err)
		}
	} else {
		var err error
		m, err = FindCUPSModel(ctx, run)
		switch {
		case err == nil:
			notes = append(notes, "cups-filters' pdftopdf was not found in CUPS's filter folder: the generic PDF driver is used, and a plain text file printed will be held as unreadable")
		case runtime.GOOS == "darwin":
			// macOS has no cups-filters: a raw queue passes on what applications print, which on
			// macOS is PDF; a text file given to lp arrives as text, which the bridge lays out.
			m = Model{Name: "raw"}
		default:
			return "", err
		}
	}
	if _, err := run(ctx, "lpadmin", CUPSInstallArgs(q, m)...); err != nil {
		return "", err
	}
	out, err := run(ctx, "lpstat", "-v", q.Name)
	return strings.Join(append([]string{strings.TrimSpace(string(out))}, notes...), "\n"), err
}

// installTextFilter puts the text filter into CUPS's filter folder. It must be executable by
// CUPS's filter user (lp), hence 0755, unlike the bridge's own files.
func installTextFilter(ctx context.Context, run Runner, tmp, filterDir string) error {
	src := filepath.Join(tmp, TextFilterName)
	if err := os.WriteFile(src, []byte(TextFilterScript), 0o600); err != nil {
		return err
	}
	_, err := run(ctx, "install", "-m", "0755", src, filepath.Join(filterDir, TextFilterName))
	return err
}

// UninstallCUPS removes the queue; ErrNotInstalled when there is none. The text filter goes
// too once no other queue uses it.
func UninstallCUPS(ctx context.Context, run Runner, name string) error {
	if err := validName(name, "linux"); err != nil {
		return err
	}
	if _, err := run(ctx, "lpstat", "-p", name); err != nil {
		return ErrNotInstalled
	}
	if _, err := run(ctx, "lpadmin", "-x", name); err != nil {
		return err
	}
	removeTextFilter(ctx, run, name)
	return nil
}

// removeTextFilter removes the text filter unless a queue other than name has it in its PPD.
// When that cannot be known (the PPD folder unreadable), the filter stays: a few harmless
// lines left behind are better than another mssbridge queue losing its text printing. A
// failed removal is not an error of the uninstall either, for the same reason.
func removeTextFilter(ctx context.Context, run Runner, name string) {
	fd := cupsFilterDir()
	if fd == "" {
		return
	}
	path := filepath.Join(fd, TextFilterName)
	if _, err := os.Stat(path); err != nil {
		return
	}
	entries, err := os.ReadDir(cupsPPDDir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if e.Name() == name+".ppd" || !strings.HasSuffix(e.Name(), ".ppd") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(cupsPPDDir, e.Name()))
		if err != nil || bytes.Contains(b, []byte(TextFilterName)) {
			return
		}
	}
	_, _ = run(ctx, "rm", "-f", path)
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
