package reading

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/mssbridge/mssbridge/directory"
)

// The corpus tests read every document of a corpus against its truth.json (the shape of
// ../shared/samples/truth.json) and fail on the product's worst failure: a recipient the
// truth does not have, or a document sent that the truth holds. Everything else (a field
// misread, a needless hold) is counted in the score, printed with -v.

type truthRecipient struct {
	Address string `json:"address"`
	RPPS    string `json:"rpps,omitempty"`
	Role    string `json:"role"`
}

type truthDoc struct {
	File       string           `json:"file"`
	Patient    Patient          `json:"patient"`
	Recipients []truthRecipient `json:"recipients"`
	Decision   Decision         `json:"decision"`
	Why        string           `json:"why,omitempty"`
	Own        []string         `json:"own,omitempty"` // the box's own addresses for this document
}

type corpusScore struct {
	docs, right             int
	fields, fieldsRight     int
	needlessHolds, sendHeld int
	wrongRecipients         int
	misses                  []string
}

func (s corpusScore) String() string {
	return fmt.Sprintf("%d/%d documents fully right, %d/%d fields right, %d needless holds (truth send, read hold), %d wrong recipients, %d sends of a held document",
		s.right, s.docs, s.fieldsRight, s.fields, s.needlessHolds, s.wrongRecipients, s.sendHeld)
}

func loadTruth(t *testing.T, path string) []truthDoc {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("truth not available: %v", err)
	}
	var docs []truthDoc
	if err := json.Unmarshal(b, &docs); err != nil {
		t.Fatal(err)
	}
	return docs
}

// runCorpus reads each document with a reader made by newReader (given the truth's own
// addresses) and scores it.
func runCorpus(t *testing.T, pdfDir string, docs []truthDoc, newReader func(own []string) *Reader) corpusScore {
	t.Helper()
	var s corpusScore
	for _, td := range docs {
		r := newReader(td.Own)
		path := filepath.Join(pdfDir, td.File)
		res, err := r.Read(context.Background(), path, "")
		if err != nil {
			t.Errorf("%s: %v", td.File, err)
			continue
		}
		s.docs++
		ok := true
		miss := func(format string, args ...any) {
			ok = false
			s.misses = append(s.misses, td.File+": "+fmt.Sprintf(format, args...))
		}
		// Patient, field by field.
		gp, wp := res.Patient, td.Patient
		for _, f := range []struct {
			name      string
			got, want string
		}{
			{"ins", gp.INS, wp.INS}, {"family_name", gp.FamilyName, wp.FamilyName},
			{"given_names", gp.GivenNames, wp.GivenNames}, {"birth_date", gp.BirthDate, wp.BirthDate},
			{"sex", gp.Sex, wp.Sex}, {"ins_key_valid", fmt.Sprint(gp.INSKeyValid), fmt.Sprint(wp.INSKeyValid)},
		} {
			s.fields++
			if f.got == f.want {
				s.fieldsRight++
			} else {
				miss("patient %s %q, truth %q", f.name, f.got, f.want)
			}
		}
		// Recipients: the set of (address, role).
		want := map[string]string{}
		for _, rc := range td.Recipients {
			want[strings.ToLower(rc.Address)] = rc.Role
		}
		got := map[string]string{}
		for _, rc := range res.Recipients {
			a := strings.ToLower(rc.Address)
			got[a] = string(rc.Role)
			if _, in := want[a]; !in {
				s.wrongRecipients++
				t.Errorf("%s: WRONG RECIPIENT %s (%s, source %s); truth %v; reasons %q", td.File, rc.Address, rc.Role, rc.Source, td.Recipients, res.Reasons)
			}
		}
		s.fields++
		if mapsEqual(got, want) {
			s.fieldsRight++
		} else {
			miss("recipients %v, truth %v (reasons %q)", got, want, res.Reasons)
		}
		// Decision.
		s.fields++
		switch {
		case res.Decision == td.Decision:
			s.fieldsRight++
		case res.Decision == DecisionSend:
			s.sendHeld++
			t.Errorf("%s: SENT, truth holds it (%s)", td.File, td.Why)
			miss("decision send, truth hold")
		default:
			s.needlessHolds++
			miss("needless hold: %q", res.Reasons)
		}
		if res.Decision == td.Decision && td.Decision == DecisionHold && len(res.Reasons) == 0 {
			t.Errorf("%s: held without a reason", td.File)
		}
		if ok {
			s.right++
		}
	}
	return s
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func reportScore(t *testing.T, name string, s corpusScore) {
	t.Helper()
	sort.Strings(s.misses)
	for _, m := range s.misses {
		t.Logf("  %s", m)
	}
	t.Logf("%s: %s", name, s)
	if testing.Verbose() {
		fmt.Printf("SCORE %s: %s\n", name, s)
	}
}

var testNowCorpus = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

// openDirectory builds the directory package's index of an extraction in a temporary folder.
func openDirectory(t *testing.T, source string) Directory {
	t.Helper()
	ix, err := directory.Open(context.Background(), source, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ix.Close() })
	return FromIndex(ix)
}

// TestSamplesTruth reads the shared samples with a directory built from their extraction.
func TestSamplesTruth(t *testing.T) {
	dir := filepath.Join("..", "..", "shared", "samples")
	docs := loadTruth(t, filepath.Join(dir, "truth.json"))
	fd := openDirectory(t, filepath.Join(dir, "annuaire-sample.txt"))
	s := runCorpus(t, filepath.Join(dir, "pdf"), docs, func(own []string) *Reader {
		r := NewReader(testExtractor, fakeTrust{}, WithDirectory(fd), WithOwnAddresses(own...))
		r.now = func() time.Time { return testNowCorpus }
		return r
	})
	reportScore(t, "shared samples", s)
	if s.right != s.docs {
		t.Errorf("the shared samples must all come out right")
	}
}

// TestCorpus reads the reading corpus (testdata/corpus: LibreOffice, Ghostscript, ReportLab
// and groff letters; generate.py rebuilds it) against its truth and its directory.
func TestCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "corpus")
	docs := loadTruth(t, filepath.Join(dir, "truth.json"))
	if len(docs) < 40 {
		t.Errorf("the corpus has %d documents, want at least 40", len(docs))
	}
	fd := openDirectory(t, filepath.Join(dir, "annuaire.txt"))
	s := runCorpus(t, filepath.Join(dir, "pdf"), docs, func(own []string) *Reader {
		r := NewReader(testExtractor, fakeTrust{}, WithDirectory(fd), WithOwnAddresses(own...))
		r.now = func() time.Time { return testNowCorpus }
		return r
	})
	reportScore(t, "corpus", s)
}
