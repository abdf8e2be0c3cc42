package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mssbridge/mssbridge/pki"
)

// status names each client certificate a box presents, the IMAP one too when it is another
// file, and warns 30 days ahead of its end.
func TestStatusWarnsOfEveryClientCertificate(t *testing.T) {
	dir := t.TempDir()
	ca, err := pki.NewCA("test CA", 24*time.Hour*400)
	if err != nil {
		t.Fatal(err)
	}
	if err := ca.WriteCA(dir); err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(dir, pki.CACertFile)
	for name, validity := range map[string]time.Duration{"smtp": 365 * 24 * time.Hour, "imap": 10 * 24 * time.Hour} {
		kp, err := ca.IssueClient("box@ch-test.mssante.fr", validity)
		if err != nil {
			t.Fatal(err)
		}
		if err := kp.WriteFiles(dir, name); err != nil {
			t.Fatal(err)
		}
	}
	endpoint := func(use string, port int) string {
		return fmt.Sprintf("{host: 127.0.0.1, port: %d, security: tls, ca_file: %q, cert_file: %q, key_file: %q}",
			port, caFile, filepath.Join(dir, use+".crt"), filepath.Join(dir, use+".key"))
	}
	cfg := filepath.Join(dir, "mssbridge.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`data_dir: %q
boxes:
  - id: bio
    address: box@ch-test.mssante.fr
    smtp: %s
    imap: %s
inputs: []
import: {path: %q}
`, filepath.Join(dir, "data"), endpoint("smtp", 465), endpoint("imap", 993), filepath.Join(dir, "import"))), 0o600)

	code, out, errs := run(t, "status", "-c", cfg)
	if code != 0 {
		t.Fatalf("status: exit %d\n%s%s", code, out, errs)
	}
	for _, want := range []string{"box bio: client certificate valid until", "box bio (imap): WARNING the client certificate expires on"} {
		if !strings.Contains(out, want) {
			t.Errorf("status output lacks %q:\n%s", want, out)
		}
	}
}
