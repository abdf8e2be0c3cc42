// Package hostile proves, with tests that try, what issue 7 asks of mssbridge against hostile
// input, injected faults and resource exhaustion: hostile files dropped into an input, hostile
// mail received, SMTP servers that refuse, drop or stall, an import folder that cannot be
// written, and the privacy of the logs and of data_dir. Everything runs in process or in a
// child copy of this test binary (for peak RSS), against the loopback operator and small
// misbehaving servers of its own, in well under a minute.
//
// A test that finds a bug in a package these tests may not change is skipped with a message
// starting "BUG:" naming the file and the fix; the suite stays green and the report lists them.
package hostile

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// wasmCache is shared with the pdf and reading tests: a warm cache starts PDFium in 0.1 s
// instead of compiling it for 3 s.
var wasmCache = filepath.Join(os.TempDir(), "mssbridge-test-pdfium-cache")

func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		if err := runChild(mode); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	code := m.Run()
	cleanupFixtures()
	os.Exit(code)
}
