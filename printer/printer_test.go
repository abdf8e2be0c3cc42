package printer

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// sink collects what the listener hands over.
type sink struct {
	mu   sync.Mutex
	jobs []Job
	fail error
	ch   chan Job
}

func newSink() *sink { return &sink{ch: make(chan Job, 16)} }

func (s *sink) submit(_ context.Context, j Job) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return "", s.fail
	}
	s.jobs = append(s.jobs, j)
	s.ch <- j
	return "job-" + j.Input, nil
}

func (s *sink) all() []Job {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Job(nil), s.jobs...)
}

func (s *sink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.jobs)
}

type testLog struct{ t *testing.T }

func (w testLog) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// start runs a server with two printers on ports of their own, inputs "a" and "b".
func start(t *testing.T, o Options) (*Server, *sink) {
	t.Helper()
	sk := newSink()
	o.Listeners = []Listener{{Addr: "127.0.0.1:0", Input: "a"}, {Addr: "127.0.0.1:0", Input: "b"}}
	o.Submit = sk.submit
	o.Logger = slog.New(slog.NewTextHandler(testLog{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithCancel(context.Background())
	s, err := Start(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		done := make(chan struct{})
		go func() { s.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("the server did not stop within 5 s of its context ending")
		}
	})
	return s, sk
}

// print sends a job as a spooler does (all bytes, then half-close) and waits for the printer
// to hang up. It reports how the connection ended: nil for a clean close.
func print(t *testing.T, addr net.Addr, data []byte) error {
	t.Helper()
	c, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(data); err != nil {
		return err
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, c)
	return err
}

func TestListener(t *testing.T) {
	cupsPDF := readTestdata(t, "cups-pdf.pjl")
	psJob := []byte("\x1b%-12345X@PJL JOB NAME=\"CR echo\"\r\n@PJL SET USERNAME=\"msecretaire\"\r\n@PJL ENTER LANGUAGE=POSTSCRIPT\r\n" + samplePS + "\x1b%-12345X@PJL EOJ\r\n\x1b%-12345X")
	garbage := bytes.Repeat([]byte{0x00, 0xff, 0x1b, 0x25, 0x7f}, 5000)

	type want struct {
		name, job, user string
		format          Format
		prefix          string // of the data handed over
		note            string // substring of Note; "" = none
		contains        string // found in the data handed over; "" = not checked
	}
	for _, tc := range []struct {
		name    string
		data    []byte
		noGS    bool // PATH without Ghostscript
		needGS  bool
		want    *want // nil: no job
		printer int
		o       Options
	}{
		{name: "PJL-wrapped PDF from CUPS", data: cupsPDF, printer: 0,
			want: &want{name: "Mon CR.pdf", job: "Mon CR", user: "root", format: PDF, prefix: "%PDF-"}},
		{name: "same on the second printer", data: cupsPDF, printer: 1,
			want: &want{name: "Mon CR.pdf", job: "Mon CR", user: "root", format: PDF, prefix: "%PDF-"}},
		{name: "PostScript without Ghostscript", data: psJob, noGS: true,
			want: &want{name: "CR echo.ps", job: "CR echo", user: "msecretaire", format: PostScript, prefix: "%!PS", note: "Ghostscript n'est pas installé"}},
		{name: "PostScript converted by Ghostscript", data: psJob, needGS: true,
			want: &want{name: "CR echo.pdf", job: "CR echo", user: "msecretaire", format: PDF, prefix: "%PDF-"}},
		{name: "broken PostScript", data: []byte("%!PS\n(unterminated\n"), needGS: true,
			want: &want{name: "impression.ps", format: PostScript, prefix: "%!PS", note: "n'a pas pu convertir"}},
		{name: "endless PostScript", data: []byte("%!PS\n/x { x } def x\n"), needGS: true,
			o:    Options{ConvertTimeout: 500 * time.Millisecond},
			want: &want{name: "impression.ps", format: PostScript, prefix: "%!PS", note: "no result after 500ms"}},
		{name: "garbage", data: garbage,
			want: &want{name: "impression.bin", format: Unknown, prefix: "\x00\xff", note: "ni PDF ni PostScript"}},
		{name: "text on a raw queue", data: []byte("Bonjour\n"),
			want: &want{name: "impression.pdf", format: PDF, prefix: "%PDF-", contains: "(Bonjour) '"}},
		{name: "UTF-8 text from our CUPS queue", data: readTestdata(t, "cups-text-filter.pjl"),
			want: &want{name: "T-utf8.pdf", job: "T-utf8.txt", user: "root", format: PDF, prefix: "%PDF-",
				contains: "(#MSS-TO: dr.martin@hopital-test.mssante.fr) '"}},
		{name: "Latin-1 text from our CUPS queue", data: readTestdata(t, "cups-latin1-filter.pjl"),
			want: &want{name: "T-latin1.pdf", job: "T-latin1.txt", user: "root", format: PDF, prefix: "%PDF-",
				contains: "(\xc9t\xe9 \xe0 No\xebl) '"}}, // WinAnsiEncoding is Latin-1 there
		{name: "text too long to lay out", data: []byte("x" + strings.Repeat("\fx", textMaxPages)),
			want: &want{name: "impression.txt", format: Text, prefix: "x\fx", note: "trop long"}},
		{name: "port probe", data: nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.noGS {
				t.Setenv("PATH", t.TempDir())
			}
			if _, err := exec.LookPath("gs"); tc.needGS && err != nil {
				t.Skip("Ghostscript not installed")
			}
			s, sk := start(t, tc.o)
			if err := print(t, s.Addrs()[tc.printer], tc.data); err != nil {
				t.Fatalf("the printer did not take the job cleanly: %v", err)
			}
			// The connection is closed only after the job was stored: no waiting needed.
			if tc.want == nil {
				if n := sk.count(); n != 0 {
					t.Fatalf("%d job(s) handed over, want none", n)
				}
				return
			}
			if n := sk.count(); n != 1 {
				t.Fatalf("%d job(s) handed over when the printer hung up, want 1", n)
			}
			j, w := sk.all()[0], tc.want
			if j.Input != []string{"a", "b"}[tc.printer] {
				t.Errorf("input %q", j.Input)
			}
			if j.Name != w.name || j.JobName != w.job || j.User != w.user || j.Format != w.format {
				t.Errorf("got name %q job %q user %q format %v; want %q %q %q %v", j.Name, j.JobName, j.User, j.Format, w.name, w.job, w.user, w.format)
			}
			if !bytes.HasPrefix(j.Data, []byte(w.prefix)) {
				t.Errorf("data starts %q, want %q", j.Data[:min(10, len(j.Data))], w.prefix)
			}
			if w.contains != "" && !bytes.Contains(j.Data, []byte(w.contains)) {
				t.Errorf("the data handed over lacks %q", w.contains)
			}
			if (w.note == "") != (j.Note == "") || !strings.Contains(j.Note, w.note) {
				t.Errorf("note %q, want %q", j.Note, w.note)
			}
			if w.format == PDF && !bytes.Contains(j.Data[max(0, len(j.Data)-40):], []byte("%%EOF")) {
				t.Errorf("the PDF does not end with %%%%EOF: %q", j.Data[max(0, len(j.Data)-40):])
			}
			if strings.Contains(string(j.Data), "@PJL") && w.format == PDF {
				t.Errorf("PJL left in the PDF")
			}
		})
	}
}

// Jobs that are refused: the printer hangs up with a reset, nothing is handed over.
func TestListenerRefuses(t *testing.T) {
	pdf := pdfPart(t, readTestdata(t, "cups-pdf.pjl"))

	t.Run("oversize", func(t *testing.T) {
		s, sk := start(t, Options{MaxSize: 64 << 10})
		big := append(append([]byte{}, pdf...), bytes.Repeat([]byte("x"), 1<<20)...)
		err := print(t, s.Addrs()[0], big)
		if err == nil {
			t.Error("an oversize job ended cleanly; want a reset so the spooler keeps it")
		}
		if sk.count() != 0 {
			t.Error("an oversize job was handed over")
		}
		// The printer still works afterwards.
		if err := print(t, s.Addrs()[0], pdf); err != nil || sk.count() != 1 {
			t.Errorf("next job: %v, %d jobs", err, sk.count())
		}
	})

	t.Run("stalled client", func(t *testing.T) {
		s, sk := start(t, Options{IdleTimeout: 300 * time.Millisecond})
		c, err := net.Dial("tcp", s.Addrs()[0].String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.Write(pdf[:100]) // then nothing, connection left open
		t0 := time.Now()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = io.Copy(io.Discard, c)
		if waited := time.Since(t0); waited > 3*time.Second || waited < 250*time.Millisecond {
			t.Errorf("dropped after %s, want about 300 ms", waited)
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Error("the printer never hung up on a stalled client")
		}
		if sk.count() != 0 {
			t.Error("a partial job was handed over")
		}
	})

	t.Run("slow drip", func(t *testing.T) {
		// Each byte arrives within the idle timeout, but the whole job takes too long.
		s, sk := start(t, Options{IdleTimeout: 300 * time.Millisecond, JobTimeout: 800 * time.Millisecond})
		c, err := net.Dial("tcp", s.Addrs()[1].String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		t0 := time.Now()
		var werr error
		for i := 0; i < 50 && werr == nil; i++ {
			_, werr = c.Write(pdf[i : i+1])
			time.Sleep(100 * time.Millisecond)
		}
		if werr == nil {
			t.Fatal("5 s of dripping were accepted")
		}
		if waited := time.Since(t0); waited > 3*time.Second {
			t.Errorf("dropped after %s, want about 800 ms", waited)
		}
		if sk.count() != 0 {
			t.Error("a partial job was handed over")
		}
	})

	t.Run("bridge cannot store it", func(t *testing.T) {
		s, sk := start(t, Options{})
		sk.mu.Lock()
		sk.fail = errors.New("disk full")
		sk.mu.Unlock()
		if err := print(t, s.Addrs()[0], pdf); err == nil {
			t.Error("the printer hung up cleanly on a job it could not store")
		}
	})
}

// Several printers, several jobs at once, more than MaxJobs: all arrive, each on its input.
func TestListenerConcurrent(t *testing.T) {
	cupsPDF := readTestdata(t, "cups-pdf.pjl")
	s, sk := start(t, Options{MaxJobs: 2})
	var wg sync.WaitGroup
	errs := make(chan error, 12)
	for i := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- print(t, s.Addrs()[i%2], cupsPDF)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	per := map[string]int{}
	for _, j := range sk.all() {
		per[j.Input]++
	}
	if per["a"] != 6 || per["b"] != 6 {
		t.Errorf("jobs per input %v, want 6 and 6", per)
	}
}

func TestStartErrors(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	submit := func(context.Context, Job) (string, error) { return "", nil }
	for _, tc := range []struct {
		name string
		o    Options
		want string
	}{
		{"address in use", Options{Submit: submit, Listeners: []Listener{{"127.0.0.1:0", "a"}, {busy.Addr().String(), "b"}}}, "address already in use"},
		{"same address twice", Options{Submit: submit, Listeners: []Listener{{"127.0.0.1:9", "a"}, {"127.0.0.1:9", "b"}}}, "twice"},
		{"no input", Options{Submit: submit, Listeners: []Listener{{"127.0.0.1:0", ""}}}, "needs an address and an input"},
		{"no listener", Options{Submit: submit}, "no listener"},
		{"no submit", Options{Listeners: []Listener{{"127.0.0.1:0", "a"}}}, "no SubmitFunc"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Start(context.Background(), tc.o)
			if err == nil {
				s.closeAll()
				t.Fatal("started")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want %q", err, tc.want)
			}
		})
	}
}

// When the context ends, a connection still sending is cut and the listeners close.
func TestListenerStops(t *testing.T) {
	sk := newSink()
	ctx, cancel := context.WithCancel(context.Background())
	s, err := Start(ctx, Options{Submit: sk.submit, Listeners: []Listener{{"127.0.0.1:0", "a"}}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", s.Addrs()[0].String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("%PDF-1.4\n"))
	time.Sleep(50 * time.Millisecond)
	cancel()
	done := make(chan struct{})
	go func() { s.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		t.Fatal("Wait did not return")
	}
	if _, err := net.DialTimeout("tcp", s.Addrs()[0].String(), time.Second); err == nil {
		t.Error("still listening after the context ended")
	}
	if sk.count() != 0 {
		t.Error("an interrupted job was handed over")
	}
}
