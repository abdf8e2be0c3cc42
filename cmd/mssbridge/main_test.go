package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMain lets this test binary stand in for mssbridge when a command starts it again
// (compilePDFiumApart).
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == compilePDFiumCmd {
		os.Exit(runMain(os.Args[1:], env{stdout: os.Stdout, stderr: os.Stderr}))
	}
	os.Exit(m.Run())
}

func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := runMain(args, env{stdout: &out, stderr: &errb})
	return code, out.String(), errb.String()
}

func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("data_dir: /tmp/x\nboxes:\n  - id: b\n    address: a@b.mssante.fr\n    smtp: {host: smtp.example.org, security: none}\ninputs: []\nfoo: 1\n"), 0o600)
	tests := []struct {
		name     string
		args     []string
		code     int
		contains string
	}{
		{"no command", nil, 2, "usage"},
		{"unknown command", []string{"frobnicate"}, 2, "unknown command"},
		{"version", []string{"version"}, 0, "mssbridge"},
		{"missing config", []string{"check-config", "-c", filepath.Join(dir, "none.yaml")}, 2, "no such file"},
		{"bad config lists every problem with its line", []string{"check-config", "-c", bad}, 2, bad + ":7: unknown key \"foo\""},
		{"send without arguments", []string{"send"}, 2, "usage"},
		{"retry without id", []string{"retry", "-c", bad}, 2, "one job id or --failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := run(t, tt.args...)
			if code != tt.code || !strings.Contains(out+errs, tt.contains) {
				t.Errorf("exit %d (want %d), output %q lacks %q", code, tt.code, out+errs, tt.contains)
			}
		})
	}
}

func TestParseInterspersed(t *testing.T) {
	fs := newFlags("t", env{stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}})
	to := fs.String("to", "", "")
	pos, err := parseInterspersed(fs, []string{"ID1", "--to", "a@b.mssante.fr", "x"})
	if err != nil || *to != "a@b.mssante.fr" || strings.Join(pos, ",") != "ID1,x" {
		t.Errorf("pos %v to %q err %v", pos, *to, err)
	}
}
