package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

type fakeChecks map[string]bool

func (f fakeChecks) FileReadable(p string) error {
	if f[p] {
		return nil
	}
	return errors.New("no such file or directory")
}

const good = `data_dir: /var/lib/mssbridge
boxes:
  - id: biologie
    address: noreply-biologie@ch-exemple.mssante.fr
    smtp:
      host: smtp.ch-exemple.mssante.fr
      port: 587
      security: starttls
      ca_file: /etc/mssbridge/ca.pem
      cert_file: /etc/mssbridge/biologie.crt
      key_file: /etc/mssbridge/biologie.key
inputs:
  - id: depot
    path: /srv/dui/export
    box: biologie
sending:
  retry_initial: 1s
  max_message_size: 10MB
`

var goodFiles = fakeChecks{"/etc/mssbridge/ca.pem": true, "/etc/mssbridge/biologie.crt": true, "/etc/mssbridge/biologie.key": true}

func TestParseGood(t *testing.T) {
	c, err := Parse("m.yaml", []byte(good), goodFiles)
	if err != nil {
		t.Fatal(err)
	}
	if c.Sending.RetryInitial.Seconds() != 1 || c.Sending.MaxMessageSize != 10e6 {
		t.Errorf("sending = %+v", c.Sending)
	}
	if c.Routing.DefaultAction != "hold" || c.Watch.Quiet != DefaultQuiet {
		t.Errorf("defaults not applied: %+v %+v", c.Routing, c.Watch)
	}
}

func TestParseProblems(t *testing.T) {
	tests := []struct {
		name, edit, want string
	}{
		{"unknown key", strings.Replace(good, "    path: /srv/dui/export", "    path: /srv/dui/export\n    colour: blue", 1), `m.yaml:15: unknown key "colour"`},
		{"missing cert file", strings.Replace(good, "/etc/mssbridge/biologie.crt", "/nope.crt", 1), "m.yaml:10: cert_file /nope.crt: no such file"},
		{"box without certificate", strings.Replace(good, "      cert_file: /etc/mssbridge/biologie.crt\n", "", 1), "m.yaml:5: box \"biologie\": smtp needs cert_file and key_file"},
		{"plaintext off loopback", strings.Replace(good, "security: starttls", "security: none", 1), "m.yaml:8: box \"biologie\": security none"},
		{"plaintext loopback ok", strings.Replace(strings.Replace(good, "security: starttls", "security: none", 1), "smtp.ch-exemple.mssante.fr", "127.0.0.1", 1), ""},
		{"same folder twice", strings.Replace(good, "sending:", "  - id: other\n    path: /srv/dui/export/\nsending:", 1), "inputs \"depot\" and \"other\" watch the same folder"},
		{"unknown box", strings.Replace(good, "    box: biologie", "    box: radiologie", 1), "m.yaml:15: input \"depot\": unknown box \"radiologie\""},
		{"bad yaml", "data_dir: [", "m.yaml:1:"},
		{"empty", "", "m.yaml:1: the file is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("m.yaml", []byte(tt.edit), goodFiles)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tt.want)
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("error is %T, want *config.Error", err)
			}
		})
	}
}

func TestParseByteSize(t *testing.T) {
	for in, want := range map[string]ByteSize{"20MB": 20e6, "1KiB": 1024, "512": 512, "1.5GB": 1.5e9} {
		got, err := ParseByteSize(in)
		if err != nil || got != want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	if _, err := ParseByteSize("lots"); err == nil {
		t.Error("want error for 'lots'")
	}
}

func TestWebListenBeyondLoopbackNeedsTLS(t *testing.T) {
	_, err := Parse("m.yaml", []byte(good+"web:\n  listen: 0.0.0.0:8025\n"), goodFiles)
	if err == nil || !strings.Contains(err.Error(), "not a loopback address") {
		t.Fatalf("err = %v", err)
	}
	if _, err := Parse("m.yaml", []byte(good+"web:\n  listen: 127.0.0.1:8025\n"), goodFiles); err != nil {
		t.Fatal(err)
	}
}

func TestKeyFileReadableByOthersRefused(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("mode bits say nothing on Windows")
	}
	dir := t.TempDir()
	for _, n := range []string{"ca.pem", "c.crt"} {
		os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o644)
	}
	os.WriteFile(filepath.Join(dir, "c.key"), []byte("x"), 0o644)
	cfg := fmt.Sprintf("data_dir: %s/data\nboxes:\n  - id: b\n    address: a@b.mssante.fr\n    smtp: {host: h, ca_file: %s/ca.pem, cert_file: %s/c.crt, key_file: %s/c.key}\ninputs: []\n", dir, dir, dir, dir)
	path := filepath.Join(dir, "m.yaml")
	os.WriteFile(path, []byte(cfg), 0o600)
	_, err := Load(path)
	if err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("err = %v, want a refusal of the world-readable key", err)
	}
	os.Chmod(filepath.Join(dir, "c.key"), 0o600)
	if _, err := Load(path); err != nil {
		t.Fatal(err)
	}
}

func TestWithin(t *testing.T) {
	for _, tc := range []struct {
		path, dir string
		want      bool
	}{
		{"/srv/data/import", "/srv/data", true},
		{"/srv/data", "/srv/data/", true},
		{"/srv/database/import", "/srv/data", false},
		{"/srv/import", "/srv/data", false},
		{"", "/srv/data", false},
	} {
		if got := Within(tc.path, tc.dir); got != tc.want {
			t.Errorf("Within(%q, %q) = %v", tc.path, tc.dir, got)
		}
	}
}
