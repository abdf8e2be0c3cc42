package printer

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"unicode/utf16"
)

func TestQueueFor(t *testing.T) {
	for _, tc := range []struct {
		listen string
		want   Queue
		err    bool
	}{
		{"127.0.0.1:9100", Queue{"p", "127.0.0.1", 9100}, false},
		{"0.0.0.0:9101", Queue{"p", "127.0.0.1", 9101}, false},
		{":9102", Queue{"p", "127.0.0.1", 9102}, false},
		{"[::]:9103", Queue{"p", "127.0.0.1", 9103}, false},
		{"[::1]:9104", Queue{"p", "::1", 9104}, false},
		{"srv-mss.ch.local:9100", Queue{"p", "srv-mss.ch.local", 9100}, false},
		{"127.0.0.1", Queue{}, true},
		{"127.0.0.1:0", Queue{}, true},
		{"127.0.0.1:x", Queue{}, true},
	} {
		got, err := QueueFor("p", tc.listen)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("QueueFor(%q) = %+v, %v; want %+v, error %v", tc.listen, got, err, tc.want, tc.err)
		}
	}
}

func TestQueueValidate(t *testing.T) {
	for _, tc := range []struct {
		q       Queue
		goos    string
		wantErr string
	}{
		{Queue{"mssbridge-test", "127.0.0.1", 9100}, "linux", ""},
		{Queue{"MSSante_Bio.1", "::1", 9100}, "darwin", ""},
		{Queue{"MSSanté Biologie", "127.0.0.1", 9100}, "windows", ""},
		{Queue{"MSSanté Biologie", "127.0.0.1", 9100}, "linux", "not allowed"},
		{Queue{"a b", "127.0.0.1", 9100}, "linux", "not allowed"},
		{Queue{"x'; Remove-Item C:\\ -Recurse; '", "127.0.0.1", 9100}, "windows", "not allowed"},
		{Queue{"x’y", "127.0.0.1", 9100}, "windows", "not allowed"}, // PowerShell takes ’ for a quote
		{Queue{"$(calc)", "127.0.0.1", 9100}, "windows", "not allowed"},
		{Queue{"a\nb", "127.0.0.1", 9100}, "windows", "not allowed"},
		{Queue{"", "127.0.0.1", 9100}, "linux", "1 to 127"},
		{Queue{strings.Repeat("a", 128), "127.0.0.1", 9100}, "linux", "1 to 127"},
		{Queue{"p", "127.0.0.1; rm -rf /", 9100}, "linux", "not an IP address"},
		{Queue{"p", "-oProxyCommand", 9100}, "linux", "not an IP address"},
		{Queue{"p", "127.0.0.1", 70000}, "linux", "out of range"},
	} {
		err := tc.q.Validate(tc.goos)
		if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("%+v on %s: %v, want %q", tc.q, tc.goos, err, tc.wantErr)
		}
	}
}

func TestCUPSInstallArgs(t *testing.T) {
	q := Queue{"mssbridge-test", "127.0.0.1", 9100}
	got := strings.Join(CUPSInstallArgs(q, Model{Name: "lsb/usr/cupsfilters/Generic-PDF_Printer-PDF.ppd"}), " ")
	want := "-p mssbridge-test -E -v socket://127.0.0.1:9100 -m lsb/usr/cupsfilters/Generic-PDF_Printer-PDF.ppd " +
		"-D mssbridge (MSSanté) -L mssbridge -o printer-is-shared=false -o printer-error-policy=retry-job"
	if got != want {
		t.Errorf("lpadmin %s\nwant    %s", got, want)
	}
	got = strings.Join(CUPSInstallArgs(Queue{"p", "::1", 9100}, Model{File: "/usr/share/ppd/cupsfilters/Generic-PDF_Printer-PDF.ppd"}), " ")
	if !strings.HasPrefix(got, "-p p -E -v socket://[::1]:9100 -P /usr/share/ppd/cupsfilters/Generic-PDF_Printer-PDF.ppd ") {
		t.Errorf("lpadmin %s", got)
	}
}

// fakeRun answers like the CUPS tools, recording the calls.
type fakeRun struct {
	calls   []string
	answers map[string]string // command line prefix -> output
	fails   map[string]bool
	// files are the files named on the command lines, read when the command ran (the
	// temporary PPD and filter are gone once InstallCUPS returns).
	files map[string]string
}

func (f *fakeRun) run(_ context.Context, name string, args ...string) ([]byte, error) {
	line := strings.Join(append([]string{name}, args...), " ")
	f.calls = append(f.calls, line)
	for _, a := range args {
		if b, err := os.ReadFile(a); err == nil {
			if f.files == nil {
				f.files = map[string]string{}
			}
			f.files[a] = string(b)
		}
	}
	for p := range f.fails {
		if strings.HasPrefix(line, p) {
			return nil, errors.New(p + ": failed")
		}
	}
	for p, out := range f.answers {
		if strings.HasPrefix(line, p) {
			return []byte(out), nil
		}
	}
	return nil, nil
}

// fakeCUPS points the package at a CUPS laid out in a temporary folder, with cups-filters'
// pdftopdf or without it, and returns its filter and PPD folders.
func fakeCUPS(t *testing.T, withFilters bool) (filterDir, ppdDir string) {
	t.Helper()
	root := t.TempDir()
	filterDir, ppdDir = filepath.Join(root, "lib", "filter"), filepath.Join(root, "ppd")
	for _, d := range []string{filterDir, ppdDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if withFilters {
		if err := os.WriteFile(filepath.Join(filterDir, "pdftopdf"), nil, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	saved := []any{cupsServerBins, cupsFilesConf, cupsPPDDir, ppdDirs}
	t.Cleanup(func() {
		cupsServerBins, cupsFilesConf, cupsPPDDir, ppdDirs = saved[0].([]string), saved[1].(string), saved[2].(string), saved[3].([]string)
	})
	cupsServerBins, cupsFilesConf, cupsPPDDir = []string{filepath.Join(root, "lib")}, filepath.Join(root, "cups-files.conf"), ppdDir
	ppdDirs = []string{t.TempDir()}
	return filterDir, ppdDir
}

func TestFindCUPSModel(t *testing.T) {
	lpinfo := "drv:///sample.drv/generic.ppd Generic PostScript Printer\n" +
		"lsb/usr/cupsfilters/Generic-PDF_Printer-PDF.ppd Generic PDF Printer\nraw Raw Queue\n"
	f := &fakeRun{answers: map[string]string{"lpinfo -m": lpinfo}}
	m, err := FindCUPSModel(context.Background(), f.run)
	if err != nil || m.Name != "lsb/usr/cupsfilters/Generic-PDF_Printer-PDF.ppd" {
		t.Errorf("model %+v, %v", m, err)
	}
	f = &fakeRun{answers: map[string]string{"lpinfo -m": "raw Raw Queue\n"}}
	saved := ppdDirs
	t.Cleanup(func() { ppdDirs = saved })
	ppdDirs = []string{t.TempDir()}
	if _, err := FindCUPSModel(context.Background(), f.run); err == nil || !strings.Contains(err.Error(), "cups-filters") {
		t.Errorf("no driver: %v", err)
	}
}

func TestCUPSPPD(t *testing.T) {
	for _, filter := range []string{TextFilterName, "-"} {
		ppd := CUPSPPD(filter)
		for _, want := range []string{
			// Text straight to the socket (through the filter or as it is), PDF after
			// pdftopdf, which writes the PJL envelope with the job's name and user.
			`*cupsFilter2: "text/plain text/plain 0 ` + filter + `"` + "\n",
			`*cupsFilter2: "application/vnd.cups-pdf application/pdf 0 -"` + "\n",
			`*JCLBegin: "<1B>%-12345X@PJL JOB<0A>"`,
			`*JCLToPDFInterpreter: "@PJL ENTER LANGUAGE = PDF<0A>"`,
			"*DefaultPageSize: A4\n",
			`*ImageableArea A4/A4: "0 0 595 842"`,
		} {
			if !strings.Contains(ppd, want) {
				t.Errorf("PPD (filter %s) lacks %q", filter, want)
			}
		}
		// With one cupsFilter2 line, CUPS ignores every cupsFilter line: there must be none,
		// nor a filter for a type that is not ours to take as it is.
		if strings.Contains(ppd, "*cupsFilter:") || strings.Count(ppd, "*cupsFilter2:") != 2 {
			t.Errorf("PPD filters:\n%s", ppd)
		}
		if tool, err := exec.LookPath("cupstestppd"); err == nil {
			path := filepath.Join(t.TempDir(), "mssbridge.ppd")
			if err := os.WriteFile(path, []byte(ppd), 0o600); err != nil {
				t.Fatal(err)
			}
			// -I filters: the filter need not be installed on this machine for the PPD to be right.
			out, err := exec.Command(tool, "-q", "-I", "filters", path).CombinedOutput()
			if err != nil {
				t.Errorf("cupstestppd refuses the PPD: %v\n%s", err, out)
			}
		}
	}
}

// The text filter, run as CUPS runs it: the text comes out as it went in, inside an envelope
// that Parse reads back, whatever the title holds.
func TestTextFilterScript(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	dir := t.TempDir()
	script := filepath.Join(dir, TextFilterName)
	if err := os.WriteFile(script, []byte(TextFilterScript), 0o700); err != nil {
		t.Fatal(err)
	}
	text := []byte("  Cher confr\xe8re,\n#MSS-TO: dr.martin@hopital-test.mssante.fr\n\fpage 2 \"$(id)\"")
	doc := filepath.Join(dir, "d00012-001")
	if err := os.WriteFile(doc, text, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, title, user string
		args              []string // after the options
		stdin             bool
		wantJob, wantUser string
	}{
		{name: "file", title: "Compte rendu Hélène.txt", user: "msecretaire", args: []string{doc},
			wantJob: "Compte rendu Hélène.txt", wantUser: "msecretaire"},
		{name: "stdin", title: "(stdin)", user: "root", stdin: true, wantJob: "(stdin)", wantUser: "root"},
		{name: "hostile title", title: "a\"\r\n@PJL SET USERNAME = \"x\"\n\x1b%-12345X$(touch pwned)`id`", user: "u\"ser", args: []string{doc},
			wantJob: "a@PJL SET USERNAME = x%-12345X$(touch pwned)`id`", wantUser: "user"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(sh, append([]string{script, "12", tc.user, tc.title, "2", "media=A4"}, tc.args...)...)
			cmd.Dir = dir
			if tc.stdin {
				cmd.Stdin = bytes.NewReader(text)
			}
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("filter: %v", err)
			}
			s := Parse(out)
			if s.Format != Text || !bytes.Equal(s.Body, text) {
				t.Errorf("format %v, body %q; want the text as it was", s.Format, s.Body)
			}
			if s.JobName != tc.wantJob || s.User != tc.wantUser || s.Language != "TEXT" {
				t.Errorf("job %q user %q language %q; want %q %q TEXT", s.JobName, s.User, s.Language, tc.wantJob, tc.wantUser)
			}
			if _, err := os.Stat(filepath.Join(dir, "pwned")); err == nil {
				t.Error("the title was run by the shell")
			}
		})
	}
	// A file CUPS cannot give: the filter fails, and CUPS retries the job.
	if err := exec.Command(sh, script, "12", "u", "t", "1", "", filepath.Join(dir, "absent")).Run(); err == nil {
		t.Error("the filter succeeded without its file")
	}
}

func TestCUPSFilterDir(t *testing.T) {
	filterDir, _ := fakeCUPS(t, true)
	if got := cupsFilterDir(); got != filterDir {
		t.Errorf("filter dir %q, want %q", got, filterDir)
	}
	// cups-files.conf's ServerBin comes first.
	other := t.TempDir()
	if err := os.MkdirAll(filepath.Join(other, "filter"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(other, "filter", "pdftopdf"), nil, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cupsFilesConf, []byte("# conf\nServerBin "+other+"\nLogLevel warn\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := cupsFilterDir(); got != filepath.Join(other, "filter") {
		t.Errorf("filter dir %q, want the one cups-files.conf names", got)
	}
	fakeCUPS(t, false)
	if got := cupsFilterDir(); got != "" {
		t.Errorf("filter dir %q without pdftopdf", got)
	}
}

func TestInstallUninstallCUPS(t *testing.T) {
	ctx := context.Background()
	lpstat := map[string]string{"lpstat -v": "device for q1: socket://127.0.0.1:9100\n"}
	t.Run("our driver and the text filter", func(t *testing.T) {
		filterDir, _ := fakeCUPS(t, true)
		f := &fakeRun{answers: lpstat}
		out, err := InstallCUPS(ctx, f.run, Queue{"q1", "127.0.0.1", 9100})
		if err != nil || out != "device for q1: socket://127.0.0.1:9100" {
			t.Fatalf("install: %q, %v", out, err)
		}
		if len(f.calls) != 3 {
			t.Fatalf("calls %q", f.calls)
		}
		inst := strings.Fields(f.calls[0])
		if len(inst) != 5 || strings.Join(inst[:3], " ") != "install -m 0755" || inst[4] != filepath.Join(filterDir, TextFilterName) {
			t.Fatalf("filter install: %q", f.calls[0])
		}
		if f.files[inst[3]] != TextFilterScript {
			t.Errorf("the filter installed is not the script:\n%s", f.files[inst[3]])
		}
		lp := strings.Fields(f.calls[1])
		if !strings.HasPrefix(f.calls[1], "lpadmin -p q1 -E -v socket://127.0.0.1:9100 -P ") || !strings.HasSuffix(f.calls[1], " -o printer-error-policy=retry-job") {
			t.Fatalf("lpadmin: %q", f.calls[1])
		}
		ppd := lp[7]
		if f.files[ppd] != CUPSPPD(TextFilterName) {
			t.Errorf("lpadmin was given another PPD:\n%s", f.files[ppd])
		}
		if _, err := os.Stat(ppd); err == nil {
			t.Errorf("the temporary PPD %s was left behind", ppd)
		}
	})
	t.Run("filter not installable: text passes as it is", func(t *testing.T) {
		fakeCUPS(t, true)
		f := &fakeRun{answers: lpstat, fails: map[string]bool{"install ": true}}
		out, err := InstallCUPS(ctx, f.run, Queue{"q1", "127.0.0.1", 9100})
		if err != nil || !strings.Contains(out, "without its job name and user") {
			t.Fatalf("install: %q, %v", out, err)
		}
		lp := strings.Fields(f.calls[1])
		if f.files[lp[7]] != CUPSPPD("-") {
			t.Errorf("PPD:\n%s", f.files[lp[7]])
		}
	})
	t.Run("no pdftopdf: the generic driver", func(t *testing.T) {
		fakeCUPS(t, false)
		f := &fakeRun{answers: map[string]string{"lpinfo -m": "lsb/usr/cupsfilters/Generic-PDF_Printer-PDF.ppd Generic PDF Printer\n",
			"lpstat -v": lpstat["lpstat -v"]}}
		out, err := InstallCUPS(ctx, f.run, Queue{"q1", "127.0.0.1", 9100})
		if err != nil || !strings.Contains(out, "held as unreadable") {
			t.Fatalf("install: %q, %v", out, err)
		}
		if !slices.ContainsFunc(f.calls, func(c string) bool {
			return strings.HasPrefix(c, "lpadmin -p q1 -E -v socket://127.0.0.1:9100 -m lsb/")
		}) || slices.ContainsFunc(f.calls, func(c string) bool { return strings.HasPrefix(c, "install ") }) {
			t.Errorf("calls %q", f.calls)
		}
	})
	t.Run("no cups-filters at all", func(t *testing.T) {
		if runtime.GOOS == "darwin" {
			t.Skip("macOS makes a raw queue")
		}
		fakeCUPS(t, false)
		f := &fakeRun{answers: map[string]string{"lpinfo -m": "raw Raw Queue\n"}}
		if _, err := InstallCUPS(ctx, f.run, Queue{"q1", "127.0.0.1", 9100}); err == nil || !strings.Contains(err.Error(), "cups-filters") {
			t.Errorf("install without cups-filters: %v", err)
		}
		if slices.ContainsFunc(f.calls, func(c string) bool { return strings.HasPrefix(c, "lpadmin") }) {
			t.Errorf("calls %q", f.calls)
		}
	})

	t.Run("uninstall", func(t *testing.T) {
		filterDir, ppdDir := fakeCUPS(t, true)
		filter := filepath.Join(filterDir, TextFilterName)
		write := func(path, s string) {
			if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		write(filter, TextFilterScript)
		write(filepath.Join(ppdDir, "q1.ppd"), CUPSPPD(TextFilterName))
		write(filepath.Join(ppdDir, "q2.ppd"), CUPSPPD(TextFilterName))
		write(filepath.Join(ppdDir, "office.ppd"), "*cupsFilter2: \"application/vnd.cups-pdf application/pdf 0 -\"\n")
		// q2 still uses the filter: it stays.
		f := &fakeRun{}
		if err := UninstallCUPS(ctx, f.run, "q1"); err != nil {
			t.Fatalf("uninstall: %v", err)
		}
		if strings.Join(f.calls, "; ") != "lpstat -p q1; lpadmin -x q1" {
			t.Errorf("calls %q", f.calls)
		}
		// The last queue of ours: the filter goes with it.
		os.Remove(filepath.Join(ppdDir, "q1.ppd"))
		f = &fakeRun{}
		if err := UninstallCUPS(ctx, f.run, "q2"); err != nil {
			t.Fatalf("uninstall: %v", err)
		}
		if strings.Join(f.calls, "; ") != "lpstat -p q2; lpadmin -x q2; rm -f "+filter {
			t.Errorf("calls %q", f.calls)
		}
		f = &fakeRun{fails: map[string]bool{"lpstat -p": true}}
		if err := UninstallCUPS(ctx, f.run, "q1"); !errors.Is(err, ErrNotInstalled) {
			t.Errorf("uninstall of a missing queue: %v", err)
		}
		f = &fakeRun{fails: map[string]bool{"lpadmin -x": true}}
		if err := UninstallCUPS(ctx, f.run, "q2"); err == nil || slices.ContainsFunc(f.calls, func(c string) bool { return strings.HasPrefix(c, "rm ") }) {
			t.Errorf("a failed lpadmin -x: %v, calls %q", err, f.calls)
		}
		f = &fakeRun{}
		if _, err := InstallCUPS(ctx, f.run, Queue{"bad name", "127.0.0.1", 9100}); err == nil || len(f.calls) > 0 {
			t.Errorf("a bad name reached lpadmin: %v %q", err, f.calls)
		}
	})
}

func TestWindowsScripts(t *testing.T) {
	q := Queue{"MSSanté Biologie", "127.0.0.1", 9100}
	want := `$ErrorActionPreference = 'Stop'
$name = 'MSSanté Biologie'
$port = 'mssbridge_127.0.0.1_9100'
$driver = 'Microsoft Print to PDF'
if (-not (Get-PrinterDriver -Name $driver -ErrorAction SilentlyContinue)) { throw "mssbridge: the driver '$driver' is missing: enable the Windows feature Printing-PrintToPDFServices-Features" }
if (-not (Get-PrinterPort -Name $port -ErrorAction SilentlyContinue)) { Add-PrinterPort -Name $port -PrinterHostAddress '127.0.0.1' -PortNumber 9100 }
if (Get-Printer -Name $name -ErrorAction SilentlyContinue) { Set-Printer -Name $name -DriverName $driver -PortName $port } else { Add-Printer -Name $name -DriverName $driver -PortName $port -Comment 'mssbridge (MSSante)' }
Get-Printer -Name $name | ForEach-Object { "$($_.Name) -> $($_.PortName) ($($_.DriverName))" }`
	if got := WindowsInstallScript(q); got != want {
		t.Errorf("install script:\n%s\nwant:\n%s", got, want)
	}
	wantUn := `$ErrorActionPreference = 'Stop'
$name = 'MSSanté Biologie'
$p = Get-Printer -Name $name -ErrorAction SilentlyContinue
if (-not $p) { 'absent'; exit 0 }
$port = $p.PortName
Remove-Printer -Name $name
if ($port -like 'mssbridge_*' -and -not (Get-Printer | Where-Object { $_.PortName -eq $port })) {
  try { Remove-PrinterPort -Name $port } catch { Write-Warning "port ${port}: $_ (removed at the next restart of the spooler)" }
}
'removed'`
	if got := WindowsUninstallScript(q.Name); got != wantUn {
		t.Errorf("uninstall script:\n%s\nwant:\n%s", got, wantUn)
	}
	if got := (Queue{"p", "::1", 9100}).WindowsPortName(); got != "mssbridge_--1_9100" {
		t.Errorf("IPv6 port name %q", got)
	}

	// The command line: no profile, no prompt, the script base64 in UTF-16LE.
	args := PowerShellArgs(want)
	if strings.Join(args[:5], " ") != "-NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand" || len(args) != 6 {
		t.Fatalf("args %q", args)
	}
	raw, err := base64.StdEncoding.DecodeString(args[5])
	if err != nil || len(raw)%2 != 0 {
		t.Fatal(err)
	}
	u := make([]uint16, len(raw)/2)
	for i := range u {
		u[i] = uint16(raw[2*i]) | uint16(raw[2*i+1])<<8
	}
	if string(utf16.Decode(u)) != want {
		t.Error("-EncodedCommand does not decode to the script")
	}
}

func TestInstallUninstallWindows(t *testing.T) {
	f := &fakeRun{answers: map[string]string{"powershell.exe": "absent\r\n"}}
	if err := UninstallWindows(context.Background(), f.run, "MSSanté"); !errors.Is(err, ErrNotInstalled) {
		t.Errorf("uninstall of a missing printer: %v", err)
	}
	f = &fakeRun{answers: map[string]string{"powershell.exe": "removed\r\n"}}
	if err := UninstallWindows(context.Background(), f.run, "MSSanté"); err != nil {
		t.Errorf("uninstall: %v", err)
	}
	if _, err := InstallWindows(context.Background(), f.run, Queue{"a'b", "127.0.0.1", 9100}); err == nil {
		t.Error("a name with a quote was accepted")
	}
	if len(f.calls) != 1 {
		t.Errorf("calls %q", f.calls)
	}
}
