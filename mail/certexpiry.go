package mail

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"time"
)

// CertWarning is how long before its end a box's client certificate is reported: the issue
// asks for 30 days, time enough to order an IGC-Santé certificate and install it.
const CertWarning = 30 * 24 * time.Hour

// ExpiresWithin reads the client certificate in certFile (PEM; in a chain, the first
// certificate is the box's own) and returns its end of validity, and whether that end comes
// within d from now (or has passed). A file without a readable certificate is an error.
//
// Callers: `mssbridge status` (a line per box when true) and the start of `mssbridge run`
// (a warning in the log, then once a day), with CertWarning.
func ExpiresWithin(certFile string, d time.Duration) (time.Time, bool, error) {
	data, err := os.ReadFile(certFile)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("client certificate: %w", err)
	}
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return time.Time{}, false, errors.New("client certificate: no PEM certificate in the file")
		}
		if block.Type != "CERTIFICATE" {
			continue // a key written in the same file, or comments
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return time.Time{}, false, fmt.Errorf("client certificate: %w", err)
		}
		return cert.NotAfter, !cert.NotAfter.After(time.Now().Add(d)), nil
	}
}
