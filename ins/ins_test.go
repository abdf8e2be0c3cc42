package ins

import (
	"errors"
	"testing"
)

func TestNormalize(t *testing.T) {
	tests := []struct{ in, want string }{
		{"2 85 04 75 111 342 93", "285047511134293"},
		{"1.39.08.2a.004.088.72", "139082A00408872"},
		{"2-56-03-69-123-045-45", "256036912304545"},
		{"2\u00a056\u202f03\u2009691230454\u20125", "256036912304545"},
		{"1\u221239", "139"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := Normalize(tt.in); got != tt.want {
			t.Errorf("Normalize(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		want     string
		keyValid bool
		err      error
	}{
		// The samples' INS (shared/samples/truth.json).
		{"sample 01 spaced", "2 56 03 69 123 045 45", "256036912304545", true, nil},
		{"sample 02", "148112901900703", "148112901900703", true, nil},
		{"sample 03", "1 15 06 69 381 211 66", "115066938121166", true, nil},
		{"sample 04", "290016912304593", "290016912304593", true, nil},
		{"sample 05 wrong key, Corsica", "1 39 08 2A 004 088 72", "139082A00408872", false, nil},
		{"sample 05 right key", "139082A00408865", "139082A00408865", true, nil},
		{"sample 06", "272096912304536", "272096912304536", true, nil},
		{"sample 07", "285047511134293", "285047511134293", true, nil},
		{"2B", "1 55 03 2B 123 456 43", "155032B12345643", true, nil},
		{"lower-case corsica", "155032b12345643", "155032B12345643", true, nil},
		{"unknown month 20", "1992099001001" + key(t, "1992099001001"), "", true, nil},
		{"unknown month 50", "3995099001001" + key(t, "3995099001001"), "", true, nil},
		{"provisional 7", "7850175111342" + key(t, "7850175111342"), "", true, nil},
		{"sex 5", "585047511134293", "585047511134293", false, ErrSex},
		{"sex 0", "085047511134293", "085047511134293", false, ErrSex},
		{"month 00", "285007511134293", "285007511134293", false, ErrMonth},
		{"month 13", "285137511134293", "285137511134293", false, ErrMonth},
		{"month 45", "285457511134293", "285457511134293", false, ErrMonth},
		{"too short", "28504751113429", "28504751113429", false, ErrLength},
		{"too long", "2850475111342931", "2850475111342931", false, ErrLength},
		{"empty", "", "", false, ErrLength},
		{"letter in commune", "28504751X134293", "28504751X134293", false, ErrSyntax},
		{"2C", "2850420C1134293", "2850420C1134293", false, ErrSyntax},
		{"2A elsewhere", "22A047511134293", "22A047511134293", false, ErrSyntax},
		{"letter in key", "28504751113429A", "28504751113429A", false, ErrSyntax},
		{"non-ASCII", "2850475111342é3", "2850475111342é3", false, ErrSyntax},
		{"wrong key", "285047511134294", "285047511134294", false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, keyValid, err := Check(tt.in)
			want := tt.want
			if want == "" {
				want = Normalize(tt.in)
			}
			if got != want || keyValid != tt.keyValid || !errors.Is(err, tt.err) {
				t.Errorf("Check(%q) = %q, %v, %v; want %q, %v, %v", tt.in, got, keyValid, err, want, tt.keyValid, tt.err)
			}
		})
	}
}

func key(t *testing.T, nir string) string {
	t.Helper()
	k, err := Key(nir)
	if err != nil {
		t.Fatalf("Key(%q): %v", nir, err)
	}
	return k
}

func TestKey(t *testing.T) {
	tests := []struct{ nir, want string }{
		{"2850475111342", "93"},
		{"139082A004088", "65"},
		{"155032B123456", "43"},
		{"2990199001001", "24"},
	}
	for _, tt := range tests {
		if got := key(t, tt.nir); got != tt.want {
			t.Errorf("Key(%q) = %q, want %q", tt.nir, got, tt.want)
		}
	}
	if _, err := Key("285047511134"); !errors.Is(err, ErrLength) {
		t.Errorf("Key(12 chars) error = %v, want ErrLength", err)
	}
}

func TestSexFromINS(t *testing.T) {
	tests := []struct{ in, want string }{
		{"285047511134293", "F"}, {"148112901900703", "M"}, {"3", "M"}, {"4", "F"},
		{"7", "M"}, {"8", "F"}, {"5", ""}, {"", ""},
	}
	for _, tt := range tests {
		if got := SexFromINS(tt.in); got != tt.want {
			t.Errorf("SexFromINS(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestBirthYearMonthFromINS(t *testing.T) {
	tests := []struct {
		in        string
		yy, month int
		ok        bool
	}{
		{"285047511134293", 85, 4, true},
		{"139082A00408872", 39, 8, true},
		{"199209900100124", 99, 0, true},
		{"395509900100124", 95, 0, true},
		{"285137511134293", 0, 0, false},
		{"2+1047511134293", 0, 0, false},
		{"285", 0, 0, false},
	}
	for _, tt := range tests {
		yy, m, ok := BirthYearMonthFromINS(tt.in)
		if yy != tt.yy || m != tt.month || ok != tt.ok {
			t.Errorf("BirthYearMonthFromINS(%q) = %d, %d, %v; want %d, %d, %v", tt.in, yy, m, ok, tt.yy, tt.month, tt.ok)
		}
	}
}
