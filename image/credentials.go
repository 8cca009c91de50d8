package image

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/berth-project/berth/internal/atomicfile"
	"github.com/docker/cli/cli/config"
	"github.com/docker/cli/cli/config/configfile"
	"github.com/docker/cli/cli/config/types"
	"golang.org/x/sys/unix"
)

// CredentialsFile is Docker's client config, where `login` stores credentials and pull and push
// read them: $DOCKER_CONFIG/config.json, else ~/.docker/config.json.
func CredentialsFile() string {
	return filepath.Join(config.Dir(), config.ConfigFileName)
}

func loadConfig() (*configfile.ConfigFile, error) {
	cf, err := config.Load(config.Dir())
	if err != nil {
		return nil, err
	}
	return cf, nil
}

// StoredCredentials returns the credentials stored for key (a RegistryKey), from the config file
// or its credential helper; both fields are empty when there are none.
func StoredCredentials(key string) (Credentials, error) {
	cf, err := loadConfig()
	if err != nil {
		return Credentials{}, err
	}
	ac, err := cf.GetAuthConfig(key)
	if err != nil {
		return Credentials{}, fmt.Errorf("credentials for %s: %w", key, err)
	}
	return Credentials{Username: ac.Username, Password: ac.Password}, nil
}

// SavedCredentials tells where SaveCredentials put them.
type SavedCredentials struct {
	// Helper is the credential helper that keeps them ("pass", "secretservice", ...); empty
	// when they are in File itself, base64-encoded but unencrypted.
	Helper string
	// File is the client config file.
	File string
	// Changed is false when File already held exactly these credentials (it was not rewritten).
	Changed bool
}

// SaveCredentials stores creds for key (a RegistryKey) as `docker login` does: through the
// credential helper config.json names for it (credHelpers, credsStore), else in config.json as
// "auths": {KEY: {"auth": base64(user:password)}}. The file keeps all its other content and is
// replaced atomically with mode 0600.
func SaveCredentials(key string, creds Credentials) (SavedCredentials, error) {
	cf, err := loadConfig()
	if err != nil {
		return SavedCredentials{}, err
	}
	saved := SavedCredentials{Helper: credentialHelper(cf, key), File: cf.Filename}
	if saved.Helper != "" {
		saved.Changed = true
		err := cf.GetCredentialsStore(key).Store(types.AuthConfig{Username: creds.Username, Password: creds.Password, ServerAddress: key})
		if err != nil {
			return saved, fmt.Errorf("error saving credentials: %w", err)
		}
		return saved, nil
	}
	auth := base64.StdEncoding.EncodeToString([]byte(creds.Username + ":" + creds.Password))
	err = updateAuths(cf.Filename, func(auths map[string]json.RawMessage) (bool, error) {
		entry := map[string]json.RawMessage{}
		if raw, ok := auths[key]; ok {
			_ = json.Unmarshal(raw, &entry) // an entry that is not an object is replaced
		}
		var old string
		_ = json.Unmarshal(entry["auth"], &old)
		same := old == auth
		for _, k := range []string{"username", "password", "identitytoken", "registrytoken"} {
			if _, ok := entry[k]; ok {
				same = false
				delete(entry, k)
			}
		}
		if same {
			return false, nil
		}
		saved.Changed = true
		entry["auth"], _ = json.Marshal(auth)
		raw, err := json.Marshal(entry)
		if err != nil {
			return false, err
		}
		auths[key] = raw
		return true, nil
	})
	if err != nil {
		return saved, fmt.Errorf("error saving credentials: %w", err)
	}
	return saved, nil
}

// EraseCredentials removes the credentials stored under each of keys (from the config file or
// their credential helper). Keys with none are skipped.
func EraseCredentials(keys ...string) error {
	cf, err := loadConfig()
	if err != nil {
		return err
	}
	var fileKeys []string
	for _, k := range keys {
		if credentialHelper(cf, k) == "" {
			fileKeys = append(fileKeys, k)
			continue
		}
		if err := cf.GetCredentialsStore(k).Erase(k); err != nil {
			return fmt.Errorf("erase credentials for %s: %w", k, err)
		}
	}
	if len(fileKeys) == 0 {
		return nil
	}
	return updateAuths(cf.Filename, func(auths map[string]json.RawMessage) (bool, error) {
		changed := false
		for _, k := range fileKeys {
			if _, ok := auths[k]; ok {
				delete(auths, k)
				changed = true
			}
		}
		return changed, nil
	})
}

// credentialHelper is the helper config.json names for key, as docker/cli chooses it.
func credentialHelper(cf *configfile.ConfigFile, key string) string {
	if h := cf.CredentialHelpers[key]; h != "" {
		return h
	}
	return cf.CredentialsStore
}

// updateAuths rewrites the "auths" object of the config file at path with change, keeping every
// other key of the file as it was. Nothing is written when change reports no change. A symlinked
// config file is updated where it points, as docker/cli does.
func updateAuths(path string, change func(map[string]json.RawMessage) (bool, error)) error {
	if p, err := filepath.EvalSymlinks(path); err == nil {
		path = p
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	// Two logins at once must not lose one another's change: hold a lock on the folder (the
	// user's ~/.docker gets no lock file of ours).
	unlock, err := lockDir(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer unlock()
	doc := map[string]json.RawMessage{}
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		if len(bytes.TrimSpace(data)) > 0 {
			if err := json.Unmarshal(data, &doc); err != nil {
				return fmt.Errorf("parsing config file (%s): %w", path, err)
			}
		}
	case errors.Is(err, os.ErrNotExist):
	default:
		return fmt.Errorf("loading config file: %w", err)
	}
	auths := map[string]json.RawMessage{}
	if raw, ok := doc["auths"]; ok && !bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		if err := json.Unmarshal(raw, &auths); err != nil {
			return fmt.Errorf("parsing config file (%s): auths: %w", path, err)
		}
	}
	changed, err := change(auths)
	if err != nil || !changed {
		return err
	}
	if doc["auths"], err = json.Marshal(auths); err != nil {
		return err
	}
	out, err := json.MarshalIndent(doc, "", "\t")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, append(out, '\n'), 0o600)
}

// lockDir takes an exclusive flock on the folder dir and returns its release.
func lockDir(dir string) (func(), error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	return func() { f.Close() }, nil
}
