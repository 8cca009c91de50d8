package volume

import (
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/docker/docker/api/types/mount"
	units "github.com/docker/go-units"
)

// DefaultPropagation is the propagation of bind mounts when the user asks for none, as Docker.
const DefaultPropagation = mount.PropagationRPrivate

// Spec is one parsed -v/--volume argument.
type Spec struct {
	// Type is mount.TypeBind for an absolute source, mount.TypeVolume otherwise (Source empty
	// for an anonymous volume).
	Type   mount.Type
	Source string
	Target string
	// Mode is the mode field as given ("ro", "rw,Z", "nocopy", ""); Docker keeps it in inspect.
	Mode        string
	ReadOnly    bool
	Propagation mount.Propagation // binds only; DefaultPropagation when not given
	NoCopy      bool
}

var (
	rwModes          = map[string]bool{"rw": true, "ro": true}
	labelModes       = map[string]bool{"z": true, "Z": true}
	propagationModes = map[string]bool{
		"private": true, "rprivate": true, "shared": true, "rshared": true, "slave": true, "rslave": true,
	}
	copyModes        = map[string]bool{"nocopy": true}
	consistencyModes = map[string]bool{"consistent": true, "cached": true, "delegated": true}
)

func errInvalidSpec(spec string) error {
	return errdefs.Invalid(fmt.Sprintf("invalid volume specification: '%s'", spec))
}

func errInvalidMode(mode string) error {
	return errdefs.Invalid(fmt.Sprintf("invalid mode: %s", mode))
}

// validMode reports whether mode is a comma list with at most one option of each kind, as
// Docker's ValidMountMode.
func validMode(mode string) bool {
	if mode == "" {
		return true
	}
	var rw, label, prop, cp, cons int
	for _, o := range strings.Split(mode, ",") {
		switch {
		case rwModes[o]:
			rw++
		case labelModes[o]:
			label++
		case propagationModes[o]:
			prop++
		case copyModes[o]:
			cp++
		case consistencyModes[o]:
			cons++
		default:
			return false
		}
	}
	return rw <= 1 && label <= 1 && prop <= 1 && cp <= 1 && cons <= 1
}

func modeHas(mode string, set map[string]bool) (string, bool) {
	for _, o := range strings.Split(mode, ",") {
		if set[o] {
			return o, true
		}
	}
	return "", false
}

// ParseVolume parses a -v/--volume argument: /host:/ctr[:mode], NAME:/ctr[:mode] or /ctr.
// mode is a comma list of ro|rw, z|Z, a propagation, nocopy. Errors carry Docker's wording and
// satisfy errors.Is(err, errdefs.ErrInvalid).
func ParseVolume(raw string) (*Spec, error) {
	if strings.Count(raw, ":") > 2 {
		return nil, errInvalidSpec(raw)
	}
	arr := strings.SplitN(raw, ":", 3)
	if arr[0] == "" {
		return nil, errInvalidSpec(raw)
	}
	s := &Spec{}
	switch len(arr) {
	case 1:
		s.Target = arr[0]
	case 2:
		if validMode(arr[1]) {
			// "/foo:rw": a destination with a mode is not a volume.
			return nil, errInvalidSpec(raw)
		}
		s.Source, s.Target = arr[0], arr[1]
	case 3:
		s.Source, s.Target, s.Mode = arr[0], arr[1], arr[2]
	}
	if !validMode(s.Mode) {
		return nil, errInvalidMode(s.Mode)
	}
	if path.IsAbs(s.Source) {
		s.Type = mount.TypeBind
	} else {
		s.Type = mount.TypeVolume
	}
	rw, _ := modeHas(s.Mode, rwModes)
	s.ReadOnly = rw == "ro"
	_, s.NoCopy = modeHas(s.Mode, copyModes)
	if p, ok := modeHas(s.Mode, propagationModes); ok {
		s.Propagation = mount.Propagation(p)
	}
	wrap := func(err error) error {
		return errdefs.Invalid(fmt.Sprintf("%v: %v", errInvalidSpec(raw), err))
	}
	m := mount.Mount{Type: s.Type, Source: s.Source, Target: s.Target, ReadOnly: s.ReadOnly}
	if s.Type == mount.TypeBind && s.Propagation != "" {
		m.BindOptions = &mount.BindOptions{Propagation: s.Propagation}
	}
	if s.Type == mount.TypeBind {
		if s.NoCopy {
			return nil, wrap(&mountConfigError{m.Type, errors.New("field VolumeOptions must not be specified")})
		}
		if s.Propagation == "" {
			s.Propagation = DefaultPropagation
		}
	} else if s.Propagation != "" {
		return nil, wrap(&mountConfigError{m.Type, errors.New("field BindOptions must not be specified")})
	}
	if err := validateMount(m, false); err != nil {
		return nil, wrap(err)
	}
	s.Target = path.Clean(s.Target)
	if s.Type == mount.TypeBind {
		s.Source = filepath.Clean(s.Source)
	}
	return s, nil
}

// ValidateBind checks a -v/--volume argument without creating anything (for flag parsing).
func ValidateBind(spec string) error {
	s, err := ParseVolume(spec)
	if err != nil {
		return err
	}
	if s.Type == mount.TypeVolume && s.Source != "" {
		if err := ValidateName(s.Source); err != nil {
			return errdefs.Invalid(fmt.Sprintf("create %s: %v", s.Source, err))
		}
	}
	return nil
}

type mountConfigError struct {
	typ mount.Type
	err error
}

func (e *mountConfigError) Error() string {
	return fmt.Sprintf("invalid mount config for type %q: %v", e.typ, e.err)
}

func (e *mountConfigError) Unwrap() error { return errdefs.ErrInvalid }

func validateTarget(target string) error {
	if target == "" {
		return errors.New("field Target must not be empty")
	}
	if path.Clean(target) == "/" {
		return errors.New("invalid specification: destination can't be '/'")
	}
	if !path.IsAbs(target) {
		return fmt.Errorf("invalid mount path: '%s' mount path must be absolute", target)
	}
	return nil
}

// ValidateMount checks a --mount value as Docker's daemon does, including that a bind source
// exists and that a volume name is valid. Errors read `invalid mount config for type "bind": ...`
// or `create NAME: "NAME" includes invalid characters ...`.
func ValidateMount(m mount.Mount) error {
	if err := validateMount(m, true); err != nil {
		return err
	}
	if m.Type == mount.TypeVolume && m.Source != "" {
		if err := ValidateName(m.Source); err != nil {
			return errdefs.Invalid(fmt.Sprintf("create %s: %v", m.Source, err))
		}
	}
	return nil
}

func validateMount(m mount.Mount, bindSourceMustExist bool) error {
	fail := func(err error) error { return &mountConfigError{m.Type, err} }
	if err := validateTarget(m.Target); err != nil {
		return fail(err)
	}
	switch m.Type {
	case mount.TypeBind:
		if m.Source == "" {
			return fail(errors.New("field Source must not be empty"))
		}
		if m.BindOptions != nil && m.BindOptions.Propagation != "" && !propagationModes[string(m.BindOptions.Propagation)] {
			return fail(fmt.Errorf("invalid propagation mode: %s", m.BindOptions.Propagation))
		}
		if m.VolumeOptions != nil {
			return fail(errors.New("field VolumeOptions must not be specified"))
		}
		if m.TmpfsOptions != nil {
			return fail(errors.New("field TmpfsOptions must not be specified"))
		}
		if !path.IsAbs(m.Source) {
			return fail(fmt.Errorf("invalid mount path: '%s' mount path must be absolute", m.Source))
		}
		if bindSourceMustExist {
			if _, err := os.Stat(m.Source); err != nil {
				if os.IsNotExist(err) {
					return fail(fmt.Errorf("bind source path does not exist: %s", m.Source))
				}
				return fail(err)
			}
		}
	case mount.TypeVolume:
		if m.BindOptions != nil {
			return fail(errors.New("field BindOptions must not be specified"))
		}
		if m.TmpfsOptions != nil {
			return fail(errors.New("field TmpfsOptions must not be specified"))
		}
		if m.Source == "" && m.ReadOnly {
			return fail(errors.New("must not set ReadOnly mode when using anonymous volumes"))
		}
		if m.VolumeOptions != nil && m.VolumeOptions.DriverConfig != nil {
			if d := m.VolumeOptions.DriverConfig.Name; d != "" && d != DefaultDriver {
				return fail(fmt.Errorf("volume driver %q is not supported (only %q)", d, DefaultDriver))
			}
			if err := validateDriverOpts(m.VolumeOptions.DriverConfig.Options); err != nil {
				return fail(err)
			}
		}
	case mount.TypeTmpfs:
		if m.BindOptions != nil {
			return fail(errors.New("field BindOptions must not be specified"))
		}
		if m.VolumeOptions != nil {
			return fail(errors.New("field VolumeOptions must not be specified"))
		}
		if m.Source != "" {
			return fail(errors.New("field Source must not be specified"))
		}
		if m.TmpfsOptions != nil && m.TmpfsOptions.SizeBytes < 0 {
			return fail(fmt.Errorf("invalid tmpfs size %d", m.TmpfsOptions.SizeBytes))
		}
	case "":
		return fail(errors.New("mount type unknown"))
	default:
		return fail(errors.New("mount type unknown"))
	}
	return nil
}

// ParseMountFlag parses and validates one --mount value
// (type=bind|volume|tmpfs,source=,target=,readonly,bind-propagation=,volume-nocopy,volume-label=,
// volume-driver=,volume-opt=,tmpfs-size=,tmpfs-mode=) with docker/cli's wording, then checks it
// as the daemon would (a missing bind source is an error).
func ParseMountFlag(spec string) (mount.Mount, error) {
	m := mount.Mount{Type: mount.TypeVolume}
	r := csv.NewReader(strings.NewReader(spec))
	fields, err := r.Read()
	if err != nil {
		return m, errdefs.Invalid(fmt.Sprintf("invalid mount %q: %v", spec, err))
	}
	bindOpts := func() *mount.BindOptions {
		if m.BindOptions == nil {
			m.BindOptions = &mount.BindOptions{}
		}
		return m.BindOptions
	}
	volOpts := func() *mount.VolumeOptions {
		if m.VolumeOptions == nil {
			m.VolumeOptions = &mount.VolumeOptions{}
		}
		return m.VolumeOptions
	}
	tmpfsOpts := func() *mount.TmpfsOptions {
		if m.TmpfsOptions == nil {
			m.TmpfsOptions = &mount.TmpfsOptions{}
		}
		return m.TmpfsOptions
	}
	bad := func(f string, a ...any) (mount.Mount, error) {
		return mount.Mount{}, errdefs.Invalid(fmt.Sprintf(f, a...))
	}
	for _, field := range fields {
		key, val, ok := strings.Cut(field, "=")
		key = strings.ToLower(key)
		if !ok {
			switch key {
			case "readonly", "ro":
				m.ReadOnly = true
			case "volume-nocopy":
				volOpts().NoCopy = true
			case "bind-nonrecursive":
				bindOpts().NonRecursive = true
			default:
				return bad("invalid field '%s' must be a key=value pair", field)
			}
			continue
		}
		switch key {
		case "type":
			m.Type = mount.Type(strings.ToLower(val))
		case "source", "src":
			m.Source = val
			if val == "." || strings.HasPrefix(val, "./") {
				if abs, err := filepath.Abs(val); err == nil {
					m.Source = abs
				}
			}
		case "target", "dst", "destination":
			m.Target = val
		case "readonly", "ro":
			b, err := strconv.ParseBool(val)
			if err != nil {
				return bad("invalid value for %s: %s", key, val)
			}
			m.ReadOnly = b
		case "consistency":
			m.Consistency = mount.Consistency(strings.ToLower(val))
		case "bind-propagation":
			bindOpts().Propagation = mount.Propagation(strings.ToLower(val))
		case "bind-nonrecursive":
			b, err := strconv.ParseBool(val)
			if err != nil {
				return bad("invalid value for %s: %s", key, val)
			}
			bindOpts().NonRecursive = b
		case "volume-nocopy":
			b, err := strconv.ParseBool(val)
			if err != nil {
				return bad("invalid value for volume-nocopy: %s", val)
			}
			volOpts().NoCopy = b
		case "volume-label":
			k, v, _ := strings.Cut(val, "=")
			if volOpts().Labels == nil {
				volOpts().Labels = map[string]string{}
			}
			volOpts().Labels[k] = v
		case "volume-driver":
			if volOpts().DriverConfig == nil {
				volOpts().DriverConfig = &mount.Driver{}
			}
			volOpts().DriverConfig.Name = val
		case "volume-opt":
			if volOpts().DriverConfig == nil {
				volOpts().DriverConfig = &mount.Driver{}
			}
			if volOpts().DriverConfig.Options == nil {
				volOpts().DriverConfig.Options = map[string]string{}
			}
			k, v, _ := strings.Cut(val, "=")
			volOpts().DriverConfig.Options[k] = v
		case "tmpfs-size":
			n, err := units.RAMInBytes(val)
			if err != nil || n < 0 {
				return bad("invalid value for %s: %s", key, val)
			}
			tmpfsOpts().SizeBytes = n
		case "tmpfs-mode":
			n, err := strconv.ParseUint(val, 8, 32)
			if err != nil {
				return bad("invalid value for %s: %s", key, val)
			}
			tmpfsOpts().Mode = os.FileMode(n)
		default:
			return bad("unexpected key '%s' in '%s'", key, field)
		}
	}
	if m.Type == "" {
		return bad("type is required")
	}
	if m.Target == "" {
		return bad("target is required")
	}
	if m.VolumeOptions != nil && m.Type != mount.TypeVolume {
		return bad("cannot mix 'volume-*' options with mount type '%s'", m.Type)
	}
	if m.BindOptions != nil && m.Type != mount.TypeBind {
		return bad("cannot mix 'bind-*' options with mount type '%s'", m.Type)
	}
	if m.TmpfsOptions != nil && m.Type != mount.TypeTmpfs {
		return bad("cannot mix 'tmpfs-*' options with mount type '%s'", m.Type)
	}
	if err := ValidateMount(m); err != nil {
		return mount.Mount{}, err
	}
	return m, nil
}

// tmpfsOptions lists the mount options accepted in --tmpfs and tmpfs-typed volumes. Options with
// a value end in "=".
var tmpfsOptions = map[string]bool{
	"rw": true, "ro": true, "exec": true, "noexec": true, "suid": true, "nosuid": true, "dev": true,
	"nodev": true, "atime": true, "noatime": true, "diratime": true, "nodiratime": true,
	"relatime": true, "norelatime": true, "strictatime": true, "nostrictatime": true,
	"sync": true, "async": true, "dirsync": true, "mand": true, "nomand": true,
	"private": true, "rprivate": true, "shared": true, "rshared": true, "slave": true, "rslave": true,
	"size=": true, "mode=": true, "uid=": true, "gid=": true, "nr_inodes=": true, "nr_blocks=": true,
	"mpol=": true, "huge=": true, "tmpcopyup": true, "notmpcopyup": true,
}

// ParseTmpfs parses one --tmpfs value, "/path[:opt,opt...]", and checks the path and options.
func ParseTmpfs(spec string) (target, options string, err error) {
	target, options, _ = strings.Cut(spec, ":")
	if err := validateTarget(target); err != nil {
		return "", "", errdefs.Invalid(fmt.Sprintf("invalid tmpfs specification %q: %v", spec, err))
	}
	if err := validateTmpfsOptions(options); err != nil {
		return "", "", errdefs.Invalid(fmt.Sprintf("invalid tmpfs specification %q: %v", spec, err))
	}
	return path.Clean(target), options, nil
}

func validateTmpfsOptions(options string) error {
	if options == "" {
		return nil
	}
	for _, o := range strings.Split(options, ",") {
		k, v, hasVal := strings.Cut(o, "=")
		if hasVal {
			if !tmpfsOptions[k+"="] {
				return fmt.Errorf("unknown option %q", o)
			}
			switch k {
			case "size":
				if strings.HasSuffix(v, "%") {
					if _, err := strconv.ParseUint(strings.TrimSuffix(v, "%"), 10, 8); err != nil {
						return fmt.Errorf("invalid size %q", v)
					}
				} else if _, err := units.RAMInBytes(v); err != nil {
					return fmt.Errorf("invalid size %q", v)
				}
			case "mode":
				if _, err := strconv.ParseUint(v, 8, 32); err != nil {
					return fmt.Errorf("invalid mode %q", v)
				}
			case "uid", "gid":
				if _, err := strconv.ParseUint(v, 10, 32); err != nil {
					return fmt.Errorf("invalid %s %q", k, v)
				}
			case "nr_inodes", "nr_blocks":
				if _, err := units.RAMInBytes(v); err != nil {
					return fmt.Errorf("invalid %s %q", k, v)
				}
			}
			continue
		}
		if !tmpfsOptions[o] {
			return fmt.Errorf("unknown option %q", o)
		}
	}
	return nil
}

// ParseVolumesFrom parses one --volumes-from value, "CONTAINER[:ro|:rw]", as Docker: the mode
// defaults to "rw"; propagation and copy modes are refused.
func ParseVolumesFrom(spec string) (container, mode string, err error) {
	if spec == "" {
		return "", "", errdefs.Invalid("volumes-from specification cannot be an empty string")
	}
	container, mode, _ = strings.Cut(spec, ":")
	if container == "" {
		return "", "", errdefs.Invalid(fmt.Sprintf("invalid volumes-from specification: '%s'", spec))
	}
	if mode == "" {
		return container, "rw", nil
	}
	if !validMode(mode) {
		return "", "", errInvalidMode(mode)
	}
	if _, ok := modeHas(mode, propagationModes); ok {
		return "", "", errInvalidMode(mode)
	}
	if _, ok := modeHas(mode, copyModes); ok {
		return "", "", errInvalidMode(mode)
	}
	return container, mode, nil
}

func ramInBytes(v string) (int64, error) { return units.RAMInBytes(v) }

// ModeReadOnly tells whether a mode string ("ro", "ro,Z", ...) asks for read-only.
func ModeReadOnly(mode string) bool {
	rw, _ := modeHas(mode, rwModes)
	return rw == "ro"
}

// ModeNoCopy tells whether a mode string contains nocopy.
func ModeNoCopy(mode string) bool {
	_, ok := modeHas(mode, copyModes)
	return ok
}

// AbsBind makes the host part of a -v bind that starts with "." ("./data:/x", "..:/x")
// absolute, as docker/cli does before sending it; any other spec is returned unchanged.
func AbsBind(spec string) string {
	host, rest, ok := strings.Cut(spec, ":")
	if !ok || filepath.IsAbs(host) || !strings.HasPrefix(host, ".") {
		return spec
	}
	abs, err := filepath.Abs(host)
	if err != nil {
		return spec
	}
	return abs + ":" + rest
}
