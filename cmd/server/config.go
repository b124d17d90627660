package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/7targets/zenvia-sales-app/secret"
)

// config is the App's configuration, read once from the environment (contract section 1).
type config struct {
	Port                 int
	PublicBaseURL        string
	MongoURI             string
	MongoDatabase        string
	DataDir              string
	AppID                string
	AppSecret            string
	SigningKey           string
	ZenviaAPIURL         string
	SevenTargetsAPIURL   string
	SevenTargetsTokenURL string
	// ChatTonicAPIURL is the Chat-Tonic API base; ChatTonicPollInterval how often each
	// instance's funnels are read.
	ChatTonicAPIURL       string
	ChatTonicPollInterval time.Duration
	EncryptionKey         []byte
	// PreviousKeys still open secrets sealed before a key rotation; new ones use EncryptionKey.
	PreviousKeys [][]byte
	LogLevel     slog.Level
	// FrameAncestors are the origins allowed to frame the embedded pages (CSP frame-ancestors).
	FrameAncestors string
	// TrustedProxies are the load balancers whose X-Forwarded-For names the client.
	TrustedProxies []netip.Prefix
	// DevMode: no MongoDB and no App credentials given, so the App makes its own and keeps
	// them in DataDir.
	DevMode bool
}

// LogValue keeps secrets out of logs.
func (c config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Int("port", c.Port),
		slog.String("public_base_url", c.PublicBaseURL),
		slog.Bool("embedded_store", c.MongoURI == ""),
		slog.String("database", c.MongoDatabase),
		slog.String("zenvia_api_url", c.ZenviaAPIURL),
		slog.String("seventargets_api_url", c.SevenTargetsAPIURL),
		slog.String("seventargets_token_url", c.SevenTargetsTokenURL),
		slog.String("chattonic_api_url", c.ChatTonicAPIURL),
		slog.Duration("chattonic_poll_interval", c.ChatTonicPollInterval),
		slog.String("frame_ancestors", c.FrameAncestors),
		slog.Any("trusted_proxies", c.TrustedProxies),
		slog.Bool("dev_mode", c.DevMode),
	)
}

// minChatTonicPollInterval is the shortest CHATTONIC_POLL_INTERVAL: each poll reads every
// funnel group of every instance, and Chat-Tonic rate-limits accounts.
const minChatTonicPollInterval = 10 * time.Second

// configError names the variable at fault; main prints it as the one line before exiting.
type configError struct {
	name, problem string
}

func (e *configError) Error() string { return "config: " + e.name + ": " + e.problem }

// loadConfig reads the configuration from getenv. It does no I/O beyond getenv: the secrets a
// development run generates are added by ensureLocalSecrets.
func loadConfig(getenv func(string) string) (config, error) {
	c := config{
		MongoURI:      strings.TrimSpace(getenv("MONGODB_URI")),
		MongoDatabase: orDefault(getenv("MONGODB_DATABASE"), "zenvia7targets"),
		DataDir:       orDefault(getenv("DATA_DIR"), "./data"),
		AppID:         getenv("ZENVIA_APP_ID"),
		AppSecret:     getenv("ZENVIA_APP_SECRET"),
		SigningKey:    getenv("ZENVIA_SIGNING_KEY"),
	}

	port, err := strconv.Atoi(orDefault(getenv("PORT"), "8080"))
	if err != nil || port < 0 || port > 65535 {
		return config{}, &configError{"PORT", "must be a port number from 1 to 65535"}
	}
	c.Port = port

	urls := []struct {
		name, def string
		dst       *string
	}{
		{"PUBLIC_BASE_URL", "http://localhost:" + strconv.Itoa(port), &c.PublicBaseURL},
		{"ZENVIA_API_URL", "https://sales.zenvia.com/api/v1", &c.ZenviaAPIURL},
		{"SEVENTARGETS_API_URL", "https://api.7targets.com", &c.SevenTargetsAPIURL},
		{"SEVENTARGETS_TOKEN_URL", "https://login.7targets.com/oauth2/token", &c.SevenTargetsTokenURL},
		{"CHATTONIC_API_URL", "https://chattonic.mobile-tonic.com", &c.ChatTonicAPIURL},
	}
	for _, u := range urls {
		v := orDefault(getenv(u.name), u.def)
		if err := checkHTTPURL(v); err != nil {
			return config{}, &configError{u.name, err.Error()}
		}
		*u.dst = strings.TrimRight(v, "/")
	}

	poll, err := time.ParseDuration(orDefault(getenv("CHATTONIC_POLL_INTERVAL"), "1m"))
	if err != nil || poll < minChatTonicPollInterval {
		return config{}, &configError{"CHATTONIC_POLL_INTERVAL", "must be a Go duration of at least 10s, such as 1m"}
	}
	c.ChatTonicPollInterval = poll

	if c.MongoURI != "" && !strings.HasPrefix(c.MongoURI, "mongodb://") && !strings.HasPrefix(c.MongoURI, "mongodb+srv://") {
		return config{}, &configError{"MONGODB_URI", "must start with mongodb:// or mongodb+srv://"}
	}
	if strings.ContainsAny(c.MongoDatabase, `/\. "$`) || len(c.MongoDatabase) > 63 {
		return config{}, &configError{"MONGODB_DATABASE", "must be a MongoDB database name (no / \\ . space \" $, at most 63 characters)"}
	}

	switch {
	case c.AppID == "" && c.AppSecret != "":
		return config{}, &configError{"ZENVIA_APP_ID", "is required when ZENVIA_APP_SECRET is set"}
	case c.AppID != "" && c.AppSecret == "":
		return config{}, &configError{"ZENVIA_APP_SECRET", "is required when ZENVIA_APP_ID is set"}
	case c.MongoURI != "" && c.AppID == "":
		return config{}, &configError{"ZENVIA_APP_ID", "is required with MONGODB_URI (with ZENVIA_APP_SECRET)"}
	}

	// Outside development mode the key comes from the environment, whatever the store: one
	// generated into DATA_DIR would sit beside the data it protects, and a copy of the
	// directory would hold both.
	switch raw := getenv("ENCRYPTION_KEY"); {
	case raw != "":
		key, err := secret.ParseKey(raw)
		if err != nil {
			return config{}, &configError{"ENCRYPTION_KEY", err.Error()}
		}
		c.EncryptionKey = key
	case c.MongoURI != "":
		return config{}, &configError{"ENCRYPTION_KEY", "is required with MONGODB_URI (base64 of 32 random bytes, e.g. `openssl rand -base64 32`)"}
	case c.AppID != "":
		return config{}, &configError{"ENCRYPTION_KEY", "is required with ZENVIA_APP_ID, whatever the store: the key is not kept beside the data (base64 of 32 random bytes, e.g. `openssl rand -base64 32`)"}
	}
	// The default suits development alone: Zenvia Sales cannot reach localhost, and every
	// replica of a deployment must subscribe its instances to the same URL.
	if c.AppID != "" && strings.TrimSpace(getenv("PUBLIC_BASE_URL")) == "" {
		return config{}, &configError{"PUBLIC_BASE_URL", "is required with ZENVIA_APP_ID: the public URL at which Zenvia Sales reaches the App, e.g. https://zenvia-app.example.com"}
	}

	c.FrameAncestors = orDefault(getenv("FRAME_ANCESTORS"), "https://*.zenvia.com")
	for _, src := range strings.Fields(c.FrameAncestors) {
		if !validFrameSource(src) {
			return config{}, &configError{"FRAME_ANCESTORS", "must be space-separated origins such as https://*.zenvia.com"}
		}
	}

	proxies, err := parseProxies(getenv("TRUSTED_PROXIES"))
	if err != nil {
		return config{}, &configError{"TRUSTED_PROXIES", err.Error()}
	}
	c.TrustedProxies = proxies

	for _, raw := range strings.FieldsFunc(getenv("ENCRYPTION_KEY_PREVIOUS"), func(r rune) bool { return r == ',' || r == ' ' }) {
		key, err := secret.ParseKey(raw)
		if err != nil {
			return config{}, &configError{"ENCRYPTION_KEY_PREVIOUS", "each key " + err.Error()}
		}
		c.PreviousKeys = append(c.PreviousKeys, key)
	}
	if len(c.PreviousKeys) > 0 && c.EncryptionKey == nil {
		return config{}, &configError{"ENCRYPTION_KEY_PREVIOUS", "needs ENCRYPTION_KEY, the key that replaces them"}
	}

	if err := c.LogLevel.UnmarshalText([]byte(orDefault(getenv("LOG_LEVEL"), "info"))); err != nil {
		return config{}, &configError{"LOG_LEVEL", "must be debug, info, warn or error"}
	}
	if c.SigningKey == "" {
		c.SigningKey = c.AppSecret
	}
	c.DevMode = c.MongoURI == "" && c.AppID == ""
	return c, nil
}

func checkHTTPURL(v string) error {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("must be an absolute http(s) URL")
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return errors.New("must not carry a query, fragment or user info")
	}
	return nil
}

// validFrameSource accepts an origin (scheme://host[:port], host may start with "*.") or 'self'.
func validFrameSource(src string) bool {
	if src == "'self'" {
		return true
	}
	scheme, host, ok := strings.Cut(src, "://")
	if !ok || (scheme != "https" && scheme != "http") || host == "" {
		return false
	}
	host = strings.TrimPrefix(host, "*.")
	return !strings.ContainsAny(host, "/?#;,'\"*") && host != ""
}

// parseProxies reads addresses and CIDRs separated by commas or spaces; an address is a
// prefix of its full length.
func parseProxies(v string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
		p, err := netip.ParsePrefix(f)
		if err != nil {
			a, aerr := netip.ParseAddr(f)
			if aerr != nil || a.Zone() != "" {
				return nil, fmt.Errorf("%q is not an IP address or CIDR (such as 10.0.0.0/8 or 2001:db8::1)", f)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

func orDefault(v, def string) string {
	if v = strings.TrimSpace(v); v == "" {
		return def
	}
	return v
}

// localSecrets are what a development run generates for itself and keeps in DATA_DIR.
type localSecrets struct {
	AppID         string `json:"appId,omitempty"`
	AppSecret     string `json:"appSecret,omitempty"`
	EncryptionKey string `json:"encryptionKey"`
}

const localSecretsFile = "local-secrets.json"

// ensureLocalSecrets fills in, for a development run, the App credentials and the encryption
// key the environment does not give, generating them on first start and reusing them after,
// so stored secrets stay readable across restarts. Newly generated App credentials are
// printed once to out. Outside development mode it does nothing: loadConfig required them.
func ensureLocalSecrets(c *config, out io.Writer) error {
	if !c.DevMode {
		return nil
	}
	path := filepath.Join(c.DataDir, localSecretsFile)
	var ls localSecrets
	b, err := os.ReadFile(path)
	existed := err == nil
	switch {
	case existed:
		if err := json.Unmarshal(b, &ls); err != nil {
			return fmt.Errorf("DATA_DIR %s: %s is not valid JSON: %w", c.DataDir, localSecretsFile, err)
		}
	case !errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("DATA_DIR %s: cannot read %s: %w", c.DataDir, localSecretsFile, err)
	}

	generated, printCreds := false, false
	if ls.EncryptionKey == "" {
		ls.EncryptionKey, generated = secret.NewKey(), true
	}
	if ls.AppID == "" {
		ls.AppID, ls.AppSecret = "dev-"+secret.RandomHex(8), secret.RandomHex(24)
		generated, printCreds = true, true
	}
	if generated {
		saved, err := saveLocalSecrets(c.DataDir, ls, existed)
		if err != nil {
			return err
		}
		if saved != ls {
			ls, printCreds = saved, false // another process's, which it printed
		}
	}

	if c.EncryptionKey == nil {
		key, err := secret.ParseKey(ls.EncryptionKey)
		if err != nil {
			return fmt.Errorf("DATA_DIR %s: %s: encryptionKey %w", c.DataDir, localSecretsFile, err)
		}
		c.EncryptionKey = key
	}
	c.AppID, c.AppSecret = ls.AppID, ls.AppSecret
	if c.SigningKey == "" {
		c.SigningKey = c.AppSecret
	}
	if printCreds {
		fmt.Fprintf(out, "Development mode: generated App credentials, kept in %s (shown only now):\n"+
			"  ZENVIA_APP_ID=%s\n  ZENVIA_APP_SECRET=%s\n", path, ls.AppID, ls.AppSecret)
	}
	return nil
}

// saveLocalSecrets writes ls to DATA_DIR and returns what the file then keeps. The file
// appears whole or not at all: it is written aside, then moved into place. A first one is
// linked into place, which fails if the name exists: when another process starting at the same
// moment wrote its own first, saveLocalSecrets returns that one, so both go on with the
// secrets the file keeps (and the later stops at the store's lock on DATA_DIR) instead of the
// later overwriting what the earlier already uses. An existing file (replace) is completed by
// a rename.
func saveLocalSecrets(dir string, ls localSecrets, replace bool) (localSecrets, error) {
	notWritable := func(err error) (localSecrets, error) {
		return localSecrets{}, fmt.Errorf("DATA_DIR %s is not writable: %w", dir, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return notWritable(err)
	}
	tmp, err := os.CreateTemp(dir, localSecretsFile+".*") // mode 0600
	if err != nil {
		return notWritable(err)
	}
	defer os.Remove(tmp.Name())
	b, _ := json.MarshalIndent(ls, "", "  ")
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return notWritable(err)
	}
	if err := tmp.Close(); err != nil {
		return notWritable(err)
	}
	path := filepath.Join(dir, localSecretsFile)
	if !replace {
		err = os.Link(tmp.Name(), path)
	}
	if replace || (err != nil && !errors.Is(err, os.ErrExist)) {
		// Completing a file, or on a file system without hard links: rename, the last wins.
		if err := os.Rename(tmp.Name(), path); err != nil {
			return notWritable(err)
		}
		return ls, nil
	}
	if err != nil { // it exists: another process wrote it first
		b, err := os.ReadFile(path)
		if err != nil {
			return localSecrets{}, fmt.Errorf("DATA_DIR %s: cannot read %s: %w", dir, localSecretsFile, err)
		}
		var theirs localSecrets
		if err := json.Unmarshal(b, &theirs); err != nil {
			return localSecrets{}, fmt.Errorf("DATA_DIR %s: %s is not valid JSON: %w", dir, localSecretsFile, err)
		}
		return theirs, nil
	}
	return ls, nil
}
