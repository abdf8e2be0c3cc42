package hostile

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	gen "github.com/mssbridge/mssbridge/testdata/hostile"
)

// A hostile document: its file name when dropped, where it was generated, and what must
// become of it.
type hostileDoc struct {
	name string // as dropped into the input
	path string // generated file
	want string // sent, held or failed
	// reason: a fragment of the French reason (held or failed)
	reason string
}

var (
	fixtureOnce sync.Once
	fixtureDir  string
	fixtureErr  error
	fixtureList []hostileDoc
)

// fixtures generates the hostile set once per test process (the bombs take a second or two
// to make) into a temporary folder removed by cleanupFixtures.
func fixtures(t *testing.T) []hostileDoc {
	t.Helper()
	fixtureOnce.Do(func() {
		fixtureDir, fixtureErr = os.MkdirTemp("", "mssbridge-hostile-")
		if fixtureErr != nil {
			return
		}
		enc, err := gen.Encrypted()
		if err != nil {
			fixtureErr = err
			return
		}
		small := []struct {
			name, want, reason string
			data               []byte
		}{
			{"vide.pdf", "held", "fichier vide", nil},
			{"tronque.pdf", "held", "pas un PDF lisible", gen.Truncated()},
			{"aleatoire.pdf", "held", "pas un PDF lisible", gen.RandomWithPDFHeader(200_000, 1)},
			{"aleatoire.bin", "failed", "n'est pas un PDF", gen.Random(50_000, 2)},
			{"pas-un-pdf.pdf", "held", "pas un PDF lisible", []byte("Bonjour, ceci est un texte et non un PDF.\n")},
			{"chiffre.pdf", "held", "mot de passe", enc},
			{"bombe.pdf", "held", "mémoire", gen.FlateBomb(2 << 30)},
			// PDFium inflates the catalog's XMP packet too: held like the other bomb.
			{"bombe-xmp.pdf", "held", "mémoire", gen.MetadataBomb(1 << 30)},
			{"imbrique.pdf", "sent", "", gen.DeepNesting(1_000_000)},
			{"boucle.pdf", "held", "illisible", gen.ReferenceLoop()},
			{"300-pages.pdf", "sent", "", gen.ManyPages(300, gen.Dupont)},
			{"CON.pdf", "sent", "", gen.Tagged(gen.Dupont, "Nom reserve Windows")},
			{"ctl\x01\x1b[2J\r\nBcc: x.pdf", "sent", "", gen.Tagged(gen.Dupont, "Caracteres de controle")},
			// 300 characters cannot be a file name on ext4, NTFS or APFS (255 at most): the
			// longest name the file system allows stands in for it.
			{longName(255), "sent", "", gen.Tagged(gen.Dupont, "Nom long")},
			{"orphelin.json", "failed", "sans le PDF", []byte(`{"recipients":[{"address":"` + gen.Recipient + `"}]}`)},
		}
		for i, s := range small {
			p := filepath.Join(fixtureDir, fmt.Sprintf("f%02d", i))
			if fixtureErr = os.WriteFile(p, s.data, 0o600); fixtureErr != nil {
				return
			}
			fixtureList = append(fixtureList, hostileDoc{name: s.name, path: p, want: s.want, reason: s.reason})
		}
		big := filepath.Join(fixtureDir, "big")
		if fixtureErr = gen.WriteBig(big, 50<<20, gen.Dupont); fixtureErr != nil {
			return
		}
		// Past the 40 MiB PDFium budget; it could not be sent anyway (20 MB messages).
		fixtureList = append(fixtureList, hostileDoc{name: "scan-50Mo.pdf", path: big, want: "held", reason: "mémoire"})
		// A valid scan as large as a 20 MB message allows (17 MB once in base64): read, and
		// sent from the spool file, never held whole in memory.
		scan := filepath.Join(fixtureDir, "scan")
		if fixtureErr = gen.WriteBig(scan, 12<<20, gen.Dupont); fixtureErr != nil {
			return
		}
		fixtureList = append(fixtureList, hostileDoc{name: "scan-12Mo.pdf", path: scan, want: "sent"})
	})
	if fixtureErr != nil {
		t.Fatal(fixtureErr)
	}
	return fixtureList
}

func fixture(t *testing.T, name string) hostileDoc {
	t.Helper()
	for _, d := range fixtures(t) {
		if d.name == name {
			return d
		}
	}
	t.Fatalf("no fixture %q", name)
	return hostileDoc{}
}

// longName is a PDF name of n bytes, accents included (two bytes each).
func longName(n int) string {
	b := []byte("Compte-rendu-d-hospitalisation-tres-long-")
	for len(b) < n-4-1 {
		b = append(b, "é"...)
	}
	for len(b) < n-4 {
		b = append(b, 'x')
	}
	return string(b) + ".pdf"
}

func cleanupFixtures() {
	if fixtureDir != "" {
		os.RemoveAll(fixtureDir)
	}
}
