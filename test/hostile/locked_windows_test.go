//go:build windows

package hostile

import (
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/windows"

	"github.com/mssbridge/mssbridge/store"
	gen "github.com/mssbridge/mssbridge/testdata/hostile"
)

// A file another program holds open without sharing (what the clinical software does while
// it writes) is not claimed until it lets go; the other files go meanwhile.
func TestLockedFileWaitsForItsWriter(t *testing.T) {
	t.Parallel()
	r := newRig(t, rigOptions{})
	r.start()
	r.drop("verrouille.pdf", gen.Tagged(gen.Dupont, "Verrouille"))
	p, err := windows.UTF16PtrFromString(filepath.Join(r.input, "verrouille.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	h, err := windows.CreateFile(p, windows.GENERIC_READ, 0, nil, windows.OPEN_EXISTING, windows.FILE_ATTRIBUTE_NORMAL, 0)
	if err != nil {
		t.Fatal(err)
	}
	r.drop("libre.pdf", gen.Tagged(gen.Dupont, "Libre"))
	waitFor(t, 15*time.Second, "the free file to be sent", func() bool {
		j, ok := r.job("libre.pdf")
		return ok && j.State == store.StateSent
	})
	time.Sleep(time.Second)
	if _, ok := r.job("verrouille.pdf"); ok {
		t.Error("a file held open without sharing was claimed")
	}
	windows.CloseHandle(h)
	waitFor(t, 15*time.Second, "the released file to be sent", func() bool {
		j, ok := r.job("verrouille.pdf")
		return ok && j.State == store.StateSent
	})
}
