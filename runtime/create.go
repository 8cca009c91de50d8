package runtime

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/ids"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/go-connections/nat"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// CreateOptions is what create (and run) asks for. Config and HostConfig are Docker's API types,
// filled from the command line; the image's configuration is applied by Create.
type CreateOptions struct {
	// ID, when set, is the container's ID: a fresh ids.NewID() that the caller gave a
	// prestarted monitor. Create refuses one that a container has.
	ID string
	// Name is the container's name without "/"; empty picks a random Docker-style name.
	Name string
	// Image is the reference as the user typed it (Config.Image), ImageID the config digest.
	Image   string
	ImageID string
	// ImageConfig is the image's runtime configuration (may be nil for an empty image).
	ImageConfig *v1.Config
	// LowerDirs are the image's layer folders, top first (image.Store.LowerDirs).
	LowerDirs []string

	Config     *container.Config
	HostConfig *container.HostConfig
	Networking *network.NetworkingConfig
}

// DefaultShmSize is Docker's /dev/shm size.
const DefaultShmSize = 64 << 20

// Create makes a new container record (config.json, state.json "created", its folders and name)
// without starting it. It returns the created container.
func (r *Runtime) Create(opts CreateOptions) (*Container, error) {
	cfg := opts.Config
	if cfg == nil {
		cfg = &container.Config{}
	}
	hc := opts.HostConfig
	if hc == nil {
		hc = &container.HostConfig{}
	}
	if opts.Name != "" && !validName(strings.TrimPrefix(opts.Name, "/")) {
		return nil, errdefs.Invalid(fmt.Sprintf("Invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", opts.Name))
	}
	if err := r.validateNetworking(cfg, hc); err != nil { // before the image's EXPOSE is merged in
		return nil, err
	}
	imageVolumes, err := mergeImageConfig(cfg, opts.ImageConfig)
	if err != nil {
		return nil, err
	}
	cfg.Image = opts.Image
	fillHostConfigDefaults(hc)
	if err := validateHostConfig(hc); err != nil {
		return nil, err
	}
	entry, args := cfg.Entrypoint, cfg.Cmd
	argv := append(append([]string{}, entry...), args...)
	if len(argv) == 0 {
		return nil, errdefs.Invalid("no command specified")
	}

	il, err := r.LockIndex()
	if err != nil {
		return nil, err
	}
	defer il.Release()

	id := opts.ID
	if id != "" && (len(id) != 64 || !ids.IsHexPrefix(id)) {
		return nil, errdefs.Invalid(fmt.Sprintf("invalid container ID %q", id))
	}
	for {
		if id == "" {
			id = ids.NewID()
		}
		if _, err := os.Lstat(r.Layout.ContainerDir(id)); errors.Is(err, os.ErrNotExist) {
			break
		}
		if opts.ID != "" {
			return nil, errdefs.Conflict(fmt.Sprintf("container ID %s is already in use", id))
		}
		id = ""
	}
	name := strings.TrimPrefix(opts.Name, "/")
	if name != "" {
		if err := r.reserveName(name, id); err != nil {
			return nil, err
		}
	} else {
		for retry := 0; ; retry++ {
			name = ids.RandomName(retry)
			if _, taken := r.lookupName(name); !taken {
				break
			}
			if retry > 20 {
				return nil, fmt.Errorf("create container: could not pick a free random name")
			}
		}
		if err := r.reserveName(name, id); err != nil {
			return nil, err
		}
	}
	if cfg.Hostname == "" {
		cfg.Hostname = id[:12]
		if hc.NetworkMode.IsHost() {
			cfg.Hostname, _ = os.Hostname()
		}
	}

	rec := &Record{
		ID:         id,
		Name:       name,
		Created:    time.Now().UTC(),
		Image:      opts.Image,
		ImageID:    opts.ImageID,
		Path:       argv[0],
		Args:       argv[1:],
		Config:     cfg,
		HostConfig: hc,
		LowerDirs:  opts.LowerDirs,
		Networks:   map[string]*network.EndpointSettings{},
	}
	if opts.Networking != nil {
		for n, ep := range opts.Networking.EndpointsConfig {
			rec.Networks[n] = ep
		}
	}
	mode := string(hc.NetworkMode)
	if len(rec.Networks) == 0 && !hc.NetworkMode.IsContainer() {
		if mode == "default" {
			mode = "bridge"
		}
		rec.Networks[mode] = &network.EndpointSettings{}
	}

	fail := func(err error) (*Container, error) {
		os.RemoveAll(r.Layout.ContainerDir(id))
		r.releaseName(name, id)
		return nil, err
	}
	dir := r.Layout.ContainerDir(id)
	for _, d := range []string{"upper", "work", "merged"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return fail(fmt.Errorf("create container: %w", err))
		}
		// The overlay's root directory takes the upper dir's mode: it must be 0755 like an
		// image's "/" or non-root users cannot reach anything.
		if d == "upper" {
			if err := os.Chmod(filepath.Join(dir, d), 0o755); err != nil {
				return fail(fmt.Errorf("create container: %w", err))
			}
		}
	}
	// Bind mounted into the container: they must exist before the first start.
	for _, f := range []string{"hostname", "hosts", "resolv.conf"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o644); err != nil {
			return fail(fmt.Errorf("create container: %w", err))
		}
	}
	// The volume store stays locked until config.json names the new container's volumes.
	unlockVolumes, err := planMounts(r.Layout, rec, imageVolumes)
	if err != nil {
		releaseMounts(r.Layout, rec, true)
		return fail(fmt.Errorf("create container: %w", err))
	}
	st := &State{Status: StatusCreated}
	if err := r.SaveState(id, st); err != nil {
		unlockVolumes()
		releaseMounts(r.Layout, rec, true)
		return fail(err)
	}
	err = r.SaveRecord(rec)
	unlockVolumes()
	if err != nil {
		releaseMounts(r.Layout, rec, true)
		return fail(err)
	}
	r.event(rec, "create", nil)
	return &Container{Record: *rec, State: *st}, nil
}

// mergeImageConfig applies the image's configuration to cfg as Docker's daemon does and returns
// the image's VOLUME entries.
func mergeImageConfig(cfg *container.Config, img *v1.Config) (map[string]struct{}, error) {
	if img != nil {
		cfg.Env = mergeEnv(img.Env, cfg.Env)
		if len(cfg.Entrypoint) == 0 {
			if len(cfg.Cmd) == 0 {
				cfg.Cmd = img.Cmd
			}
			if cfg.Entrypoint == nil {
				cfg.Entrypoint = img.Entrypoint
			}
		}
		if cfg.WorkingDir == "" {
			cfg.WorkingDir = img.WorkingDir
		}
		if cfg.User == "" {
			cfg.User = img.User
		}
		if cfg.StopSignal == "" {
			cfg.StopSignal = img.StopSignal
		}
		if len(img.Labels) > 0 {
			labels := map[string]string{}
			for k, v := range img.Labels {
				labels[k] = v
			}
			for k, v := range cfg.Labels {
				labels[k] = v
			}
			cfg.Labels = labels
		}
		if len(img.ExposedPorts) > 0 {
			if cfg.ExposedPorts == nil {
				cfg.ExposedPorts = nat.PortSet{}
			}
			for p := range img.ExposedPorts {
				cfg.ExposedPorts[nat.Port(p)] = struct{}{}
			}
		}
		if len(img.Volumes) > 0 {
			if cfg.Volumes == nil {
				cfg.Volumes = map[string]struct{}{}
			}
			for v := range img.Volumes {
				cfg.Volumes[v] = struct{}{}
			}
		}
		if cfg.Healthcheck == nil && img.Healthcheck != nil {
			cfg.Healthcheck = &container.HealthConfig{
				Test: img.Healthcheck.Test, Interval: img.Healthcheck.Interval,
				Timeout: img.Healthcheck.Timeout, Retries: img.Healthcheck.Retries,
				StartPeriod: img.Healthcheck.StartPeriod,
			}
		}
		if cfg.Shell == nil && img.Shell != nil {
			cfg.Shell = img.Shell
		}
		if cfg.OnBuild == nil && img.OnBuild != nil {
			cfg.OnBuild = img.OnBuild
		}
	} else if len(cfg.Env) == 0 {
		cfg.Env = nil
	}
	if len(cfg.Entrypoint) == 1 && cfg.Entrypoint[0] == "" {
		cfg.Entrypoint = nil
	}
	if !hasEnv(cfg.Env, "PATH") {
		cfg.Env = append([]string{"PATH=" + defaultPath}, cfg.Env...)
	}
	if cfg.WorkingDir != "" {
		if !path.IsAbs(cfg.WorkingDir) {
			return nil, errdefs.Invalid(fmt.Sprintf("the working directory '%s' is invalid, it needs to be an absolute path", cfg.WorkingDir))
		}
		cfg.WorkingDir = path.Clean(cfg.WorkingDir)
	}
	return cfg.Volumes, nil
}

// defaultPath is the PATH a container gets when neither the image nor the user sets one.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// mergeEnv returns base with the KEY=VALUE entries of override replacing same-key entries in place
// and the rest appended (Docker's ReplaceOrAppendEnvValues). A bare KEY in override removes it.
func mergeEnv(base, override []string) []string {
	out := append([]string{}, base...)
	index := map[string]int{}
	for i, e := range out {
		index[envKey(e)] = i
	}
	var drop map[int]bool
	for _, e := range override {
		k := envKey(e)
		if i, ok := index[k]; ok {
			if !strings.Contains(e, "=") {
				if drop == nil {
					drop = map[int]bool{}
				}
				drop[i] = true
				continue
			}
			out[i] = e
			continue
		}
		if !strings.Contains(e, "=") {
			continue
		}
		index[k] = len(out)
		out = append(out, e)
	}
	if drop != nil {
		kept := out[:0]
		for i, e := range out {
			if !drop[i] {
				kept = append(kept, e)
			}
		}
		out = kept
	}
	return out
}

func envKey(e string) string {
	k, _, _ := strings.Cut(e, "=")
	return k
}

func hasEnv(env []string, key string) bool {
	for _, e := range env {
		if envKey(e) == key {
			return true
		}
	}
	return false
}

// fillHostConfigDefaults sets what Docker's daemon sets at create so that inspect shows the same.
func fillHostConfigDefaults(hc *container.HostConfig) {
	if hc.NetworkMode == "" || hc.NetworkMode == "default" {
		hc.NetworkMode = "bridge"
	}
	if hc.ShmSize == 0 {
		hc.ShmSize = DefaultShmSize
	}
	if hc.RestartPolicy.Name == "" {
		hc.RestartPolicy.Name = container.RestartPolicyDisabled
	}
	if hc.LogConfig.Type == "" {
		hc.LogConfig.Type = "json-file"
	}
	if hc.LogConfig.Config == nil {
		hc.LogConfig.Config = map[string]string{}
	}
	if hc.IpcMode == "" {
		hc.IpcMode = "private"
	}
	if hc.CgroupnsMode == "" {
		hc.CgroupnsMode = "host"
	}
	if !hc.Privileged {
		if hc.MaskedPaths == nil {
			hc.MaskedPaths = append([]string{}, defaultMaskedPaths...)
		}
		if hc.ReadonlyPaths == nil {
			hc.ReadonlyPaths = append([]string{}, defaultReadonlyPaths...)
		}
	}
}

// validateHostConfig rejects combinations Docker rejects.
func validateHostConfig(hc *container.HostConfig) error {
	if hc.AutoRemove && !hc.RestartPolicy.IsNone() {
		return errdefs.Invalid("conflicting options: cannot specify both --restart and --rm")
	}
	if hc.Memory > 0 && hc.Memory < 6<<20 {
		return errdefs.Invalid("Minimum memory limit allowed is 6MB")
	}
	if hc.MemorySwap > 0 && hc.Memory > 0 && hc.MemorySwap < hc.Memory {
		return errdefs.Invalid("Minimum memoryswap limit should be larger than memory limit, see usage")
	}
	if hc.MemorySwap > 0 && hc.Memory == 0 {
		return errdefs.Invalid("You should always set the Memory limit when using Memoryswap limit, see usage")
	}
	if hc.ShmSize < 0 {
		return errdefs.Invalid("SHM size can not be less than 0")
	}
	if hc.NanoCPUs > 0 && hc.CPUPeriod > 0 {
		return errdefs.Invalid("Conflicting options: Nano CPUs and CPU Period cannot both be set")
	}
	if err := validateCPUs(hc); err != nil {
		return err
	}
	if rp := hc.RestartPolicy; rp.MaximumRetryCount < 0 {
		return errdefs.Invalid("invalid restart policy: maximum retry count cannot be negative")
	} else if rp.MaximumRetryCount > 0 && !rp.IsOnFailure() {
		return errdefs.Invalid(fmt.Sprintf("invalid restart policy: maximum retry count can only be used with 'on-failure'"))
	}
	return nil
}

// Docker's default masked and read-only paths (oci.DefaultSpec).
var (
	defaultMaskedPaths = []string{
		"/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys",
		"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
		"/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
	}
	defaultReadonlyPaths = []string{
		"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
	}
)
