// Package config loads and validates mssbridge.yaml: the contract's keys plus the documented
// extensions, with every problem reported as FILE:LINE: message so an IT team can fix the file
// without reading code.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Config is the whole configuration. Values only; no behaviour hangs on it.
type Config struct {
	DataDir   string    `yaml:"data_dir"`
	Boxes     []Box     `yaml:"boxes"`
	Inputs    []Input   `yaml:"inputs"`
	Printer   *Printer  `yaml:"printer"`
	Routing   Routing   `yaml:"routing"`
	Trust     Trust     `yaml:"trust"`
	Directory Directory `yaml:"directory"`
	Import    Import    `yaml:"import"`
	Web       Web       `yaml:"web"`
	Watch     Watch     `yaml:"watch"`
	Sending   Sending   `yaml:"sending"`
	Log       Log       `yaml:"log"`

	// Path is the file the configuration was read from (for messages and relative paths).
	Path string `yaml:"-"`
}

// Box is an applicative mailbox (BAL applicative) and how to reach its operator.
type Box struct {
	ID      string    `yaml:"id"`
	Address string    `yaml:"address"`
	SMTP    Endpoint  `yaml:"smtp"`
	IMAP    *Endpoint `yaml:"imap"`
	// Extensions for MSSanté-native messages (IHE XDM with a CDA N1 document): the
	// professional responsible for what the box sends, and the structure.
	Responsible *Professional `yaml:"responsible"`
	Structure   *Structure    `yaml:"structure"`
	// XDM: "auto" (default: attach IHE_XDM.ZIP when the patient's INS is known and
	// responsible+structure are set) or "never".
	XDM string `yaml:"xdm"`
	// INSOID: which INS identifier system to write: nir (default), test or demo.
	INSOID string `yaml:"ins_oid"`
	// XDMExclude lists recipients (addresses, or @domain) whose software cannot read IHE XDM.
	XDMExclude []string `yaml:"xdm_exclude"`
	// ReplyTo is where answers should go, when not the box itself.
	ReplyTo string `yaml:"reply_to"`
	// MaxMessageSize caps this box's messages (the operator's limit); sending.max_message_size
	// when zero.
	MaxMessageSize ByteSize `yaml:"max_message_size"`
}

// Professional is a health professional identified by RPPS.
type Professional struct {
	RPPS       string `yaml:"rpps"`
	FamilyName string `yaml:"family_name"`
	GivenName  string `yaml:"given_name"`
}

// Structure is a health structure.
type Structure struct {
	FINESS string `yaml:"finess"`
	SIRET  string `yaml:"siret"`
	Name   string `yaml:"name"`
}

// Endpoint is one server of the operator: SMTP submission or IMAP.
type Endpoint struct {
	Host         string `yaml:"host"`
	Port         int    `yaml:"port"`
	Security     string `yaml:"security"` // starttls | tls | none
	CAFile       string `yaml:"ca_file"`
	CertFile     string `yaml:"cert_file"`
	KeyFile      string `yaml:"key_file"`
	Username     string `yaml:"username"`
	PasswordFile string `yaml:"password_file"`
	Mailbox      string `yaml:"mailbox"`
	// IMAP extensions: where handled and refused messages go on the server, or a keyword
	// instead of a move when the operator allows no folders.
	ProcessedMailbox  string `yaml:"processed_mailbox"`
	QuarantineMailbox string `yaml:"quarantine_mailbox"`
	FlagOnly          bool   `yaml:"flag_only"`
}

// Input is a watched folder.
type Input struct {
	ID   string `yaml:"id"`
	Path string `yaml:"path"`
	Box  string `yaml:"box"`
}

// Printer is the optional raw print listener.
type Printer struct {
	Listen string `yaml:"listen"`
	Input  string `yaml:"input"`
	// Extensions: limits per print job, and more printers (each its own port and input).
	MaxSize     ByteSize        `yaml:"max_size"`
	IdleTimeout time.Duration   `yaml:"idle_timeout"`
	JobTimeout  time.Duration   `yaml:"job_timeout"`
	More        []PrinterListen `yaml:"more"`
}

// PrinterListen is one more print listener.
type PrinterListen struct {
	Listen string `yaml:"listen"`
	Input  string `yaml:"input"`
}

// Routing holds the rules, first match wins.
type Routing struct {
	Rules         []Rule `yaml:"rules"`
	DefaultAction string `yaml:"default_action"`
}

// Rule is one routing rule.
type Rule struct {
	Name   string    `yaml:"name"`
	When   Condition `yaml:"when"`
	Box    string    `yaml:"box"`
	To     []string  `yaml:"to"`
	Cc     []string  `yaml:"cc"`
	Action string    `yaml:"action"`
	// XDM: false sends the PDF alone, for receivers whose software cannot read IHE XDM.
	XDM *bool `yaml:"xdm"`
	// DocumentType: LOINC code of the document type for the CDA (e.g. 11502-2 for a lab
	// report); the default is 11488-4, consultation note.
	DocumentType string `yaml:"document_type"`
	// ToPatient also sends the document to the patient's own messaging (Mon Espace Santé,
	// INS@patient.mssante.fr); CloseConversation marks it [FIN] (X-MSS-MES: FIN).
	ToPatient         bool `yaml:"to_patient"`
	CloseConversation bool `yaml:"close_conversation"`
	// ReadReceipt asks for a read receipt (Disposition-Notification-To: the box).
	ReadReceipt bool   `yaml:"read_receipt"`
	ReplyTo     string `yaml:"reply_to"`
}

// Condition says when a rule applies; every field set must match.
type Condition struct {
	Input            string `yaml:"input"`
	TextContains     string `yaml:"text_contains"`
	TitleContains    string `yaml:"title_contains"`
	RecipientDomain  string `yaml:"recipient_domain"`
	HasPatientINS    *bool  `yaml:"has_patient_ins"`
	Source           string `yaml:"source"` // tag, metadata, sidecar, text, directory: how recipients were found
	PrintedBy        string `yaml:"printed_by"`
	FileNameContains string `yaml:"file_name_contains"`
}

// Trust configures the trust space.
type Trust struct {
	DomainsFile string `yaml:"domains_file"`
}

// Directory configures the Annuaire Santé extraction.
type Directory struct {
	File string `yaml:"file"`
}

// Import is where received documents are deposited.
type Import struct {
	Path string `yaml:"path"`
	// Extensions: refused mail is kept here with its reason (default data_dir/quarantine),
	// and messages over MaxMessageSize are not downloaded.
	Quarantine     string   `yaml:"quarantine"`
	MaxMessageSize ByteSize `yaml:"max_message_size"`
	MaxAttachment  ByteSize `yaml:"max_attachment_size"`
}

// Web is the review desk's listener.
type Web struct {
	Listen string `yaml:"listen"`
	// Extensions: HTTPS (required to listen beyond loopback), session lifetimes, and accounts
	// fixed by the configuration (argon2id or bcrypt hashes) beside those of `mssbridge user`.
	TLSCertFile string        `yaml:"tls_cert_file"`
	TLSKeyFile  string        `yaml:"tls_key_file"`
	SessionIdle time.Duration `yaml:"session_idle"`
	SessionMax  time.Duration `yaml:"session_max"`
	Users       []WebUser     `yaml:"users"`
}

// WebUser is a desk account given in the configuration.
type WebUser struct {
	Login string `yaml:"login"`
	Hash  string `yaml:"hash"`
}

// Watch tunes the folder watcher (extension).
type Watch struct {
	Quiet   time.Duration `yaml:"quiet"`
	Rescan  time.Duration `yaml:"rescan"`
	MaxWait time.Duration `yaml:"max_wait"`
	// PDFQuiet: the shorter window of a PDF already ending with %%EOF (default 200ms; a
	// negative value turns the shortcut off). SidecarWait: how long after the PDF a NAME.json
	// may still come (default 200ms).
	PDFQuiet    time.Duration `yaml:"pdf_quiet"`
	SidecarWait time.Duration `yaml:"sidecar_wait"`
}

// Sending tunes the SMTP side (extension).
type Sending struct {
	RetryInitial   time.Duration `yaml:"retry_initial"`
	RetryMax       time.Duration `yaml:"retry_max"`
	GiveUpAfter    time.Duration `yaml:"give_up_after"`
	MaxMessageSize ByteSize      `yaml:"max_message_size"`
	Timeout        time.Duration `yaml:"timeout"`
	Connections    int           `yaml:"connections"` // parallel SMTP connections per box
}

// Log tunes logging (extension).
type Log struct {
	Level string `yaml:"level"` // debug | info | warn | error
	File  string `yaml:"file"`
}

// ByteSize is a size written as 20MB, 512KiB or a plain number of bytes.
type ByteSize int64

// UnmarshalYAML parses sizes such as "20MB".
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseByteSize(n.Value)
	if err != nil {
		return err
	}
	*b = v
	return nil
}

// ParseByteSize reads 20MB, 20MiB, 1.5GB, 1024.
func ParseByteSize(s string) (ByteSize, error) {
	t := strings.TrimSpace(strings.ToUpper(s))
	units := []struct {
		suffix string
		mult   float64
	}{{"KIB", 1 << 10}, {"MIB", 1 << 20}, {"GIB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1}}
	mult := 1.0
	for _, u := range units {
		if strings.HasSuffix(t, u.suffix) {
			mult = u.mult
			t = strings.TrimSpace(strings.TrimSuffix(t, u.suffix))
			break
		}
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("invalid size %q (write e.g. 20MB)", s)
	}
	return ByteSize(f * mult), nil
}

// Problem is one thing wrong in the file, with its line.
type Problem struct {
	File    string
	Line    int
	Message string
}

func (p Problem) String() string { return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Message) }

// Error lists every problem found; the CLI prints one per line and exits 2.
type Error struct{ Problems []Problem }

func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Defaults used when a key is absent. Each is a compromise stated where it is used.
const (
	// A PDF writer that pauses longer than 2 s mid-file is rare on local disks; network
	// shares are covered by the %%EOF check as well.
	DefaultQuiet = 2 * time.Second
	// Shares give no events: 10 s bounds the delay a secretary sees on them.
	DefaultRescan       = 10 * time.Second
	DefaultMaxWait      = 10 * time.Minute
	DefaultRetryInitial = 30 * time.Second
	DefaultRetryMax     = 30 * time.Minute
	// Three days covers a long weekend of operator outage before a human must look.
	DefaultGiveUpAfter = 72 * time.Hour
	// Operators cap messages around 20-30 MB; base64 inflates by a third.
	DefaultMaxMessageSize = ByteSize(20e6)
	DefaultTimeout        = 60 * time.Second
	DefaultConnections    = 2
)

// Load reads, decodes and validates the file. Every problem is returned at once as *Error.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read configuration: %w", err)
	}
	return Parse(path, data, OSChecks{})
}

// Checks lets tests replace file-system checks; production uses OSChecks.
type Checks interface {
	FileReadable(path string) error
}

// OSChecks checks the real file system.
type OSChecks struct{}

// FileReadable reports whether path is a regular file that can be opened.
func (OSChecks) FileReadable(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if st.IsDir() {
		return errors.New("is a folder, not a file")
	}
	return nil
}

// Parse decodes data (read from path) and validates it.
func Parse(path string, data []byte, checks Checks) (*Config, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, &Error{Problems: []Problem{yamlProblem(path, err)}}
	}
	var cfg Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &Error{Problems: []Problem{{File: path, Line: 1, Message: "the file is empty"}}}
		}
		return nil, &Error{Problems: yamlProblems(path, err)}
	}
	cfg.Path = path
	v := validator{path: path, root: &root, checks: checks, baseDir: filepath.Dir(path)}
	v.validate(&cfg)
	if len(v.problems) > 0 {
		return nil, &Error{Problems: v.problems}
	}
	return &cfg, nil
}

func yamlProblem(path string, err error) Problem {
	ps := yamlProblems(path, err)
	return ps[0]
}

// yamlProblems turns yaml.v3 messages ("yaml: line 5: field x not found in type config.Box")
// into FILE:LINE: message.
func yamlProblems(path string, err error) []Problem {
	var te *yaml.TypeError
	var msgs []string
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	var out []Problem
	for _, m := range msgs {
		m = strings.TrimPrefix(m, "yaml: ")
		line := 1
		if strings.HasPrefix(m, "line ") {
			rest := m[len("line "):]
			if i := strings.Index(rest, ":"); i > 0 {
				if n, err := strconv.Atoi(rest[:i]); err == nil {
					line = n
					m = strings.TrimSpace(rest[i+1:])
				}
			}
		}
		if strings.HasPrefix(m, "field ") && strings.Contains(m, " not found in type ") {
			name := strings.TrimPrefix(m, "field ")
			name = name[:strings.Index(name, " not found")]
			m = fmt.Sprintf("unknown key %q", name)
		}
		out = append(out, Problem{File: path, Line: line, Message: m})
	}
	return out
}

type validator struct {
	path     string
	root     *yaml.Node
	checks   Checks
	baseDir  string
	problems []Problem
}

func (v *validator) addf(keyPath string, format string, args ...any) {
	v.problems = append(v.problems, Problem{File: v.path, Line: lineOf(v.root, keyPath), Message: fmt.Sprintf(format, args...)})
}

// lineOf finds the line of a dotted key path such as "boxes.0.smtp.cert_file"; it falls back
// to the closest ancestor that exists, so a missing key points at its parent.
func lineOf(root *yaml.Node, keyPath string) int {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := n.Line
	if keyPath == "" {
		return max(line, 1)
	}
	for _, part := range strings.Split(keyPath, ".") {
		switch n.Kind {
		case yaml.MappingNode:
			found := false
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == part {
					line = n.Content[i].Line
					n = n.Content[i+1]
					found = true
					break
				}
			}
			if !found {
				return max(line, 1)
			}
		case yaml.SequenceNode:
			idx, err := strconv.Atoi(part)
			if err != nil || idx >= len(n.Content) {
				return max(line, 1)
			}
			n = n.Content[idx]
			line = n.Line
		default:
			return max(line, 1)
		}
	}
	return max(line, 1)
}

// Resolve makes a path from the file absolute against the configuration's folder.
func (v *validator) resolve(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(v.baseDir, p)
}

func (v *validator) validate(c *Config) {
	if strings.TrimSpace(c.DataDir) == "" {
		v.addf("data_dir", "data_dir is required (the folder for the job store, held/, failed/ and the audit journal)")
	}
	c.DataDir = v.resolve(c.DataDir)

	if len(c.Boxes) == 0 {
		v.addf("boxes", "at least one box is required")
	}
	boxIDs := map[string]bool{}
	hasIMAP := false
	for i := range c.Boxes {
		b := &c.Boxes[i]
		key := fmt.Sprintf("boxes.%d", i)
		switch {
		case b.ID == "":
			v.addf(key, "box without id")
		case boxIDs[b.ID]:
			v.addf(key+".id", "box id %q is used twice", b.ID)
		}
		boxIDs[b.ID] = true
		if !validAddress(b.Address) {
			v.addf(key+".address", "box %q: address %q is not a valid mail address", b.ID, b.Address)
		}
		v.endpoint(key+".smtp", b.ID, &b.SMTP, "smtp")
		switch b.XDM {
		case "":
			b.XDM = "auto"
		case "auto", "never":
		default:
			v.addf(key+".xdm", "box %q: xdm must be auto or never, not %q", b.ID, b.XDM)
		}
		switch b.INSOID {
		case "":
			b.INSOID = "nir"
		case "nir", "test", "demo":
		default:
			v.addf(key+".ins_oid", "box %q: ins_oid must be nir, test or demo, not %q", b.ID, b.INSOID)
		}
		if r := b.Responsible; r != nil && (len(r.RPPS) != 11 || strings.Trim(r.RPPS, "0123456789") != "" || r.FamilyName == "") {
			v.addf(key+".responsible", "box %q: responsible needs an 11-digit rpps and a family_name", b.ID)
		}
		if b.ReplyTo != "" && !validAddress(b.ReplyTo) {
			v.addf(key+".reply_to", "box %q: reply_to %q is not a valid mail address", b.ID, b.ReplyTo)
		}
		if st := b.Structure; st != nil && ((st.FINESS == "" && st.SIRET == "") || st.Name == "") {
			v.addf(key+".structure", "box %q: structure needs a finess (or siret) and a name", b.ID)
		}
		if b.IMAP != nil {
			v.endpoint(key+".imap", b.ID, b.IMAP, "imap")
			if b.IMAP.Mailbox == "" {
				b.IMAP.Mailbox = "INBOX"
			}
			if b.IMAP.ProcessedMailbox == "" {
				b.IMAP.ProcessedMailbox = "mssbridge-traites"
			}
			if b.IMAP.QuarantineMailbox == "" {
				b.IMAP.QuarantineMailbox = "mssbridge-quarantaine"
			}
			hasIMAP = true
		}
	}

	inputIDs := map[string]bool{}
	inputPaths := map[string]string{}
	for i := range c.Inputs {
		in := &c.Inputs[i]
		key := fmt.Sprintf("inputs.%d", i)
		switch {
		case in.ID == "":
			v.addf(key, "input without id")
		case inputIDs[in.ID]:
			v.addf(key+".id", "input id %q is used twice", in.ID)
		}
		inputIDs[in.ID] = true
		if in.Path == "" {
			v.addf(key, "input %q: path is required", in.ID)
		} else {
			in.Path = filepath.Clean(v.resolve(in.Path))
			norm := in.Path
			if runtime.GOOS == "windows" || runtime.GOOS == "darwin" {
				norm = strings.ToLower(norm)
			}
			if other, dup := inputPaths[norm]; dup {
				v.addf(key+".path", "inputs %q and %q watch the same folder %s", other, in.ID, in.Path)
			}
			inputPaths[norm] = in.ID
		}
		if in.Box == "" {
			v.addf(key, "input %q: box is required", in.ID)
		} else if !boxIDs[in.Box] {
			v.addf(key+".box", "input %q: unknown box %q", in.ID, in.Box)
		}
	}
	if c.DataDir != "" {
		for norm, id := range inputPaths {
			if Within(norm, c.DataDir) {
				v.addf("data_dir", "input %q must not be inside data_dir", id)
			}
		}
	}

	if c.Printer != nil {
		if c.Printer.Listen == "" {
			v.addf("printer", "printer.listen is required when printer is set")
		}
		if !inputIDs[c.Printer.Input] {
			v.addf("printer.input", "printer.input: unknown input %q", c.Printer.Input)
		}
		seen := map[string]bool{c.Printer.Listen: true}
		for i, m := range c.Printer.More {
			key := fmt.Sprintf("printer.more.%d", i)
			if _, _, err := net.SplitHostPort(m.Listen); err != nil {
				v.addf(key+".listen", "printer.more: listen %q: %v", m.Listen, err)
			}
			if seen[m.Listen] {
				v.addf(key+".listen", "printer.more: %s is used by two printers", m.Listen)
			}
			seen[m.Listen] = true
			if !inputIDs[m.Input] {
				v.addf(key+".input", "printer.more: unknown input %q", m.Input)
			}
		}
	}

	switch c.Routing.DefaultAction {
	case "":
		c.Routing.DefaultAction = "hold"
	case "send", "hold":
	default:
		v.addf("routing.default_action", "default_action must be send or hold, not %q", c.Routing.DefaultAction)
	}
	for i := range c.Routing.Rules {
		r := &c.Routing.Rules[i]
		key := fmt.Sprintf("routing.rules.%d", i)
		if r.Name == "" {
			r.Name = fmt.Sprintf("rule-%d", i+1)
		}
		switch r.Action {
		case "":
			r.Action = "send"
		case "send", "hold":
		default:
			v.addf(key+".action", "rule %q: action must be send or hold, not %q", r.Name, r.Action)
		}
		if r.Box != "" && !boxIDs[r.Box] {
			v.addf(key+".box", "rule %q: unknown box %q", r.Name, r.Box)
		}
		if r.When.Input != "" && !inputIDs[r.When.Input] {
			v.addf(key+".when.input", "rule %q: unknown input %q", r.Name, r.When.Input)
		}
		for j, a := range r.To {
			if !validAddress(a) {
				v.addf(fmt.Sprintf("%s.to.%d", key, j), "rule %q: %q is not a valid mail address", r.Name, a)
			}
		}
		if r.ReplyTo != "" && !validAddress(r.ReplyTo) {
			v.addf(key+".reply_to", "rule %q: reply_to %q is not a valid mail address", r.Name, r.ReplyTo)
		}
		for j, a := range r.Cc {
			if !validAddress(a) {
				v.addf(fmt.Sprintf("%s.cc.%d", key, j), "rule %q: %q is not a valid mail address", r.Name, a)
			}
		}
	}

	if c.Trust.DomainsFile != "" {
		c.Trust.DomainsFile = v.resolve(c.Trust.DomainsFile)
		v.file("trust.domains_file", c.Trust.DomainsFile, "trust.domains_file")
	}
	if c.Directory.File != "" {
		c.Directory.File = v.resolve(c.Directory.File)
		v.file("directory.file", c.Directory.File, "directory.file")
	}
	c.Import.Path = v.resolve(c.Import.Path)
	if hasIMAP && c.Import.Path == "" {
		v.addf("import", "import.path is required when a box receives (imap): it is where received documents are deposited")
	}
	c.Import.Quarantine = v.resolve(c.Import.Quarantine)
	if c.Import.Quarantine == "" && c.DataDir != "" {
		c.Import.Quarantine = filepath.Join(c.DataDir, "quarantine")
	}
	if c.Import.MaxMessageSize <= 0 {
		c.Import.MaxMessageSize = 40e6
	}
	if c.Import.MaxAttachment <= 0 {
		c.Import.MaxAttachment = 30e6
	}
	if c.Web.Listen != "" {
		host, _, err := net.SplitHostPort(c.Web.Listen)
		if err != nil {
			v.addf("web.listen", "web.listen %q: %v", c.Web.Listen, err)
		}
		c.Web.TLSCertFile, c.Web.TLSKeyFile = v.resolve(c.Web.TLSCertFile), v.resolve(c.Web.TLSKeyFile)
		if (c.Web.TLSCertFile == "") != (c.Web.TLSKeyFile == "") {
			v.addf("web", "web: tls_cert_file and tls_key_file go together")
		}
		v.file("web.tls_cert_file", c.Web.TLSCertFile, "web.tls_cert_file")
		v.secret("web.tls_key_file", c.Web.TLSKeyFile, "web.tls_key_file")
		if err == nil && c.Web.TLSCertFile == "" && !IsLoopback(host) {
			v.addf("web.listen", "web.listen %s is not a loopback address: the review desk shows health data, set web.tls_cert_file and web.tls_key_file to serve it over HTTPS", c.Web.Listen)
		}
	}
	for i, u := range c.Web.Users {
		if u.Login == "" || !(strings.HasPrefix(u.Hash, "$argon2id$") || strings.HasPrefix(u.Hash, "$2a$") || strings.HasPrefix(u.Hash, "$2b$") || strings.HasPrefix(u.Hash, "$2y$")) {
			v.addf(fmt.Sprintf("web.users.%d", i), "web.users: each account needs a login and an argon2id or bcrypt hash (mssbridge user add prints one)")
		}
	}

	setDur(&c.Watch.Quiet, DefaultQuiet)
	setDur(&c.Watch.Rescan, DefaultRescan)
	setDur(&c.Watch.MaxWait, DefaultMaxWait)
	setDur(&c.Sending.RetryInitial, DefaultRetryInitial)
	setDur(&c.Sending.RetryMax, DefaultRetryMax)
	setDur(&c.Sending.GiveUpAfter, DefaultGiveUpAfter)
	setDur(&c.Sending.Timeout, DefaultTimeout)
	if c.Sending.MaxMessageSize <= 0 {
		c.Sending.MaxMessageSize = DefaultMaxMessageSize
	}
	if c.Sending.Connections <= 0 {
		c.Sending.Connections = DefaultConnections
	}
	if c.Sending.RetryMax < c.Sending.RetryInitial {
		v.addf("sending.retry_max", "sending.retry_max (%s) is shorter than retry_initial (%s)", c.Sending.RetryMax, c.Sending.RetryInitial)
	}
	switch c.Log.Level {
	case "":
		c.Log.Level = "info"
	case "debug", "info", "warn", "error":
	default:
		v.addf("log.level", "log.level must be debug, info, warn or error")
	}
	c.Log.File = v.resolve(c.Log.File)
}

func setDur(d *time.Duration, def time.Duration) {
	if *d <= 0 {
		*d = def
	}
}

func (v *validator) endpoint(key, boxID string, e *Endpoint, proto string) {
	if e.Host == "" {
		v.addf(key, "box %q: %s.host is required", boxID, proto)
	}
	switch e.Security {
	case "":
		e.Security = "starttls"
		if proto == "imap" {
			e.Security = "tls"
		}
	case "starttls", "tls":
	case "none":
		if e.Host != "" && !IsLoopback(e.Host) {
			v.addf(key+".security", "box %q: security none (plaintext) is only allowed to a loopback host, not %q: health data never travels in clear", boxID, e.Host)
		}
	default:
		v.addf(key+".security", "box %q: security must be starttls, tls or none, not %q", boxID, e.Security)
	}
	if e.Port == 0 {
		e.Port = defaultPort(proto, e.Security)
	} else if e.Port < 0 || e.Port > 65535 {
		v.addf(key+".port", "box %q: port %d out of range", boxID, e.Port)
	}
	if e.Security != "none" {
		if e.CertFile == "" || e.KeyFile == "" {
			v.addf(key, "box %q: %s needs cert_file and key_file (the box's client certificate for mutual TLS)", boxID, proto)
		}
	}
	e.CAFile = v.resolve(e.CAFile)
	e.CertFile = v.resolve(e.CertFile)
	e.KeyFile = v.resolve(e.KeyFile)
	e.PasswordFile = v.resolve(e.PasswordFile)
	v.file(key+".ca_file", e.CAFile, "ca_file")
	v.file(key+".cert_file", e.CertFile, "cert_file")
	v.secret(key+".key_file", e.KeyFile, "key_file")
	v.secret(key+".password_file", e.PasswordFile, "password_file")
	if e.PasswordFile != "" && e.Username == "" {
		v.addf(key+".username", "box %q: password_file is set but username is empty", boxID)
	}
}

func (v *validator) file(key, path, name string) {
	if path == "" {
		return
	}
	if err := v.checks.FileReadable(path); err != nil {
		v.addf(key, "%s %s: %v", name, path, unwrapPathError(err))
	}
}

// secret checks a private key or password file: readable, and by the service alone.
func (v *validator) secret(key, path, name string) {
	if path == "" {
		return
	}
	if err := v.checks.FileReadable(path); err != nil {
		v.addf(key, "%s %s: %v", name, path, unwrapPathError(err))
		return
	}
	if sc, ok := v.checks.(interface{ SecretFile(string) error }); ok {
		if err := sc.SecretFile(path); err != nil {
			v.addf(key, "%s %s %v", name, path, err)
		}
	}
}

func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func defaultPort(proto, security string) int {
	switch {
	case proto == "smtp" && security == "tls":
		return 465
	case proto == "smtp":
		return 587
	case proto == "imap" && security == "tls":
		return 993
	default:
		return 143
	}
}

// IsLoopback reports whether host names this machine only.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// validAddress is a light syntax check; the trust package does the full one where it matters.
func validAddress(a string) bool {
	at := strings.LastIndexByte(a, '@')
	return at > 0 && at < len(a)-1 && !strings.ContainsAny(a, " \t\r\n<>,;") && strings.Count(a, "@") == 1 && strings.Contains(a[at:], ".")
}

// Box returns the box with this id.
func (c *Config) Box(id string) (Box, bool) {
	for _, b := range c.Boxes {
		if b.ID == id {
			return b, true
		}
	}
	return Box{}, false
}

// Input returns the input with this id.
func (c *Config) Input(id string) (Input, bool) {
	for _, in := range c.Inputs {
		if in.ID == id {
			return in, true
		}
	}
	return Input{}, false
}

// ClientCert is one client certificate a box presents: to its SMTP or its IMAP server.
type ClientCert struct {
	Use  string // "smtp" or "imap"
	File string
}

// ClientCerts lists the box's client certificate files, each once: the IMAP one only when it
// is another file than the SMTP one.
func (b Box) ClientCerts() []ClientCert {
	var out []ClientCert
	if b.SMTP.CertFile != "" {
		out = append(out, ClientCert{"smtp", b.SMTP.CertFile})
	}
	if b.IMAP != nil && b.IMAP.CertFile != "" && b.IMAP.CertFile != b.SMTP.CertFile {
		out = append(out, ClientCert{"imap", b.IMAP.CertFile})
	}
	return out
}

// Within reports whether path is dir or lies below it, case-insensitively where the file
// system usually is (Windows, macOS).
func Within(path, dir string) bool {
	if path == "" || dir == "" {
		return false
	}
	p, d := filepath.Clean(path), filepath.Clean(dir)
	if runtime.GOOS == "windows" || runtime.GOOS == "darwin" {
		p, d = strings.ToLower(p), strings.ToLower(d)
	}
	return p == d || strings.HasPrefix(p, d+string(filepath.Separator))
}
