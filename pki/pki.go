// Package pki makes the certificates of the demo and the tests: a throw-away certificate
// authority that stands in for the IGC-Santé, server certificates for a loopback
// MSSanté operator and client certificates for applicative boxes (mutual TLS).
//
// Keys are ECDSA P-256, made with crypto/ecdsa and crypto/rand; certificates are made
// with crypto/x509 alone. Nothing here is meant for production: real boxes use the
// certificates their operator and the IGC-Santé issue.
package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// File names written by WriteCA.
const (
	CACertFile = "ca.crt"
	CAKeyFile  = "ca.key"
)

// Organization is written in the subject of every certificate made here, so that
// nobody mistakes one for a real IGC-Santé certificate.
const Organization = "mssbridge demo (not IGC-Santé)"

// clockSkew back-dates NotBefore so that a peer whose clock is a little behind still
// accepts a certificate made a second ago.
const clockSkew = 5 * time.Minute

// CA is a certificate authority that can issue server and client certificates.
type CA struct {
	Cert    *x509.Certificate
	certPEM []byte
	key     *ecdsa.PrivateKey
}

// KeyPair is an issued certificate with its private key, both PEM-encoded (certificate
// "CERTIFICATE", key PKCS #8 "PRIVATE KEY").
type KeyPair struct {
	CertPEM []byte
	KeyPEM  []byte
	Cert    *x509.Certificate
}

// NewCA makes a self-signed CA valid from now for validity.
func NewCA(commonName string, validity time.Duration) (*CA, error) {
	if validity <= 0 {
		return nil, errors.New("pki: validity must be positive")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	start := time.Now().Add(-clockSkew)
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: commonName, Organization: []string{Organization}},
		NotBefore:             start,
		NotAfter:              start.Add(clockSkew + validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
		// SubjectKeyId is left empty: x509 derives it from the key for a CA.
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	return &CA{Cert: cert, certPEM: pemCert(der), key: key}, nil
}

// LoadCA reads a CA written by WriteCA in dir.
func LoadCA(dir string) (*CA, error) {
	certPEM, err := os.ReadFile(filepath.Join(dir, CACertFile))
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, CAKeyFile))
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("pki: %s: %w", dir, err)
	}
	key, ok := pair.PrivateKey.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("pki: %s: CA key is not ECDSA", dir)
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	if !cert.IsCA {
		return nil, fmt.Errorf("pki: %s: not a CA certificate", dir)
	}
	return &CA{Cert: cert, certPEM: pemCert(pair.Certificate[0]), key: key}, nil
}

// CertPEM returns the CA certificate, PEM-encoded: what peers put in their ca_file.
func (ca *CA) CertPEM() []byte { return append([]byte(nil), ca.certPEM...) }

// Pool returns a certificate pool holding the CA certificate alone.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// WriteCA writes the CA certificate and key as dir/ca.crt and dir/ca.key (mode 0600,
// folder 0700), for LoadCA and for peers' ca_file.
func (ca *CA) WriteCA(dir string) error {
	keyPEM, err := pemKey(ca.key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	if err := writeFile(filepath.Join(dir, CAKeyFile), keyPEM); err != nil {
		return err
	}
	return writeFile(filepath.Join(dir, CACertFile), ca.certPEM)
}

// IssueServer issues a server certificate (ExtKeyUsageServerAuth) for hosts: each is
// an IP address (IP SAN) or a DNS name (DNS SAN); the first is also the common name.
// The certificate never outlives the CA.
func (ca *CA) IssueServer(hosts []string, validity time.Duration) (*KeyPair, error) {
	if len(hosts) == 0 {
		return nil, errors.New("pki: server certificate without host")
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: hosts[0], Organization: []string{Organization}},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	return ca.issue(tmpl, validity)
}

// IssueClient issues a client certificate (ExtKeyUsageClientAuth) whose common name is
// commonName: for an applicative box, its address. An address is also written as an
// email SAN (rfc822Name).
func (ca *CA) IssueClient(commonName string, validity time.Duration) (*KeyPair, error) {
	if commonName == "" {
		return nil, errors.New("pki: client certificate without common name")
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: commonName, Organization: []string{Organization}},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if strings.Contains(commonName, "@") && isPrintableASCII(commonName) {
		tmpl.EmailAddresses = []string{commonName}
	}
	return ca.issue(tmpl, validity)
}

func (ca *CA) issue(tmpl *x509.Certificate, validity time.Duration) (*KeyPair, error) {
	if validity <= 0 {
		return nil, errors.New("pki: validity must be positive")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	if tmpl.SerialNumber, err = newSerial(); err != nil {
		return nil, err
	}
	tmpl.NotBefore = time.Now().Add(-clockSkew)
	tmpl.NotAfter = tmpl.NotBefore.Add(clockSkew + validity)
	if tmpl.NotAfter.After(ca.Cert.NotAfter) {
		tmpl.NotAfter = ca.Cert.NotAfter
	}
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	tmpl.BasicConstraintsValid = true
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	keyPEM, err := pemKey(key)
	if err != nil {
		return nil, err
	}
	return &KeyPair{CertPEM: pemCert(der), KeyPEM: keyPEM, Cert: cert}, nil
}

// TLSCertificate returns the pair as a tls.Certificate, for tls.Config.Certificates.
func (kp *KeyPair) TLSCertificate() (tls.Certificate, error) {
	c, err := tls.X509KeyPair(kp.CertPEM, kp.KeyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("pki: %w", err)
	}
	c.Leaf = kp.Cert
	return c, nil
}

// WriteFiles writes the pair as dir/name.crt and dir/name.key (mode 0600, folder 0700),
// each file replaced whole. name must be a plain file name, no folder.
func (kp *KeyPair) WriteFiles(dir, name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, `/\:`) {
		return fmt.Errorf("pki: bad file name %q", name)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	if err := writeFile(filepath.Join(dir, name+".key"), kp.KeyPEM); err != nil {
		return err
	}
	return writeFile(filepath.Join(dir, name+".crt"), kp.CertPEM)
}

// writeFile writes data to a temporary file beside path (mode 0600) and renames it over
// path, so a reader never sees half a key.
func writeFile(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	name := tmp.Name()
	// CreateTemp already uses 0600; Chmod covers a umask-free platform default.
	_ = tmp.Chmod(0o600)
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(name)
		return fmt.Errorf("pki: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		os.Remove(name)
		return fmt.Errorf("pki: %w", err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(name)
		return fmt.Errorf("pki: %w", err)
	}
	if err := os.Rename(name, path); err != nil {
		os.Remove(name)
		return fmt.Errorf("pki: %w", err)
	}
	return nil
}

func pemCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func pemKey(key crypto.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// newSerial returns a random positive 128-bit serial number (RFC 5280 allows 20 octets).
func newSerial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil
}

func isPrintableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
