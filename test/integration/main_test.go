//go:build integration

package integration

import (
	"bufio"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// ciEnv is what ci/postfix/setup.sh wrote into its env file.
type ciEnv struct {
	Host         string
	StartTLSPort int
	TLSPort      int
	BoxAddress   string
	CAFile       string
	ClientCert   string
	ClientKey    string
	RogueCert    string
	RogueKey     string
	MaildirRoot  string
	PostfixLog   string
	Flip         string
}

var (
	env        ciEnv
	binPath    string // the mssbridge binary built once for all tests
	skipReason string // set when the integration tests are not asked for
	runID      string // unique per run, part of every recipient local part
)

func TestMain(m *testing.M) {
	if os.Getenv("MSSBRIDGE_INTEGRATION") != "1" {
		skipReason = "integration tests: set MSSBRIDGE_INTEGRATION=1 after ci/postfix/setup.sh (see .ci/run)"
		os.Exit(m.Run())
	}
	tmp, err := os.MkdirTemp("", "mssbridge-it-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		os.Exit(1)
	}
	code := func() int {
		defer os.RemoveAll(tmp)
		if err := prepare(tmp); err != nil {
			fmt.Fprintln(os.Stderr, "integration: setup failed:", err)
			return 1
		}
		logDir, keep, err := suiteLogDir()
		if err != nil {
			fmt.Fprintln(os.Stderr, "integration: suite log folder:", err)
			return 1
		}
		suiteLogs.mu.Lock()
		suiteLogs.dir = logDir
		suiteLogs.mu.Unlock()
		code := m.Run()
		// After every test and its cleanups: no bridge writes any more (privacy_test.go).
		if !checkSuiteLogs(os.Stdout) {
			fmt.Println("FAIL")
			code, keep = 1, true
		}
		if keep {
			fmt.Printf("integration: the suite's logs are kept in %s\n", logDir)
		} else {
			os.RemoveAll(logDir)
		}
		return code
	}()
	os.Exit(code)
}

// suiteLogDir is where every bridge and command of the run logs: $MSSBRIDGE_IT_LOGS (kept),
// else a temporary folder removed when the logs are clean.
func suiteLogDir() (dir string, keep bool, err error) {
	if dir = os.Getenv("MSSBRIDGE_IT_LOGS"); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return "", false, err
		}
		dir, err = os.MkdirTemp(dir, "run-"+runID+"-")
		return dir, true, err
	}
	dir, err = os.MkdirTemp("", "mssbridge-it-logs-")
	return dir, false, err
}

// prepare reads the CI env file, checks the tools the tests call and builds the binary.
func prepare(tmp string) error {
	path := os.Getenv("CI_ENV")
	if path == "" {
		path = "/tmp/mssbridge-ci/env"
	}
	var err error
	if env, err = loadEnv(path); err != nil {
		return fmt.Errorf("%w (run ci/postfix/setup.sh first, or set CI_ENV)", err)
	}
	for _, tool := range []string{"ps2pdf", env.Flip} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("needs %s: %w", tool, err)
		}
	}
	if fi, err := os.Stat(env.PostfixLog); err != nil || fi.IsDir() {
		return fmt.Errorf("Postfix log %s: not readable (%v)", env.PostfixLog, err)
	}

	b := make([]byte, 3)
	if _, err := rand.Read(b); err != nil {
		return err
	}
	runID = strconv.FormatInt(time.Now().Unix(), 36) + fmt.Sprintf("%02x%02x%02x", b[0], b[1], b[2])

	if binPath = os.Getenv("MSSBRIDGE_BIN"); binPath != "" {
		// A binary built elsewhere (a release build, or a stand-in while the CLI is written).
		if binPath, err = filepath.Abs(binPath); err != nil {
			return err
		}
	} else {
		root, err := moduleRoot()
		if err != nil {
			return err
		}
		binPath = filepath.Join(tmp, "mssbridge")
		build := exec.Command("go", "build", "-o", binPath, "./cmd/mssbridge")
		build.Dir = root
		if out, err := build.CombinedOutput(); err != nil {
			return fmt.Errorf("go build ./cmd/mssbridge: %v\n%s", err, out)
		}
	}
	fmt.Printf("integration: run %s, binary %s, operator %s (starttls %d, tls %d)\n",
		runID, binPath, env.Host, env.StartTLSPort, env.TLSPort)
	return nil
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("not inside the mssbridge module")
	}
	return filepath.Dir(gomod), nil
}

// loadEnv reads KEY=value lines (shell syntax, optional double quotes, # comments).
func loadEnv(path string) (ciEnv, error) {
	f, err := os.Open(path)
	if err != nil {
		return ciEnv{}, err
	}
	defer f.Close()
	kv := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		kv[strings.TrimSpace(k)] = v
	}
	if err := sc.Err(); err != nil {
		return ciEnv{}, err
	}
	var missing []string
	get := func(k string) string {
		v := kv[k]
		if v == "" {
			missing = append(missing, k)
		}
		return v
	}
	port := func(k string) int {
		n, err := strconv.Atoi(get(k))
		if err != nil && kv[k] != "" {
			missing = append(missing, k+" (not a number)")
		}
		return n
	}
	e := ciEnv{
		Host:         get("CI_SMTP_HOST"),
		StartTLSPort: port("CI_SMTP_STARTTLS_PORT"),
		TLSPort:      port("CI_SMTP_TLS_PORT"),
		BoxAddress:   get("CI_BOX_ADDRESS"),
		CAFile:       get("CI_CA_FILE"),
		ClientCert:   get("CI_CLIENT_CERT"),
		ClientKey:    get("CI_CLIENT_KEY"),
		RogueCert:    get("CI_ROGUE_CERT"),
		RogueKey:     get("CI_ROGUE_KEY"),
		MaildirRoot:  get("CI_MAILDIR_ROOT"),
		PostfixLog:   get("CI_POSTFIX_LOG"),
		Flip:         get("CI_FLIP"),
	}
	if len(missing) > 0 {
		return ciEnv{}, fmt.Errorf("%s: missing %s", path, strings.Join(missing, ", "))
	}
	return e, nil
}
