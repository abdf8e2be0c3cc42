package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// writeJournal appends n entries to a new journal in a temporary folder and returns its path.
func writeJournal(t *testing.T, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit", "journal.jsonl")
	j, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= n; i++ {
		_, err := j.Append(context.Background(), Entry{
			Event:     "sent",
			Job:       "J" + strconv.Itoa(i),
			Box:       "biologie",
			DocSHA256: strings.Repeat("ab", 32),
			MessageID: "<" + strconv.Itoa(i) + "@mssbridge>",
			Detail:    map[string]string{"to_count": strconv.Itoa(i), "reply": "250 2.0.0 OK"},
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.SplitAfter(string(b), "\n")
}

func writeLines(t *testing.T, path string, lines []string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(strings.Join(lines, "")), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestAppendVerify(t *testing.T) {
	path := writeJournal(t, 5)
	rep, err := Verify(path)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Entries != 5 || rep.LastSeq != 5 || len(rep.LastHash) != 64 {
		t.Fatalf("report = %+v", rep)
	}
	lines := readLines(t, path)
	var first Entry
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatal(err)
	}
	if first.Seq != 1 || first.Prev != "" || first.Time.Location() != time.UTC {
		t.Fatalf("first entry = %+v", first)
	}
	if !strings.Contains(lines[0], `"time":"`) || !strings.Contains(lines[0], `Z"`) {
		t.Fatalf("time not written as UTC RFC 3339: %s", lines[0])
	}
	if runtime.GOOS != "windows" {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("journal mode = %v", st.Mode().Perm())
		}
		st, err = os.Stat(filepath.Dir(path))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o700 {
			t.Errorf("folder mode = %v", st.Mode().Perm())
		}
	}
}

func TestEmptyJournalVerifies(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.jsonl")
	j, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	j.Close()
	rep, err := Verify(path)
	if err != nil || rep.Entries != 0 || rep.LastHash != "" {
		t.Fatalf("Verify(empty) = %+v, %v", rep, err)
	}
}

func TestHashCanonical(t *testing.T) {
	base := Entry{
		Seq: 7, Time: time.Date(2026, 11, 20, 8, 30, 0, 120000000, time.UTC),
		Event: "sent", Job: "J1", Detail: map[string]string{"a": "1", "b": "2"}, Prev: "p",
	}
	h := base.ComputeHash()

	// Same instant in another zone, detail built in another order: same hash.
	same := base
	same.Time = base.Time.In(time.FixedZone("CET", 3600))
	same.Detail = map[string]string{"b": "2", "a": "1"}
	if same.ComputeHash() != h {
		t.Error("hash depends on zone or map order")
	}
	// A nil and an empty detail are the same thing.
	noDetail := base
	noDetail.Detail = nil
	emptyDetail := base
	emptyDetail.Detail = map[string]string{}
	if noDetail.ComputeHash() != emptyDetail.ComputeHash() {
		t.Error("nil and empty detail hash differently")
	}

	// Every field counts, and moving bytes between fields changes the hash.
	changes := []struct {
		name string
		edit func(e *Entry)
	}{
		{"seq", func(e *Entry) { e.Seq++ }},
		{"time", func(e *Entry) { e.Time = e.Time.Add(time.Nanosecond) }},
		{"event", func(e *Entry) { e.Event = "held" }},
		{"job", func(e *Entry) { e.Job = "J2" }},
		{"input", func(e *Entry) { e.Input = "x" }},
		{"box", func(e *Entry) { e.Box = "x" }},
		{"actor", func(e *Entry) { e.Actor = "x" }},
		{"doc_sha256", func(e *Entry) { e.DocSHA256 = "x" }},
		{"message_id", func(e *Entry) { e.MessageID = "x" }},
		{"detail value", func(e *Entry) { e.Detail = map[string]string{"a": "1", "b": "3"} }},
		{"detail key", func(e *Entry) { e.Detail = map[string]string{"a": "1", "c": "2"} }},
		{"detail extra", func(e *Entry) { e.Detail = map[string]string{"a": "1", "b": "2", "c": ""} }},
		{"prev", func(e *Entry) { e.Prev = "q" }},
		{"shift event into job", func(e *Entry) { e.Event, e.Job = "sentJ", "1" }},
		{"shift detail", func(e *Entry) { e.Detail = map[string]string{"a": "1b", "": "2"} }},
	}
	for _, c := range changes {
		e := base
		c.edit(&e)
		if e.ComputeHash() == h {
			t.Errorf("%s: hash unchanged", c.name)
		}
	}
}

func TestReopenContinuesChain(t *testing.T) {
	path := writeJournal(t, 3)
	j, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	seq, hash := j.Last()
	if seq != 3 || len(hash) != 64 {
		t.Fatalf("Last() = %d, %q", seq, hash)
	}
	e, err := j.Append(context.Background(), Entry{Event: "held", Job: "J4"})
	if err != nil {
		t.Fatal(err)
	}
	if e.Seq != 4 || e.Prev != hash {
		t.Fatalf("appended %+v, want seq 4 prev %s", e, hash)
	}
	j.Close()
	rep, err := Verify(path)
	if err != nil || rep.Entries != 4 || rep.LastHash != e.Hash {
		t.Fatalf("Verify = %+v, %v", rep, err)
	}
}

func TestVerifyFindsTampering(t *testing.T) {
	tests := []struct {
		name     string
		edit     func(lines []string) []string
		wantSeq  int64
		wantLine int
		reason   string
	}{
		{
			name: "field changed",
			edit: func(l []string) []string {
				l[2] = strings.Replace(l[2], `"job":"J3"`, `"job":"J9"`, 1)
				return l
			},
			wantSeq: 3, wantLine: 3, reason: "hash",
		},
		{
			name: "detail changed",
			edit: func(l []string) []string {
				l[1] = strings.Replace(l[1], `250 2.0.0 OK`, `550 5.1.1 no`, 1)
				return l
			},
			wantSeq: 2, wantLine: 2, reason: "hash",
		},
		{
			name: "field added",
			edit: func(l []string) []string {
				l[3] = strings.Replace(l[3], `{"seq"`, `{"patient":"DUPONT","seq"`, 1)
				return l
			},
			wantSeq: 4, wantLine: 4, reason: "unparsable",
		},
		{
			name:    "line deleted",
			edit:    func(l []string) []string { return append(l[:2:2], l[3:]...) },
			wantSeq: 4, wantLine: 3, reason: "seq gap",
		},
		{
			name:    "first line deleted",
			edit:    func(l []string) []string { return l[1:] },
			wantSeq: 2, wantLine: 1, reason: "seq gap",
		},
		{
			name: "lines swapped",
			edit: func(l []string) []string {
				l[2], l[3] = l[3], l[2]
				return l
			},
			wantSeq: 4, wantLine: 3, reason: "seq gap",
		},
		{
			name: "line duplicated",
			edit: func(l []string) []string {
				return append(l[:3:3], append([]string{l[2]}, l[3:]...)...)
			},
			wantSeq: 3, wantLine: 4, reason: "seq gap",
		},
		{
			name:    "garbage line",
			edit:    func(l []string) []string { return append(l[:1:1], append([]string{"oops\n"}, l[1:]...)...) },
			wantSeq: 2, wantLine: 2, reason: "unparsable",
		},
		{
			name: "torn tail",
			edit: func(l []string) []string {
				return append(l[:5], `{"seq":6,"ti`)
			},
			wantSeq: 6, wantLine: 6, reason: "no newline",
		},
		{
			name: "entry rebuilt with a consistent hash but wrong prev",
			edit: func(l []string) []string {
				var e Entry
				json.Unmarshal([]byte(l[2]), &e)
				e.Job = "J9"
				e.Prev = strings.Repeat("0", 64)
				e.Hash = e.ComputeHash()
				b, _ := json.Marshal(&e)
				l[2] = string(b) + "\n"
				return l
			},
			wantSeq: 3, wantLine: 3, reason: "prev",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := writeJournal(t, 5)
			lines := readLines(t, path)
			if lines[len(lines)-1] == "" {
				lines = lines[:len(lines)-1]
			}
			writeLines(t, path, tc.edit(lines))
			_, err := Verify(path)
			var be *BrokenError
			if !errors.As(err, &be) {
				t.Fatalf("Verify = %v, want *BrokenError", err)
			}
			if be.Seq != tc.wantSeq || be.Line != tc.wantLine || !strings.Contains(be.Reason, tc.reason) {
				t.Fatalf("got %+v, want seq %d line %d reason ~%q", be, tc.wantSeq, tc.wantLine, tc.reason)
			}
		})
	}
}

func TestOpenRepairsTornTail(t *testing.T) {
	tests := []struct {
		name   string
		tail   string
		reason string
	}{
		{"half a line", `{"seq":4,"time":"2026-`, "no newline"},
		{"zeros from a crash", "\x00\x00\x00\x00\x00\x00", "no newline"},
		{"bad JSON with newline", "{\"seq\":4,\"ti\n", "not valid JSON"},
		{"blank last line", "\n", "not valid JSON"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := writeJournal(t, 3)
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.WriteString(tc.tail)
			f.Close()

			j, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			seq, _ := j.Last()
			if seq != 4 {
				t.Fatalf("after repair Last seq = %d, want 4 (3 entries + journal_repaired)", seq)
			}
			if _, err := j.Append(context.Background(), Entry{Event: "claimed", Job: "J5"}); err != nil {
				t.Fatal(err)
			}
			j.Close()

			rep, err := Verify(path)
			if err != nil || rep.Entries != 5 {
				t.Fatalf("Verify = %+v, %v", rep, err)
			}
			lines := readLines(t, path)
			var rep4 Entry
			if err := json.Unmarshal([]byte(lines[3]), &rep4); err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256([]byte(tc.tail))
			if rep4.Event != EventRepaired ||
				rep4.Detail["discarded_sha256"] != hex.EncodeToString(sum[:]) ||
				rep4.Detail["discarded_bytes"] != strconv.Itoa(len(tc.tail)) ||
				!strings.Contains(rep4.Detail["reason"], tc.reason) {
				t.Fatalf("repair entry = %+v", rep4)
			}
		})
	}
}

func TestOpenTornOnlyLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.jsonl")
	os.WriteFile(path, []byte(`{"seq":1,"ti`), 0o600)
	j, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	j.Close()
	rep, err := Verify(path)
	if err != nil || rep.Entries != 1 {
		t.Fatalf("Verify = %+v, %v", rep, err)
	}
}

func TestOpenRefusesTamperedLastEntry(t *testing.T) {
	path := writeJournal(t, 3)
	lines := readLines(t, path)
	lines[2] = strings.Replace(lines[2], `"job":"J3"`, `"job":"J7"`, 1)
	writeLines(t, path, lines)
	before, _ := os.ReadFile(path)
	_, err := Open(path)
	var be *BrokenError
	if !errors.As(err, &be) || be.Seq != 3 || be.Line != 3 {
		t.Fatalf("Open = %v, want BrokenError at seq 3 line 3", err)
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Fatal("Open changed a tampered journal")
	}
}

func TestOpenLongJournalTail(t *testing.T) {
	// Entries bigger than the first tail read make Open read further back.
	path := filepath.Join(t.TempDir(), "j.jsonl")
	j, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("x", tailChunk)
	for i := 0; i < 3; i++ {
		if _, err := j.Append(context.Background(), Entry{Event: "e", Detail: map[string]string{"big": big}}); err != nil {
			t.Fatal(err)
		}
	}
	j.Close()
	f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString(`{"seq":4`)
	f.Close()
	j, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	j.Close()
	if rep, err := Verify(path); err != nil || rep.Entries != 4 {
		t.Fatalf("Verify = %+v, %v", rep, err)
	}
}

func TestConcurrentAppends(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.jsonl")
	j, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	const workers, each = 8, 40
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if _, err := j.Append(context.Background(), Entry{Event: "claimed", Job: strconv.Itoa(w*1000 + i)}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	j.Close()
	rep, err := Verify(path)
	if err != nil || rep.Entries != workers*each {
		t.Fatalf("Verify = %+v, %v", rep, err)
	}
}

func TestAppendErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.jsonl")
	j, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := j.Append(context.Background(), Entry{}); err == nil {
		t.Error("entry without event accepted")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := j.Append(ctx, Entry{Event: "x"}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Append = %v", err)
	}
	// The caller's map is copied, not kept.
	d := map[string]string{"k": "v"}
	e, err := j.Append(context.Background(), Entry{Event: "x", Detail: d})
	if err != nil {
		t.Fatal(err)
	}
	d["k"] = "changed"
	if e.Detail["k"] != "v" {
		t.Error("Append kept the caller's map")
	}
	j.Close()
	if _, err := j.Append(context.Background(), Entry{Event: "x"}); err == nil {
		t.Error("Append after Close succeeded")
	}
}

func TestTwoWritersShareOneChain(t *testing.T) {
	// Two Journals on one file stand for the service and a command run beside it.
	path := filepath.Join(t.TempDir(), "j.jsonl")
	a, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	// Taking turns: each picks up where the other left.
	for i, j := range []*Journal{a, b, b, a, b} {
		e, err := j.Append(ctx, Entry{Event: "turn"})
		if err != nil {
			t.Fatal(err)
		}
		if e.Seq != int64(i+1) {
			t.Fatalf("turn %d: seq %d", i, e.Seq)
		}
	}

	// At the same time.
	const each = 50
	var wg sync.WaitGroup
	for _, j := range []*Journal{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if _, err := j.Append(ctx, Entry{Event: "claimed"}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	a.Close()
	b.Close()
	rep, err := Verify(path)
	if err != nil || rep.Entries != 5+2*each {
		t.Fatalf("Verify = %+v, %v", rep, err)
	}
}

func TestOtherWriterCrashRepaired(t *testing.T) {
	// Another writer died in the middle of a line: the next Append repairs it.
	path := writeJournal(t, 2)
	j, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString(`{"seq":3,"time":"20`)
	f.Close()
	e, err := j.Append(context.Background(), Entry{Event: "sent"})
	if err != nil {
		t.Fatal(err)
	}
	if e.Seq != 4 {
		t.Fatalf("seq = %d, want 4 (after journal_repaired)", e.Seq)
	}
	if rep, err := Verify(path); err != nil || rep.Entries != 4 {
		t.Fatalf("Verify = %+v, %v", rep, err)
	}
}
