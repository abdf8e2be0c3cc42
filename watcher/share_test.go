package watcher

import (
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// logged runs a harness whose info records go to the test log and to a buffer the test reads.
func logged(t *testing.T, s setup) (*harness, *syncBuffer) {
	t.Helper()
	var buf syncBuffer
	level := slog.LevelInfo
	if os.Getenv("WATCHER_DEBUG") != "" {
		level = slog.LevelDebug
	}
	s.opts.Logger = slog.New(slog.NewTextHandler(io.MultiWriter(&buf, testWriter{t}), &slog.HandlerOptions{Level: level}))
	return start(t, s), &buf
}

func waitLog(t *testing.T, buf *syncBuffer, msg string) {
	t.Helper()
	deadline := time.Now().Add(waitLong)
	for !strings.Contains(buf.String(), msg) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the log:\n%s", msg, buf.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The input folder goes away (a share unmounted, a network drop: removed, or renamed away
// with what was in it) and comes back. Meanwhile the watcher says so once, not at every rescan,
// and idles; afterwards it takes what is there, files dropped later included, with events.
func TestInputFolderVanishesAndComesBack(t *testing.T) {
	for _, tc := range []struct {
		name  string
		gone  func(dir string) error
		back  func(dir string) error
		found []string // claimed once it is back, beside the file dropped then
	}{
		{"removed", os.RemoveAll, func(dir string) error { return os.Mkdir(dir, 0o700) }, nil},
		{"renamed away with a file in it",
			func(dir string) error {
				if err := os.WriteFile(filepath.Join(dir, "pendant.pdf.part"), pdfBody, 0o600); err != nil {
					return err
				}
				return os.Rename(dir, dir+".parti")
			},
			func(dir string) error {
				// What was written on the share while it was away from here.
				if err := os.Rename(filepath.Join(dir+".parti", "pendant.pdf.part"), filepath.Join(dir+".parti", "pendant.pdf")); err != nil {
					return err
				}
				return os.Rename(dir+".parti", dir)
			},
			[]string{"pendant.pdf"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			const rescan = 100 * time.Millisecond
			h, logs := logged(t, setup{opts: Options{Rescan: rescan}})
			h.write("avant.pdf", pdfBody)
			h.waitClaims(1)

			if err := tc.gone(h.dir); err != nil {
				t.Fatal(err)
			}
			waitLog(t, logs, "cannot list input folder")
			before := h.w.wakeups.Load()
			const away = 1500 * time.Millisecond
			time.Sleep(away)
			turns := h.w.wakeups.Load() - before
			t.Logf("%d turns of the loop in %s without the folder (rescan every %s)", turns, away, rescan)
			// A rescan a turn, and a few for the timers: a busy loop makes thousands.
			if limit := int64(3 * away / rescan); turns > limit {
				t.Errorf("%d turns of the loop in %s without the folder, want at most %d", turns, away, limit)
			}

			if err := tc.back(h.dir); err != nil {
				t.Fatal(err)
			}
			waitLog(t, logs, "input folder readable again")
			h.write("apres.pdf", pdfBody)
			got := names(h.waitClaims(2 + len(tc.found)))
			want := append([]string{"avant.pdf", "apres.pdf"}, tc.found...)
			if strings.Join(sorted(got), ",") != strings.Join(sorted(want), ",") {
				t.Errorf("claimed %v, want %v", got, want)
			}
			h.settle()
			out := logs.String()
			if n := strings.Count(out, "cannot list input folder"); n != 1 {
				t.Errorf("the missing folder was reported %d times, want once:\n%s", n, out)
			}
			if n := strings.Count(out, "level=ERROR"); n != 0 {
				t.Errorf("%d errors logged", n)
			}
		})
	}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// Another folder at the input's path with no event on the old one: a file system mounted on
// it or unmounted from it, or its parent renamed and the folder made again. The next listing
// notices, says it once, and watches the new folder: with rescans an hour apart, a file dropped
// there afterwards can only be claimed through its events.
func TestEventsFollowTheFolderAtThePath(t *testing.T) {
	type step struct {
		what string
		do   func(t *testing.T, dir string) error
	}
	mount := func(t *testing.T, dir string) error {
		if err := exec.Command("mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", dir).Run(); err != nil {
			return err
		}
		t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
		return nil
	}
	umount := func(t *testing.T, dir string) error { return exec.Command("umount", dir).Run() }
	for _, tc := range []struct {
		name  string
		root  bool // needs mount
		steps []step
	}{
		{"parent renamed, folder made again", false, []step{{"replaced", func(t *testing.T, dir string) error {
			parent := filepath.Dir(dir)
			if err := os.Rename(parent, parent+".ancien"); err != nil {
				return err
			}
			return os.MkdirAll(dir, 0o700)
		}}}},
		{"tmpfs mounted on it, unmounted, mounted again", true, []step{
			{"mounted", mount}, {"unmounted", umount}, {"mounted again", mount},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.root && os.Geteuid() != 0 {
				t.Skip("mounting needs root")
			}
			dir := filepath.Join(t.TempDir(), "partage", "depot")
			if err := os.MkdirAll(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			h, logs := logged(t, setup{dir: dir, opts: Options{Rescan: time.Hour}})
			h.write("avant.pdf", pdfBody)
			h.waitClaims(1)
			for i, st := range tc.steps {
				if err := st.do(t, dir); err != nil {
					if tc.root && i == 0 {
						t.Skipf("cannot mount here: %v", err)
					}
					t.Fatalf("%s: %v", st.what, err)
				}
				h.w.Scan() // what the hourly rescan would do
				for strings.Count(logs.String(), "input folder replaced") < i+1 {
					waitLog(t, logs, "input folder replaced")
					time.Sleep(10 * time.Millisecond)
				}
				h.write(st.what+".pdf", pdfBody)
				h.waitClaims(i + 2)
			}
			if n := strings.Count(logs.String(), "input folder replaced"); n != len(tc.steps) {
				t.Errorf("%d replacements logged, want %d", n, len(tc.steps))
			}
		})
	}
}
