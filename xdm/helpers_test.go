package xdm

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// sharedSchemas is the project's ../shared/schemas (MSSBRIDGE_SCHEMAS overrides it); tests
// that need it skip when it is absent.
func sharedSchemas(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("MSSBRIDGE_SCHEMAS")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared", "schemas")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(abs, "cda", "CDA_extended.xsd")); err != nil {
		t.Skipf("schemas absent (%s): set MSSBRIDGE_SCHEMAS", abs)
	}
	return abs
}

// xmllint validates file against schema with `xmllint --noout --schema`; it skips the test
// when xmllint is not on PATH and returns the combined output on failure.
func xmllint(t testing.TB, schema, file string) (string, bool) {
	t.Helper()
	bin, err := exec.LookPath("xmllint")
	if err != nil {
		t.Skip("xmllint absent du PATH (paquet libxml2-utils)")
	}
	out, err := exec.Command(bin, "--noout", "--schema", schema, file).CombinedOutput()
	// xmllint warns on stderr about the CDA schema's duplicate imports; keep the rest.
	var kept []string
	for _, l := range strings.Split(string(out), "\n") {
		if l != "" && !strings.Contains(l, "Skipping import of schema") {
			kept = append(kept, l)
		}
	}
	return strings.Join(kept, "\n"), err == nil
}

func writeTemp(t testing.TB, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// utc puts every time of d in UTC, so that documents compare with reflect.DeepEqual
// whatever zone the times were read in (the instants are what must survive).
func utc(d Document) Document {
	for _, t := range []*time.Time{&d.EffectiveTime, &d.ServiceStart, &d.ServiceStop} {
		if !t.IsZero() {
			*t = t.UTC()
		}
	}
	return d
}

func utcPackage(p Package) Package {
	p.Document = utc(p.Document)
	p.SubmissionTime = p.SubmissionTime.UTC()
	return p
}

func mustNormalized(t testing.TB, d Document) Document {
	t.Helper()
	n, err := d.normalized()
	if err != nil {
		t.Fatal(err)
	}
	return n
}
