package printer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"
)

// ErrNoGhostscript means PostScript arrived and no Ghostscript was found to convert it.
var ErrNoGhostscript = errors.New("Ghostscript not found")

// FindGhostscript returns the Ghostscript command line program: gs on PATH (gswin64c or
// gswin32c on Windows, where the installer does not put it on PATH, so the usual
// "%ProgramFiles%\gs\gs*\bin" folders are looked at too, the newest version first).
func FindGhostscript() (string, error) {
	names := []string{"gs"}
	if runtime.GOOS == "windows" {
		names = []string{"gswin64c", "gswin32c", "gs"}
	}
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p, nil
		}
	}
	if runtime.GOOS == "windows" {
		for _, env := range []string{"ProgramFiles", "ProgramFiles(x86)"} {
			root := os.Getenv(env)
			if root == "" {
				continue
			}
			for _, n := range []string{"gswin64c.exe", "gswin32c.exe"} {
				found, _ := filepath.Glob(filepath.Join(root, "gs", "gs*", "bin", n))
				sort.Sort(sort.Reverse(sort.StringSlice(found)))
				if len(found) > 0 {
					return found[0], nil
				}
			}
		}
	}
	return "", ErrNoGhostscript
}

// ghostscriptArgs is the conversion: -dSAFER (no file access beyond the job's own, also the
// default since Ghostscript 9.50), batch mode, the pdfwrite device. Pages keep the orientation
// the driver gave them.
func ghostscriptArgs(in, out string) []string {
	return []string{
		"-q", "-dSAFER", "-dBATCH", "-dNOPAUSE", "-dNOINTERPOLATE",
		"-sDEVICE=pdfwrite", "-dAutoRotatePages=/None",
		"-sOutputFile=" + out, "-f", in,
	}
}

// toPDF converts a PostScript document with Ghostscript, in a private temporary folder removed
// afterwards, within timeout and with the output capped at maxOut bytes.
func toPDF(ctx context.Context, gs string, ps []byte, timeout time.Duration, maxOut int64) ([]byte, error) {
	dir, err := os.MkdirTemp("", "mssbridge-print-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	in, out := filepath.Join(dir, "job.ps"), filepath.Join(dir, "job.pdf")
	if err := os.WriteFile(in, ps, 0o600); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, gs, ghostscriptArgs(in, out)...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("Ghostscript: no result after %s", timeout)
		}
		return nil, fmt.Errorf("Ghostscript: %v: %s", err, lastLine(stderr.String()))
	}
	fi, err := os.Stat(out)
	if err != nil {
		return nil, fmt.Errorf("Ghostscript wrote no PDF: %s", lastLine(stderr.String()))
	}
	if fi.Size() > maxOut {
		return nil, fmt.Errorf("Ghostscript's PDF is %d bytes, over the %d-byte limit", fi.Size(), maxOut)
	}
	pdf, err := os.ReadFile(out)
	if err != nil {
		return nil, err
	}
	if !bytes.HasPrefix(pdf, []byte("%PDF-")) {
		return nil, errors.New("Ghostscript's output is not a PDF")
	}
	return pdf, nil
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	l := strings.TrimSpace(lines[len(lines)-1])
	if len(l) > 300 {
		l = l[:300]
	}
	return l
}
