package mail

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// certFile writes a self-signed certificate valid from notBefore to notAfter, after a key
// block (as some tools write both in one file).
func certFile(t *testing.T, notBefore, notAfter time.Time) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "noreply@ch.mssante.fr"},
		NotBefore: notBefore, NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	data := append(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	p := filepath.Join(t.TempDir(), "box.crt")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestExpiresWithin(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name     string
		notAfter time.Time
		want     bool
	}{
		{"ten days left", now.Add(10 * 24 * time.Hour), true},
		{"29 days left", now.Add(29 * 24 * time.Hour), true},
		{"31 days left", now.Add(31 * 24 * time.Hour), false},
		{"a year left", now.Add(365 * 24 * time.Hour), false},
		{"expired yesterday", now.Add(-24 * time.Hour), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			end, soon, err := ExpiresWithin(certFile(t, now.Add(-400*24*time.Hour), tt.notAfter), CertWarning)
			if err != nil {
				t.Fatal(err)
			}
			if soon != tt.want || end.Unix() != tt.notAfter.Unix() {
				t.Errorf("ExpiresWithin = %v, %v; want %v, %v", end, soon, tt.notAfter, tt.want)
			}
		})
	}
	if _, _, err := ExpiresWithin(filepath.Join(t.TempDir(), "absent.crt"), CertWarning); err == nil {
		t.Error("missing file: no error")
	}
	junk := filepath.Join(t.TempDir(), "junk.crt")
	os.WriteFile(junk, []byte("not a certificate\n"), 0o600)
	if _, _, err := ExpiresWithin(junk, CertWarning); err == nil {
		t.Error("file without a certificate: no error")
	}
}
