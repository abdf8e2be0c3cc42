package pki

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"
)

// exchange runs one TLS connection over loopback TCP: the server handshakes and writes
// "ok", the client handshakes and reads it. Under TLS 1.3 a client certificate refused
// by the server shows on the client only at its first read, hence the exchange.
func exchange(t *testing.T, serverCfg, clientCfg *tls.Config) (serverErr, clientErr error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		tc := tls.Server(c, serverCfg)
		if err := tc.Handshake(); err != nil {
			done <- err
			return
		}
		_, err = tc.Write([]byte("ok"))
		done <- err
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	tc := tls.Client(c, clientCfg)
	clientErr = tc.Handshake()
	if clientErr == nil {
		buf := make([]byte, 2)
		_, clientErr = io.ReadFull(tc, buf)
	}
	c.Close()
	return <-done, clientErr
}

func mustCA(t *testing.T, name string) *CA {
	t.Helper()
	ca, err := NewCA(name, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// mustTLS returns a helper turning an Issue result into a tls.Certificate.
func mustTLS(t *testing.T) func(*KeyPair, error) tls.Certificate {
	return func(kp *KeyPair, err error) tls.Certificate {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		c, err := kp.TLSCertificate()
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
}

func TestMutualTLS(t *testing.T) {
	ca := mustCA(t, "Demo IGC")
	other := mustCA(t, "Other CA")

	pair := mustTLS(t)
	server := pair(ca.IssueServer([]string{"127.0.0.1", "localhost"}, time.Hour))
	box := pair(ca.IssueClient("noreply-biologie@ch-exemple.mssante.fr", time.Hour))
	stranger := pair(other.IssueClient("noreply-biologie@ch-exemple.mssante.fr", time.Hour))
	otherServer := pair(other.IssueServer([]string{"localhost"}, time.Hour))
	serverAsClient := pair(ca.IssueServer([]string{"localhost"}, time.Hour))
	clientAsServer := pair(ca.IssueClient("localhost", time.Hour))

	serverCfg := func(cert tls.Certificate, version uint16) *tls.Config {
		return &tls.Config{
			Certificates: []tls.Certificate{cert},
			ClientAuth:   tls.RequireAndVerifyClientCert,
			ClientCAs:    ca.Pool(),
			MinVersion:   version,
			MaxVersion:   version,
		}
	}
	clientCfg := func(name string, certs ...tls.Certificate) *tls.Config {
		return &tls.Config{Certificates: certs, RootCAs: ca.Pool(), ServerName: name, MinVersion: tls.VersionTLS12}
	}

	tests := []struct {
		name   string
		server tls.Certificate
		client *tls.Config
		ok     bool
	}{
		{"box certificate, IP name", server, clientCfg("127.0.0.1", box), true},
		{"box certificate, DNS name", server, clientCfg("localhost", box), true},
		{"client certificate from another CA", server, clientCfg("localhost", stranger), false},
		{"no client certificate", server, clientCfg("localhost"), false},
		{"server certificate as client certificate", server, clientCfg("localhost", serverAsClient), false},
		{"server from another CA", otherServer, clientCfg("localhost", box), false},
		{"client certificate as server certificate", clientAsServer, clientCfg("localhost", box), false},
		{"wrong host name", server, clientCfg("smtp.example.org", box), false},
	}
	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		for _, tc := range tests {
			t.Run(tls.VersionName(version)+"/"+tc.name, func(t *testing.T) {
				serr, cerr := exchange(t, serverCfg(tc.server, version), tc.client)
				if tc.ok && (serr != nil || cerr != nil) {
					t.Fatalf("server: %v; client: %v", serr, cerr)
				}
				if !tc.ok && (serr == nil || cerr == nil) {
					t.Fatalf("exchange succeeded on one side: server: %v; client: %v", serr, cerr)
				}
			})
		}
	}
}

func TestCertificateFields(t *testing.T) {
	ca, err := NewCA("Demo IGC", 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if !ca.Cert.IsCA || ca.Cert.Subject.CommonName != "Demo IGC" || len(ca.Cert.SubjectKeyId) == 0 {
		t.Errorf("CA = %+v", ca.Cert.Subject)
	}
	srv, err := ca.IssueServer([]string{"localhost", "127.0.0.1", "::1", "smtp.demo.mssante.fr"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(srv.Cert.DNSNames, []string{"localhost", "smtp.demo.mssante.fr"}) {
		t.Errorf("DNS SANs = %v", srv.Cert.DNSNames)
	}
	if len(srv.Cert.IPAddresses) != 2 || !srv.Cert.IPAddresses[0].Equal(net.ParseIP("127.0.0.1")) || !srv.Cert.IPAddresses[1].Equal(net.IPv6loopback) {
		t.Errorf("IP SANs = %v", srv.Cert.IPAddresses)
	}
	if !slices.Equal(srv.Cert.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) || srv.Cert.IsCA {
		t.Errorf("server EKU = %v, IsCA %v", srv.Cert.ExtKeyUsage, srv.Cert.IsCA)
	}

	const addr = "noreply-biologie@ch-exemple.mssante.fr"
	cl, err := ca.IssueClient(addr, 1000*time.Hour) // longer than the CA
	if err != nil {
		t.Fatal(err)
	}
	if cl.Cert.Subject.CommonName != addr || !slices.Equal(cl.Cert.EmailAddresses, []string{addr}) {
		t.Errorf("client subject = %v, emails %v", cl.Cert.Subject, cl.Cert.EmailAddresses)
	}
	if !slices.Equal(cl.Cert.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}) {
		t.Errorf("client EKU = %v", cl.Cert.ExtKeyUsage)
	}
	if cl.Cert.NotAfter.After(ca.Cert.NotAfter) {
		t.Errorf("client outlives CA: %v > %v", cl.Cert.NotAfter, ca.Cert.NotAfter)
	}
	if !cl.Cert.NotBefore.Before(time.Now()) {
		t.Errorf("NotBefore not back-dated: %v", cl.Cert.NotBefore)
	}
	if _, err := cl.Cert.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("client does not verify: %v", err)
	}
	if cl.Cert.SerialNumber.Cmp(srv.Cert.SerialNumber) == 0 {
		t.Error("two certificates with one serial")
	}

	bad := []struct {
		name string
		err  error
	}{
		{"no host", func() error { _, err := ca.IssueServer(nil, time.Hour); return err }()},
		{"no name", func() error { _, err := ca.IssueClient("", time.Hour); return err }()},
		{"zero validity", func() error { _, err := ca.IssueClient("x", 0); return err }()},
		{"negative CA validity", func() error { _, err := NewCA("x", -time.Hour); return err }()},
	}
	for _, b := range bad {
		if b.err == nil {
			t.Errorf("%s: no error", b.name)
		}
	}
}

func TestWriteAndLoad(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certs")
	ca := mustCA(t, "Demo IGC")
	if err := ca.WriteCA(dir); err != nil {
		t.Fatal(err)
	}
	kp, err := ca.IssueClient("box@ch-exemple.mssante.fr", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := kp.WriteFiles(dir, "biologie"); err != nil {
		t.Fatal(err)
	}

	// The files are what tls.LoadX509KeyPair and a ca_file reader expect.
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, "biologie.crt"), filepath.Join(dir, "biologie.key"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(pair.Certificate[0], kp.Cert.Raw) {
		t.Error("written certificate differs")
	}
	caPEM, err := os.ReadFile(filepath.Join(dir, CACertFile))
	if err != nil || !bytes.Equal(caPEM, ca.CertPEM()) {
		t.Fatalf("ca.crt differs (%v)", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("ca.crt not PEM")
	}

	loaded, err := LoadCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !loaded.Cert.Equal(ca.Cert) {
		t.Fatal("LoadCA: other certificate")
	}
	kp2, err := loaded.IssueClient("other@ch-exemple.mssante.fr", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kp2.Cert.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Fatalf("certificate from the loaded CA does not verify: %v", err)
	}

	if runtime.GOOS != "windows" {
		for _, name := range []string{CACertFile, CAKeyFile, "biologie.crt", "biologie.key"} {
			st, err := os.Stat(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != 0o600 {
				t.Errorf("%s mode %v", name, st.Mode().Perm())
			}
		}
		st, _ := os.Stat(dir)
		if st.Mode().Perm() != 0o700 {
			t.Errorf("folder mode %v", st.Mode().Perm())
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 4 {
		t.Errorf("folder holds %d files, want 4 (no temporary left)", len(entries))
	}

	for _, name := range []string{"", "..", "a/b", `a\b`, "c:x"} {
		if err := kp.WriteFiles(dir, name); err == nil {
			t.Errorf("WriteFiles(%q) accepted", name)
		}
	}
	if _, err := LoadCA(t.TempDir()); err == nil {
		t.Error("LoadCA of an empty folder succeeded")
	}
}
