// Package account keeps the review desk's local accounts: a file of logins and password
// hashes (argon2id when we write them; bcrypt hashes made by other tools are accepted), read
// again whenever it changes so that `mssbridge user add` works while the service runs, and a
// password prompt that does not echo.
package account

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"

	"github.com/mssbridge/mssbridge/safefile"
)

// FileName is the accounts file's name in data_dir.
const FileName = "web-users.json"

// MinPasswordLength is the shortest password accepted: twelve characters is what ANSSI's
// guidance asks of a password that is the only factor.
const MinPasswordLength = 12

// Argon2id parameters for new hashes: the first of OWASP's equivalent settings (19 MiB,
// 2 passes, 1 lane), about 30 ms on the small servers this runs on, so that a burst of
// logins cannot exhaust memory. Hashes carry their parameters: raising these later keeps
// old hashes valid.
const (
	argonMemory  = 19 * 1024 // KiB
	argonTime    = 2
	argonThreads = 1
	argonKeyLen  = 32
	argonSaltLen = 16
)

// Errors callers decide on.
var (
	ErrExists   = errors.New("this login already exists")
	ErrNotFound = errors.New("no such login")
)

// User is one account.
type User struct {
	Login   string    `json:"login"`
	Hash    string    `json:"hash"`
	Created time.Time `json:"created"`
	Changed time.Time `json:"changed,omitzero"`
}

type fileData struct {
	Users []User `json:"users"`
}

// File is the accounts file. Its methods are safe for concurrent use within a process;
// writes are atomic (temporary name, fsync, rename), mode 0600.
type File struct {
	path string

	mu      sync.Mutex
	users   []User
	modTime time.Time
	size    int64
	loaded  bool
}

// Open names the accounts file at path; it need not exist yet.
func Open(path string) *File { return &File{path: path} }

// Path is where the accounts are kept.
func (f *File) Path() string { return f.path }

// Users returns the accounts, reading the file again when it changed.
func (f *File) Users() ([]User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.refresh(); err != nil {
		return nil, err
	}
	return slices.Clone(f.users), nil
}

// Lookup finds a login (case does not matter).
func (f *File) Lookup(login string) (User, bool, error) {
	users, err := f.Users()
	if err != nil {
		return User{}, false, err
	}
	login = NormalizeLogin(login)
	for _, u := range users {
		if u.Login == login {
			return u, true, nil
		}
	}
	return User{}, false, nil
}

// refresh reloads the file when its size or modification time moved. The caller holds f.mu.
func (f *File) refresh() error {
	st, err := os.Stat(f.path)
	if errors.Is(err, os.ErrNotExist) {
		f.users, f.loaded, f.modTime, f.size = nil, true, time.Time{}, 0
		return nil
	}
	if err != nil {
		return fmt.Errorf("accounts: %w", err)
	}
	if f.loaded && st.ModTime().Equal(f.modTime) && st.Size() == f.size {
		return nil
	}
	data, err := os.ReadFile(f.path)
	if err != nil {
		return fmt.Errorf("accounts: %w", err)
	}
	var fd fileData
	if len(bytes.TrimSpace(data)) > 0 {
		if err := json.Unmarshal(data, &fd); err != nil {
			return fmt.Errorf("accounts file %s: %w", f.path, err)
		}
	}
	for i := range fd.Users {
		fd.Users[i].Login = NormalizeLogin(fd.Users[i].Login)
	}
	f.users, f.loaded, f.modTime, f.size = fd.Users, true, st.ModTime(), st.Size()
	return nil
}

// change reads the file, lets fn change the list and writes it back.
func (f *File) change(fn func([]User) ([]User, error)) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.loaded = false // another process may have written it since
	if err := f.refresh(); err != nil {
		return err
	}
	users, err := fn(slices.Clone(f.users))
	if err != nil {
		return err
	}
	data, err := json.MarshalIndent(fileData{Users: users}, "", "  ")
	if err != nil {
		return err
	}
	if err := safefile.WriteFile(f.path, append(data, '\n')); err != nil {
		return fmt.Errorf("accounts: %w", err)
	}
	f.loaded = false
	return nil
}

// Add creates an account.
func (f *File) Add(login, password string, now time.Time) error {
	login = NormalizeLogin(login)
	if err := ValidLogin(login); err != nil {
		return err
	}
	if err := ValidPassword(password); err != nil {
		return err
	}
	h, err := Hash(password)
	if err != nil {
		return err
	}
	return f.change(func(users []User) ([]User, error) {
		for _, u := range users {
			if u.Login == login {
				return nil, fmt.Errorf("%s: %w", login, ErrExists)
			}
		}
		return append(users, User{Login: login, Hash: h, Created: now.UTC()}), nil
	})
}

// SetPassword changes an account's password.
func (f *File) SetPassword(login, password string, now time.Time) error {
	login = NormalizeLogin(login)
	if err := ValidPassword(password); err != nil {
		return err
	}
	h, err := Hash(password)
	if err != nil {
		return err
	}
	return f.change(func(users []User) ([]User, error) {
		for i := range users {
			if users[i].Login == login {
				users[i].Hash, users[i].Changed = h, now.UTC()
				return users, nil
			}
		}
		return nil, fmt.Errorf("%s: %w", login, ErrNotFound)
	})
}

// Remove deletes an account.
func (f *File) Remove(login string) error {
	login = NormalizeLogin(login)
	return f.change(func(users []User) ([]User, error) {
		i := slices.IndexFunc(users, func(u User) bool { return u.Login == login })
		if i < 0 {
			return nil, fmt.Errorf("%s: %w", login, ErrNotFound)
		}
		return slices.Delete(users, i, i+1), nil
	})
}

// NormalizeLogin folds a login to the form it is stored in.
func NormalizeLogin(login string) string { return strings.ToLower(strings.TrimSpace(login)) }

var loginRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// ValidLogin accepts short names made of letters, digits, dots, dashes and underscores: they
// appear in the audit journal as desk:LOGIN.
func ValidLogin(login string) error {
	if !loginRE.MatchString(login) {
		return errors.New("a login is 1 to 64 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit")
	}
	return nil
}

// ValidPassword checks the length.
func ValidPassword(pw string) error {
	if utf8.RuneCountInString(pw) < MinPasswordLength {
		return fmt.Errorf("the password must have at least %d characters", MinPasswordLength)
	}
	if len(pw) > 1024 {
		return errors.New("the password is longer than 1024 bytes")
	}
	return nil
}

// Hash returns an argon2id hash of password in the PHC string format
// ($argon2id$v=19$m=…,t=…,p=…$salt$key, unpadded standard base64).
func Hash(password string) (string, error) {
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// Verify reports whether password matches hash (argon2id or bcrypt). An error means the hash
// itself is unusable.
func Verify(hash, password string) (bool, error) {
	switch {
	case strings.HasPrefix(hash, "$argon2id$"):
		return verifyArgon2id(hash, password)
	case strings.HasPrefix(hash, "$2a$"), strings.HasPrefix(hash, "$2b$"), strings.HasPrefix(hash, "$2y$"):
		err := bcrypt.CompareHashAndPassword([]byte(hash), []byte(password))
		if errors.Is(err, bcrypt.ErrMismatchedHashAndPassword) {
			return false, nil
		}
		return err == nil, err
	default:
		return false, errors.New("unknown password hash format (argon2id or bcrypt expected)")
	}
}

// Upper bounds on the parameters read from a hash, so that an edited file cannot make a login
// take gigabytes or minutes.
const (
	maxArgonMemory = 1 << 20 // KiB: 1 GiB
	maxArgonTime   = 20
)

func verifyArgon2id(hash, password string) (bool, error) {
	parts := strings.Split(hash, "$")
	// "", "argon2id", "v=19", "m=…,t=…,p=…", salt, key
	if len(parts) != 6 || parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return false, errors.New("malformed argon2id hash")
	}
	var m, t uint32
	var p uint8
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, ok := strings.Cut(kv, "=")
		n, err := strconv.ParseUint(v, 10, 32)
		if !ok || err != nil {
			return false, errors.New("malformed argon2id parameters")
		}
		switch k {
		case "m":
			m = uint32(n)
		case "t":
			t = uint32(n)
		case "p":
			if n > 255 {
				return false, errors.New("malformed argon2id parameters")
			}
			p = uint8(n)
		}
	}
	if m == 0 || t == 0 || p == 0 || m > maxArgonMemory || t > maxArgonTime {
		return false, errors.New("argon2id parameters out of range")
	}
	b64 := base64.RawStdEncoding
	salt, err1 := b64.DecodeString(parts[4])
	key, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(key) < 16 || len(key) > 128 {
		return false, errors.New("malformed argon2id salt or key")
	}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(key)))
	return subtle.ConstantTimeCompare(got, key) == 1, nil
}
