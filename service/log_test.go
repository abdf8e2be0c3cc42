package service

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRotatingFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "logs", "mssbridge.log")
	f, err := OpenLogFile(path, 100, 2)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		fmt.Fprintf(f, "line %02d %s\n", i, strings.Repeat("x", 30)) // 40 bytes a line
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	// 2 lines a file: 08-09 current, 06-07 in .1, 04-05 in .2, older ones dropped.
	for _, tc := range []struct {
		name  string
		first string
	}{{"mssbridge.log", "line 08"}, {"mssbridge.log.1", "line 06"}, {"mssbridge.log.2", "line 04"}} {
		b, err := os.ReadFile(filepath.Join(dir, "logs", tc.name))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(b), tc.first) || strings.Count(string(b), "\n") != 2 {
			t.Errorf("%s:\n%s", tc.name, b)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "logs", "mssbridge.log.3")); err == nil {
		t.Error("kept more than 2 old files")
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode().Perm())
	}
	// Reopened, it appends and counts what is there.
	f, err = OpenLogFile(path, 100, 2)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "line 10 %s\n", strings.Repeat("x", 30))
	f.Close()
	b, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(b), "line 10") {
		t.Errorf("after reopening, a full file was not rotated:\n%s", b)
	}
	if _, err := f.Write([]byte("x")); err == nil {
		t.Error("write after close")
	}
}

type fakeLogger struct{ got []string }

func (f *fakeLogger) Error(v ...any) error { f.got = append(f.got, "E "+fmt.Sprint(v...)); return nil }
func (f *fakeLogger) Warning(v ...any) error {
	f.got = append(f.got, "W "+fmt.Sprint(v...))
	return nil
}
func (f *fakeLogger) Info(v ...any) error { f.got = append(f.got, "I "+fmt.Sprint(v...)); return nil }
func (f *fakeLogger) Errorf(s string, a ...any) error {
	return f.Error(fmt.Sprintf(s, a...))
}
func (f *fakeLogger) Warningf(s string, a ...any) error {
	return f.Warning(fmt.Sprintf(s, a...))
}
func (f *fakeLogger) Infof(s string, a ...any) error { return f.Info(fmt.Sprintf(s, a...)) }

func TestSystemLog(t *testing.T) {
	if SystemLog(context.Background()) != nil {
		t.Fatal("a system log outside a service")
	}
	l := &fakeLogger{}
	w := SystemLog(context.WithValue(context.Background(), sysLogKey{}, l))
	fmt.Fprint(w, "time=x level=INFO msg=a\ntime=x level=WARN ")
	fmt.Fprint(w, "msg=b\ntime=x level=ERROR msg=c\npartial")
	want := []string{"I time=x level=INFO msg=a", "W time=x level=WARN msg=b", "E time=x level=ERROR msg=c"}
	if fmt.Sprint(l.got) != fmt.Sprint(want) {
		t.Errorf("entries %q, want %q", l.got, want)
	}
}
