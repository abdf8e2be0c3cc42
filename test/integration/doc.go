// Package integration holds black-box tests of the mssbridge binary against a real Postfix
// configured as an MSSanté operator (mutual TLS, virtual mailboxes) by ci/postfix/setup.sh.
//
// The tests sit behind the `integration` build tag and MSSBRIDGE_INTEGRATION=1, so that
// `go test ./...` stays fast and runs anywhere. .ci/run runs them as:
//
//	ci/postfix/setup.sh /tmp/mssbridge-ci
//	MSSBRIDGE_INTEGRATION=1 go test -tags integration -count=1 -v ./test/integration/... -timeout 20m
//
// CI_ENV names the env file setup.sh writes (default /tmp/mssbridge-ci/env); MSSBRIDGE_BIN
// names a binary to test instead of building ./cmd/mssbridge; MSSBRIDGE_KILL_SEED replays the
// kill schedule of TestSIGKILLTrials.
package integration
