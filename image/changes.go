package image

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/berth-project/berth/internal/errdefs"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// ApplyChanges applies Dockerfile instructions (the -c/--change values of import and commit:
// CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR) to cfg.
func ApplyChanges(cfg *v1.Config, changes []string) error {
	for _, c := range changes {
		c = strings.TrimSpace(c)
		instr, rest, _ := strings.Cut(c, " ")
		rest = strings.TrimSpace(rest)
		if err := applyChange(cfg, strings.ToUpper(instr), rest); err != nil {
			return err
		}
	}
	return nil
}

func applyChange(cfg *v1.Config, instr, rest string) error {
	switch instr {
	case "CMD":
		cfg.Cmd = execOrShell(rest)
	case "ENTRYPOINT":
		cfg.Entrypoint = execOrShell(rest)
	case "ENV":
		kvs, err := keyValues("ENV", rest)
		if err != nil {
			return err
		}
		for _, kv := range kvs {
			cfg.Env = setEnv(cfg.Env, kv[0], kv[1])
		}
	case "LABEL":
		kvs, err := keyValues("LABEL", rest)
		if err != nil {
			return err
		}
		if cfg.Labels == nil {
			cfg.Labels = map[string]string{}
		}
		for _, kv := range kvs {
			cfg.Labels[kv[0]] = kv[1]
		}
	case "EXPOSE":
		if rest == "" {
			return errdefs.Invalid("EXPOSE requires at least one argument")
		}
		if cfg.ExposedPorts == nil {
			cfg.ExposedPorts = map[string]struct{}{}
		}
		for _, p := range strings.Fields(rest) {
			if !strings.Contains(p, "/") {
				p += "/tcp"
			}
			cfg.ExposedPorts[strings.ToLower(p)] = struct{}{}
		}
	case "VOLUME":
		vols := jsonList(rest)
		if vols == nil {
			vols = strings.Fields(rest)
		}
		if len(vols) == 0 {
			return errdefs.Invalid("VOLUME requires at least one argument")
		}
		if cfg.Volumes == nil {
			cfg.Volumes = map[string]struct{}{}
		}
		for _, v := range vols {
			cfg.Volumes[v] = struct{}{}
		}
	case "WORKDIR":
		if rest == "" {
			return errdefs.Invalid("WORKDIR requires exactly one argument")
		}
		cfg.WorkingDir = rest
	case "USER":
		if rest == "" {
			return errdefs.Invalid("USER requires exactly one argument")
		}
		cfg.User = rest
	case "STOPSIGNAL":
		if rest == "" {
			return errdefs.Invalid("STOPSIGNAL requires exactly one argument")
		}
		cfg.StopSignal = rest
	case "ONBUILD":
		if rest == "" {
			return errdefs.Invalid("ONBUILD requires at least one argument")
		}
		cfg.OnBuild = append(cfg.OnBuild, rest)
	default:
		return errdefs.Invalid(fmt.Sprintf("%s is not a valid change command", instr))
	}
	return nil
}

// jsonList parses the exec form `["a", "b"]`; nil when s is not one.
func jsonList(s string) []string {
	if !strings.HasPrefix(s, "[") {
		return nil
	}
	var out []string
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		return nil
	}
	return out
}

func execOrShell(s string) []string {
	if l := jsonList(s); l != nil {
		return l
	}
	return []string{"/bin/sh", "-c", s}
}

// keyValues parses `k=v k2="v 2"` or the legacy `k v` form of ENV and LABEL.
func keyValues(instr, s string) ([][2]string, error) {
	words, err := shellWords(s)
	if err != nil || len(words) == 0 {
		return nil, errdefs.Invalid(fmt.Sprintf("%s requires at least one argument", instr))
	}
	if !strings.Contains(words[0], "=") {
		k, v, _ := strings.Cut(s, " ")
		return [][2]string{{k, strings.TrimSpace(v)}}, nil
	}
	var out [][2]string
	for _, w := range words {
		k, v, ok := strings.Cut(w, "=")
		if !ok || k == "" {
			return nil, errdefs.Invalid(fmt.Sprintf("%s names can not be blank", instr))
		}
		out = append(out, [2]string{k, v})
	}
	return out, nil
}

// shellWords splits s on blanks, honouring double and single quotes and backslashes.
func shellWords(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	inWord := false
	var quote rune
	esc := false
	for _, r := range s {
		switch {
		case esc:
			cur.WriteRune(r)
			esc = false
		case r == '\\' && quote != '\'':
			esc = true
			inWord = true
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '"' || r == '\'':
			quote = r
			inWord = true
		case r == ' ' || r == '\t':
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, errdefs.Invalid("unterminated quote")
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out, nil
}

func setEnv(env []string, k, v string) []string {
	for i, e := range env {
		if ek, _, _ := strings.Cut(e, "="); ek == k {
			env[i] = k + "=" + v
			return env
		}
	}
	return append(env, k+"="+v)
}
