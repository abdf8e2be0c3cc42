//go:build integration

package integration

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	gen "github.com/mssbridge/mssbridge/testdata/hostile"
)

// Every log the suite's bridges write lands in one folder, made by TestMain, and is listed
// here; after the last test TestMain scans them all for the test patients' identity
// (TestSuiteLogsCarryNoPatientData). The scan runs in TestMain rather than in a test because
// only there is it certain that every test, parallel subtests and cleanups included, has
// ended and that no bridge still writes.

// logKind says what wrote a log and so which of its lines are log records.
type logKind int

const (
	// kindRun is the output of `mssbridge run`: what a service manager keeps as the service's
	// log. A line that is not a slog record (a panic, a message printed before the logger
	// exists) is a log line of unknown level, searched like one at info.
	kindRun logKind = iota
	// kindCLI is the output of a command run to its end (send, held, status, check-config,
	// printer install…). Only its slog records are log lines: the rest is the command's
	// answer to the person who typed it (`held` lists what it holds, on purpose).
	kindCLI
	// kindFile is the configuration's log.file, copied when the case ends: all records.
	kindFile
)

func (k logKind) String() string {
	return [...]string{"run", "cli", "log.file"}[k]
}

// suiteLog is one registered log.
type suiteLog struct {
	Path string
	Kind logKind
	Test string
}

var suiteLogs struct {
	mu   sync.Mutex
	dir  string // "" when TestMain made none: logs then stay in the case's folder, unscanned
	seq  int
	logs []suiteLog
}

// newSuiteLog creates (0600) and registers a log file for t: in the suite's folder, or in
// fallback when there is none.
func newSuiteLog(t *testing.T, kind logKind, fallback string) (*os.File, error) {
	suiteLogs.mu.Lock()
	defer suiteLogs.mu.Unlock()
	suiteLogs.seq++
	dir := suiteLogs.dir
	if dir == "" {
		dir = fallback
	}
	path := filepath.Join(dir, fmt.Sprintf("%04d-%s-%s.log", suiteLogs.seq, fileSafe(t.Name()), kind))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, err
	}
	if suiteLogs.dir != "" {
		suiteLogs.logs = append(suiteLogs.logs, suiteLog{Path: path, Kind: kind, Test: t.Name()})
	}
	return f, nil
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

func fileSafe(s string) string { return clip(unsafeChars.ReplaceAllString(s, "_"), 80) }

// registeredLogs is a copy of the list.
func registeredLogs() []suiteLog {
	suiteLogs.mu.Lock()
	defer suiteLogs.mu.Unlock()
	return append([]suiteLog(nil), suiteLogs.logs...)
}

// ---- the patients ----

// testPatient is an invented patient whose identity must not reach a log at info level.
type testPatient struct {
	Source             string
	Family, Given      string
	Birth              string // YYYY-MM-DD
	INS                string
	GivenPartsAreNames bool // each given name alone is searched too (the suite's own patients)
}

// corpusTruth is the repository's copy of the shared samples' truth (a superset of
// shared/samples/truth.json): its patients are the project's test patients too.
const corpusTruth = "../../reading/testdata/corpus/truth.json"

// testPatients gathers the patients from where the tests take them, not from a list typed
// here: the letters this suite prints (dupont), the XDM packages it sends to the box
// (xdmPatient), the hostile suite's patient (gen.Dupont) and the samples' truth.
func testPatients() ([]testPatient, error) {
	var out []testPatient
	f := strings.Split(dupont(0), "|")
	if len(f) != 4 {
		return nil, fmt.Errorf("dupont(0) = %q: not FAMILY|GIVEN|BIRTH|INS", dupont(0))
	}
	out = append(out,
		testPatient{Source: "docs_test.go dupont()", Family: f[0], Given: f[1], Birth: f[2], INS: f[3], GivenPartsAreNames: true},
		testPatient{Source: "receive_helpers_test.go xdmPatient", Family: xdmPatient.FamilyName, Given: xdmPatient.GivenNames,
			Birth: xdmPatient.BirthDate, GivenPartsAreNames: true},
		testPatient{Source: "testdata/hostile gen.Dupont", Family: gen.Dupont.Family, Given: gen.Dupont.Given,
			Birth: gen.Dupont.Birth, INS: gen.Dupont.INS, GivenPartsAreNames: true},
	)
	raw, err := os.ReadFile(corpusTruth)
	if err != nil {
		return nil, fmt.Errorf("the samples' truth: %w", err)
	}
	var truth []struct {
		Patient struct {
			INS        string `json:"ins"`
			FamilyName string `json:"family_name"`
			GivenNames string `json:"given_names"`
			BirthDate  string `json:"birth_date"`
		} `json:"patient"`
	}
	if err := json.Unmarshal(raw, &truth); err != nil {
		return nil, fmt.Errorf("%s: %w", corpusTruth, err)
	}
	seen := map[testPatient]bool{}
	for _, d := range truth {
		p := testPatient{Source: "reading/testdata/corpus/truth.json", Family: d.Patient.FamilyName,
			Given: d.Patient.GivenNames, Birth: d.Patient.BirthDate, INS: d.Patient.INS}
		if p.Family == "" && p.Birth == "" && p.INS == "" || seen[p] {
			continue
		}
		seen[p] = true
		out = append(out, p)
	}
	return out, nil
}

// ---- the matcher ----

// patientTerm is one thing to look for; Label says what it is (it is the datum itself:
// invented data, printed so that a person finds the line).
type patientTerm struct {
	Label string
	re    *regexp.Regexp
}

// patientMatcher finds the patients' identity in a line.
type patientMatcher struct {
	terms    []patientTerm
	knownINS map[string]bool // 15 characters, upper case
	nirBirth map[string]bool // sex, year, month and department of a known INS (7 characters)
}

// nirRe finds an INS or a NIR written as digits, grouped the usual way or not
// (2 56 03 75 123 456 54), Corsica's 2A/2B included.
var nirRe = regexp.MustCompile(`(?:^|[^0-9A-Za-z])([1-478] ?[0-9]{2} ?[0-9]{2} ?(?:[0-9]{2}|2[ABab]) ?[0-9]{3} ?[0-9]{3}(?: ?[0-9]{2})?)(?:[^0-9A-Za-z]|$)`)

func newPatientMatcher(ps []testPatient) *patientMatcher {
	m := &patientMatcher{knownINS: map[string]bool{}, nirBirth: map[string]bool{}}
	seen := map[string]bool{}
	add := func(label, pattern string) {
		if seen[label] {
			return
		}
		seen[label] = true
		m.terms = append(m.terms, patientTerm{Label: label, re: regexp.MustCompile(pattern)})
	}
	name := func(n string) {
		n = strings.TrimSpace(n)
		if len([]rune(n)) < 3 {
			return
		}
		for _, v := range []string{n, foldAccents(n)} {
			// Any case, spaces, hyphens and apostrophes loose: a file name writes
			// "le-goff" or "LE_GOFF" as well as "LE GOFF".
			var b strings.Builder
			for i, w := range strings.FieldsFunc(v, func(r rune) bool { return r == ' ' || r == '-' || r == '\'' || r == '_' }) {
				if i > 0 {
					b.WriteString(`[\s_.'-]?`)
				}
				b.WriteString(regexp.QuoteMeta(w))
			}
			add(v, `(?i)(?:^|[^\p{L}])`+b.String()+`(?:[^\p{L}]|$)`)
		}
	}
	for _, p := range ps {
		name(p.Family)
		name(p.Given)
		if p.GivenPartsAreNames {
			for _, g := range strings.FieldsFunc(p.Given, func(r rune) bool { return r == ' ' || r == '-' }) {
				name(g)
			}
		}
		if t, err := time.Parse("2006-01-02", p.Birth); err == nil {
			for _, layout := range []string{"2006-01-02", "02/01/2006", "02.01.2006", "02-01-2006", "20060102", "02012006", "2/1/2006"} {
				s := t.Format(layout)
				add(s, `(?:^|[^0-9])`+regexp.QuoteMeta(s)+`(?:[^0-9]|$)`)
			}
		}
		if ins := strings.ToUpper(strings.ReplaceAll(p.INS, " ", "")); len(ins) == 15 {
			m.knownINS[ins] = true
			m.nirBirth[ins[:7]] = true
		}
	}
	return m
}

// foldAccents writes French accented capitals and small letters plain (DUPRÉ -> DUPRE).
func foldAccents(s string) string {
	return strings.NewReplacer("É", "E", "È", "E", "Ê", "E", "Ë", "E", "À", "A", "Â", "A", "Î", "I", "Ï", "I",
		"Ô", "O", "Ù", "U", "Û", "U", "Ü", "U", "Ç", "C", "é", "e", "è", "e", "ê", "e", "ë", "e", "à", "a",
		"â", "a", "î", "i", "ï", "i", "ô", "o", "ù", "u", "û", "u", "ü", "u", "ç", "c").Replace(s)
}

// find returns what of the patients' identity the line carries. An INS is found when it is
// a known one, or any 15 characters with a valid key (every INS the suite makes has one),
// or a NIR, with any key or none, of a known patient's sex, birth month and department.
func (m *patientMatcher) find(line string) []string {
	var hits []string
	for _, t := range m.terms {
		if t.re.MatchString(line) {
			hits = append(hits, t.Label)
		}
	}
	for _, sm := range nirRe.FindAllStringSubmatch(line, -1) {
		d := strings.ToUpper(strings.ReplaceAll(sm[1], " ", ""))
		switch {
		case len(d) == 15 && (m.knownINS[d] || m.nirBirth[d[:7]] || insKeyValid(d)):
			hits = append(hits, "INS "+sm[1])
		case len(d) == 13 && m.nirBirth[d[:7]]:
			hits = append(hits, "NIR "+sm[1])
		}
	}
	return hits
}

// insKeyValid: key = 97 - (NIR mod 97), 2A and 2B counted as 19 and 18.
func insKeyValid(ins string) bool {
	n, err := strconv.ParseUint(strings.NewReplacer("2A", "19", "2B", "18").Replace(ins[:13]), 10, 64)
	if err != nil {
		return false
	}
	k, err := strconv.Atoi(ins[13:])
	return err == nil && uint64(k) == 97-n%97
}

// ---- the scan ----

var (
	textLevel = regexp.MustCompile(`^time=\S+ level=([A-Z]+)([+-][0-9]+)? `)
	jsonLevel = regexp.MustCompile(`^\{.*?"level":"([A-Z]+)([+-][0-9]+)?"`)
)

// lineLevel says whether the line is a slog record (text or JSON) and whether it is below
// info (DEBUG, DEBUG+1…3).
func lineLevel(line string) (record, belowInfo bool) {
	sm := textLevel.FindStringSubmatch(line)
	if sm == nil {
		sm = jsonLevel.FindStringSubmatch(line)
	}
	if sm == nil {
		return false, false
	}
	return true, sm[1] == "DEBUG"
}

// leak is one line at info level or above that carries patient data.
type leak struct {
	Log  suiteLog
	Line int
	What []string
	Text string
}

// scanStats are the figures of a scan.
type scanStats struct {
	Files, Lines                           int
	ByKind                                 map[logKind]int
	Searched, Debug, Unleveled, CLIAnswers int
}

// scanLogs searches every line of every log; a line is searched when it is a record at info
// or above, or any line of a bridge's output that is not a record.
func scanLogs(logs []suiteLog, m *patientMatcher) ([]leak, scanStats, error) {
	st := scanStats{ByKind: map[logKind]int{}}
	var leaks []leak
	for _, l := range logs {
		f, err := os.Open(l.Path)
		if err != nil {
			return nil, st, fmt.Errorf("log of %s: %w", l.Test, err)
		}
		st.Files++
		st.ByKind[l.Kind]++
		r := bufio.NewReader(f)
		for n := 1; ; n++ {
			line, err := r.ReadString('\n')
			if line = strings.TrimRight(line, "\r\n"); line != "" {
				st.Lines++
				record, debug := lineLevel(line)
				switch {
				case debug:
					st.Debug++
					continue // the level the configuration documents for details (log.level: debug)
				case !record && l.Kind == kindCLI:
					st.CLIAnswers++
					continue
				case !record:
					st.Unleveled++
				}
				st.Searched++
				if what := m.find(line); len(what) > 0 {
					leaks = append(leaks, leak{Log: l, Line: n, What: what, Text: clip(line, 400)})
				}
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				f.Close()
				return nil, st, fmt.Errorf("read %s: %w", l.Path, err)
			}
		}
		f.Close()
	}
	return leaks, st, nil
}

const privacyTestName = "TestSuiteLogsCarryNoPatientData"

// checkSuiteLogs is TestSuiteLogsCarryNoPatientData, run by TestMain after every test: it
// prints the result as go test prints a test's and says whether it passed.
func checkSuiteLogs(w io.Writer) bool {
	start := time.Now()
	fmt.Fprintf(w, "=== RUN   %s\n", privacyTestName)
	var problems []string
	logs := registeredLogs()
	ps, err := testPatients()
	if err != nil {
		problems = append(problems, err.Error())
	}
	m := newPatientMatcher(ps)
	leaks, st, err := scanLogs(logs, m)
	if err != nil {
		problems = append(problems, err.Error())
	}
	for _, l := range leaks {
		problems = append(problems, fmt.Sprintf("patient data %q at info level or above: %s line %d (%s of %s):\n        %s",
			l.What, filepath.Base(l.Log.Path), l.Line, l.Log.Kind, l.Log.Test, l.Text))
	}
	runs := st.ByKind[kindRun]
	if runs > 0 && st.Searched == 0 {
		problems = append(problems, fmt.Sprintf("%d bridge run(s) but not one log line at info or above: the logs did not land here", runs))
	}
	fmt.Fprintf(w, "    privacy_test.go: %d log files (%d bridge runs, %d commands, %d log.file), %d lines: %d searched at info level or above (%d not slog records, from bridge output), %d debug, %d command answers not searched; %d patients, %d terms plus any valid INS; %d line(s) with patient data\n",
		st.Files, runs, st.ByKind[kindCLI], st.ByKind[kindFile], st.Lines, st.Searched, st.Unleveled, st.Debug, st.CLIAnswers, len(ps), len(m.terms), len(leaks))
	for _, p := range problems {
		fmt.Fprintf(w, "    privacy_test.go: %s\n", p)
	}
	status := "PASS"
	if len(problems) > 0 {
		status = "FAIL"
	}
	fmt.Fprintf(w, "--- %s: %s (%.2fs)\n", status, privacyTestName, time.Since(start).Seconds())
	return len(problems) == 0
}

// ---- the scan's own proof: it finds what it must and only that ----

func TestPatientLogScanner(t *testing.T) {
	ps, err := testPatients()
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) < 4 {
		t.Fatalf("%d test patients gathered, want the suite's, the hostile suite's and the samples'", len(ps))
	}
	m := newPatientMatcher(ps)
	suiteINS := insFor(2, 56, 3, "75", 56, 777) // made as the suite's letters make theirs
	const ts = "time=2026-03-12T10:00:00.000+01:00 "
	cases := []struct {
		name string
		kind logKind
		line string
		leak bool
	}{
		{"family name at info", kindRun, ts + `level=INFO msg="document claimed" job=20260312-100000-3f9a2c1b file="CR DUPONT.pdf"`, true},
		{"same line at debug", kindRun, ts + `level=DEBUG msg="document claimed" job=20260312-100000-3f9a2c1b file="CR DUPONT.pdf"`, false},
		{"debug+2 is still debug", kindRun, ts + `level=DEBUG+2 msg=x patient=DUPONT`, false},
		{"a dropped file's name, small letters", kindRun, ts + `level=WARN msg="claim failed" name=courrier-dupont.pdf`, true},
		{"given name at error", kindRun, ts + `level=ERROR msg="read failed" err="patient Marie"`, true},
		{"suite INS, plain", kindRun, ts + `level=INFO msg=x ins=` + suiteINS, true},
		{"hostile INS, grouped", kindRun, ts + `level=INFO msg=x ins="2 56 03 75 123 456 54"`, true},
		{"samples INS, Corsica", kindRun, ts + `level=INFO msg=x ins=261022B03315070`, true},
		{"NIR without key", kindRun, ts + `level=INFO msg=x nir=` + suiteINS[:13], true},
		{"birth date ISO", kindRun, ts + `level=INFO msg=x birth=1956-03-12`, true},
		{"birth date as letters write it", kindRun, ts + `level=WARN msg=x text="nee le 12/03/1956"`, true},
		{"accented family name folded", kindRun, ts + `level=INFO msg=x name=DUPRE`, true},
		{"JSON record at info", kindFile, `{"time":"2026-03-12T10:00:00Z","level":"INFO","msg":"x","name":"Dupont"}`, true},
		{"JSON record at debug", kindFile, `{"time":"2026-03-12T10:00:00Z","level":"DEBUG","msg":"x","name":"Dupont"}`, false},
		{"bridge output that is not a record", kindRun, `panic: cannot read DUPONT Marie`, true},
		{"a command's answer", kindCLI, `20260312-100000-3f9a2c1b  held  DUPONT Marie 1956-03-12`, false},
		{"a command's own log record", kindCLI, ts + `level=INFO msg=x patient=DUPONT`, true},
		{"ids only", kindRun, ts + `level=INFO msg="document sent" job=20260312-100000-3f9a2c1b box=biologie dsn=true message_id="<20260312-100000-3f9a2c1b.0123456789012345@mssante.fr>" bytes=1956031212`, false},
		{"a professional", kindRun, ts + `level=INFO msg="desk login" login=secretariat author="Jean MARTIN"`, false},
		{"a number with a bad key", kindRun, ts + `level=INFO msg=x n=199129912345600`, false},
	}
	dir := t.TempDir()
	var logs []suiteLog
	want := 0
	for i, tc := range cases {
		p := filepath.Join(dir, fmt.Sprintf("%02d.log", i))
		if err := os.WriteFile(p, []byte("\n"+tc.line+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		logs = append(logs, suiteLog{Path: p, Kind: tc.kind, Test: tc.name})
		if tc.leak {
			want++
		}
	}
	leaks, st, err := scanLogs(logs, m)
	if err != nil {
		t.Fatal(err)
	}
	found := map[string][]string{}
	for _, l := range leaks {
		if l.Line != 2 {
			t.Errorf("%s: leak reported on line %d, want 2", l.Log.Test, l.Line)
		}
		found[l.Log.Test] = l.What
	}
	for _, tc := range cases {
		if what, ok := found[tc.name]; ok != tc.leak {
			t.Errorf("%s: leak %v (%q), want %v\n  %s", tc.name, ok, what, tc.leak, tc.line)
		}
	}
	if len(leaks) != want || st.Files != len(cases) {
		t.Errorf("%d leaks in %d files, want %d in %d", len(leaks), st.Files, want, len(cases))
	}
	t.Logf("%d patients, %d terms; %d lines, %d searched, %d debug, %d command answers", len(ps), len(m.terms), st.Lines, st.Searched, st.Debug, st.CLIAnswers)
}
