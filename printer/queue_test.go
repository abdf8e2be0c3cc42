package printer

import (
	"context"
	"encoding/base64"
	"errors"
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
}

func (f *fakeRun) run(_ context.Context, name string, args ...string) ([]byte, error) {
	line := strings.Join(append([]string{name}, args...), " ")
	f.calls = append(f.calls, line)
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

func TestInstallUninstallCUPS(t *testing.T) {
	f := &fakeRun{
		answers: map[string]string{"lpinfo -m": "lsb/usr/cupsfilters/Generic-PDF_Printer-PDF.ppd Generic PDF Printer\n",
			"lpstat -v": "device for q1: socket://127.0.0.1:9100\n"},
	}
	out, err := InstallCUPS(context.Background(), f.run, Queue{"q1", "127.0.0.1", 9100})
	if err != nil || out != "device for q1: socket://127.0.0.1:9100" {
		t.Fatalf("install: %q, %v", out, err)
	}
	if !slices.ContainsFunc(f.calls, func(c string) bool {
		return strings.HasPrefix(c, "lpadmin -p q1 -E -v socket://127.0.0.1:9100 -m lsb/")
	}) {
		t.Errorf("calls %q", f.calls)
	}
	if err := UninstallCUPS(context.Background(), f.run, "q1"); err != nil {
		t.Errorf("uninstall: %v", err)
	}
	if f.calls[len(f.calls)-1] != "lpadmin -x q1" {
		t.Errorf("last call %q", f.calls[len(f.calls)-1])
	}
	f = &fakeRun{fails: map[string]bool{"lpstat -p": true}}
	if err := UninstallCUPS(context.Background(), f.run, "q1"); !errors.Is(err, ErrNotInstalled) {
		t.Errorf("uninstall of a missing queue: %v", err)
	}
	if _, err := InstallCUPS(context.Background(), f.run, Queue{"bad name", "127.0.0.1", 9100}); err == nil || len(f.calls) > 1 {
		t.Errorf("a bad name reached lpadmin: %v %q", err, f.calls)
	}
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
