package runtime

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/moby/profiles/seccomp"
	"github.com/moby/sys/capability"
	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runc/libcontainer/specconv"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// defaultCaps are Docker's 14 default capabilities.
var defaultCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
	"CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// initPath is where --init's reaper (berth itself) is bind-mounted in the container, as Docker's
// docker-init.
const initPath = "/sbin/docker-init"

// specInput is everything buildSpec needs beyond the record.
type specInput struct {
	Rootfs string
	Net    netSetup
	User   execUser
	// Mounts are the volume, bind and tmpfs mounts from specMounts.
	Mounts []*configs.Mount
	// Dir is the container's folder (hosts, hostname, resolv.conf).
	Dir string
	// InitBinary is the host path of the berth binary, bind-mounted for --init.
	InitBinary string
}

// allCaps lists every capability the running kernel knows and berth itself may hand out (its
// bounding set: a host that dropped CAP_SYS_RESOURCE cannot give it to --privileged), in OCI
// form ("CAP_CHOWN").
func allCaps() []string {
	var out []string
	last, err := capability.LastCap()
	bnd := boundingSet()
	for _, c := range capability.ListKnown() {
		if err == nil && c > last || bnd&(1<<uint(c)) == 0 {
			continue
		}
		out = append(out, "CAP_"+strings.ToUpper(c.String()))
	}
	return out
}

// boundingSet reads CapBnd of this process (all bits when unknown).
func boundingSet() uint64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return ^uint64(0)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "CapBnd:"); ok {
			var caps uint64
			if _, err := fmt.Sscanf(strings.TrimSpace(v), "%x", &caps); err == nil {
				return caps
			}
		}
	}
	return ^uint64(0)
}

// normalizeCap turns "chown", "CAP_CHOWN" or "ALL" into OCI form, rejecting unknown names as
// Docker does.
func normalizeCap(c string) (string, error) {
	u := strings.ToUpper(strings.TrimSpace(c))
	if u == "ALL" {
		return "ALL", nil
	}
	if !strings.HasPrefix(u, "CAP_") {
		u = "CAP_" + u
	}
	for _, k := range capability.ListKnown() {
		if "CAP_"+strings.ToUpper(k.String()) == u {
			return u, nil
		}
	}
	return "", errdefs.Invalid(fmt.Sprintf("unknown capability: %q", u))
}

// TweakCapabilities applies --cap-add and --cap-drop to base as Docker does: ALL in drop empties
// the set first, ALL in add takes every capability, and an explicit add wins over a drop.
func TweakCapabilities(base, add, drop []string, privileged bool) ([]string, error) {
	if privileged {
		return allCaps(), nil
	}
	set := map[string]bool{}
	for _, c := range base {
		set[c] = true
	}
	var adds []string
	addAll := false
	for _, c := range add {
		n, err := normalizeCap(c)
		if err != nil {
			return nil, err
		}
		if n == "ALL" {
			addAll = true
			continue
		}
		adds = append(adds, n)
	}
	for _, c := range drop {
		n, err := normalizeCap(c)
		if err != nil {
			return nil, err
		}
		if n == "ALL" {
			set = map[string]bool{}
			continue
		}
		delete(set, n)
	}
	if addAll {
		for _, c := range allCaps() {
			set[c] = true
		}
		for _, c := range drop {
			if n, _ := normalizeCap(c); n != "ALL" {
				delete(set, n)
			}
		}
	}
	for _, c := range adds {
		set[c] = true
	}
	out := make([]string, 0, len(set))
	for c := range set {
		out = append(out, c)
	}
	sort.Strings(out)
	return out, nil
}

// buildSpec makes the OCI runtime spec Docker would make for rec, before conversion to
// libcontainer's configuration.
func buildSpec(rec *Record, in specInput) (*specs.Spec, error) {
	cfg, hc := rec.Config, rec.HostConfig
	tty := cfg.Tty
	caps, err := TweakCapabilities(defaultCaps, hc.CapAdd, hc.CapDrop, hc.Privileged)
	if err != nil {
		return nil, err
	}
	capset := &specs.LinuxCapabilities{Bounding: caps, Permitted: caps, Effective: caps}
	if in.User.UID != 0 {
		// Docker gives non-root users no effective or permitted capabilities.
		capset.Permitted, capset.Effective = nil, nil
	}
	env := containerEnv(rec, tty, in.Net.Env...)
	args := append([]string{rec.Path}, rec.Args...)
	if hc.Init != nil && *hc.Init {
		args = append([]string{initPath, "--"}, args...)
	}
	cwd := cfg.WorkingDir
	if cwd == "" {
		cwd = "/"
	}
	spec := &specs.Spec{
		Version: specs.Version,
		Root:    &specs.Root{Path: in.Rootfs, Readonly: hc.ReadonlyRootfs},
		Process: &specs.Process{
			Terminal: tty,
			Args:     args,
			Env:      env,
			Cwd:      cwd,
			User: specs.User{
				UID: uint32(in.User.UID), GID: uint32(in.User.GID),
				AdditionalGids: in.User.Sgids,
			},
			Capabilities:    capset,
			NoNewPrivileges: noNewPrivileges(hc.SecurityOpt),
		},
		Hostname:   cfg.Hostname,
		Domainname: cfg.Domainname,
		Mounts:     defaultMounts(hc),
		Linux: &specs.Linux{
			CgroupsPath: cgroupsPath(rec.ID),
			Resources:   &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}},
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace}, {Type: specs.IPCNamespace}, {Type: specs.UTSNamespace},
				{Type: specs.MountNamespace},
			},
		},
	}
	if hc.OomScoreAdj != 0 {
		adj := hc.OomScoreAdj
		spec.Process.OOMScoreAdj = &adj
	}
	if !in.Net.Host {
		spec.Linux.Namespaces = append(spec.Linux.Namespaces, specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: in.Net.NsPath})
	}
	if hc.PidMode.IsHost() {
		spec.Linux.Namespaces = removeNamespace(spec.Linux.Namespaces, specs.PIDNamespace)
	}
	if hc.IpcMode.IsHost() {
		spec.Linux.Namespaces = removeNamespace(spec.Linux.Namespaces, specs.IPCNamespace)
	}
	if hc.UTSMode.IsHost() {
		spec.Linux.Namespaces = removeNamespace(spec.Linux.Namespaces, specs.UTSNamespace)
		spec.Hostname = ""
	}
	if cgroup2() && !hc.CgroupnsMode.IsHost() {
		spec.Linux.Namespaces = append(spec.Linux.Namespaces, specs.LinuxNamespace{Type: specs.CgroupNamespace})
	}
	for _, f := range []string{"resolv.conf", "hostname", "hosts"} {
		spec.Mounts = append(spec.Mounts, specs.Mount{
			Destination: "/etc/" + f, Type: "bind", Source: filepath.Join(in.Dir, f),
			Options: []string{"rbind", "rprivate"},
		})
	}
	if hc.Init != nil && *hc.Init && in.InitBinary != "" {
		spec.Mounts = append(spec.Mounts, specs.Mount{
			Destination: initPath, Type: "bind", Source: in.InitBinary,
			Options: []string{"bind", "ro", "nosuid", "nodev"},
		})
	}
	if !hc.Privileged {
		spec.Linux.MaskedPaths = hc.MaskedPaths
		spec.Linux.ReadonlyPaths = hc.ReadonlyPaths
	}
	if err := setSpecResources(spec, hc); err != nil {
		return nil, err
	}
	if err := setDevices(spec, hc); err != nil {
		return nil, err
	}
	if err := setSeccomp(spec, hc); err != nil {
		return nil, err
	}
	return spec, nil
}

func removeNamespace(list []specs.LinuxNamespace, t specs.LinuxNamespaceType) []specs.LinuxNamespace {
	out := list[:0]
	for _, n := range list {
		if n.Type != t {
			out = append(out, n)
		}
	}
	return out
}

// containerEnv is the process environment as Docker builds it: PATH, HOSTNAME, TERM (with a tty),
// the --link variables, then the container's env replacing or adding.
func containerEnv(rec *Record, tty bool, linked ...string) []string {
	base := []string{"PATH=" + defaultPath, "HOSTNAME=" + rec.Config.Hostname}
	if tty {
		base = append(base, "TERM=xterm")
	}
	base = append(base, linked...)
	return mergeEnv(base, rec.Config.Env)
}

func noNewPrivileges(opts []string) bool {
	for _, o := range opts {
		k, v, ok := strings.Cut(o, "=")
		if !ok {
			k, v, ok = strings.Cut(o, ":")
		}
		if k == "no-new-privileges" && (!ok || v == "true") {
			return true
		}
	}
	return false
}

// defaultMounts are Docker's /proc, /dev, /dev/pts, /sys, cgroup, mqueue and /dev/shm mounts.
func defaultMounts(hc *container.HostConfig) []specs.Mount {
	shm := hc.ShmSize
	if shm <= 0 {
		shm = DefaultShmSize
	}
	sysOpts := []string{"nosuid", "noexec", "nodev", "ro"}
	cgOpts := []string{"ro", "nosuid", "noexec", "nodev"}
	if hc.Privileged {
		sysOpts = []string{"nosuid", "noexec", "nodev"}
		cgOpts = []string{"rw", "nosuid", "noexec", "nodev"}
	}
	m := []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: sysOpts},
		{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: cgOpts},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
	}
	if !hc.IpcMode.IsHost() {
		m = append(m, specs.Mount{Destination: "/dev/shm", Type: "tmpfs", Source: "shm",
			Options: []string{"nosuid", "noexec", "nodev", "mode=1777", fmt.Sprintf("size=%d", shm)}})
	}
	return m
}

// cgroup2 tells whether the host runs the unified hierarchy only.
func cgroup2() bool {
	var st unix.Statfs_t
	return unix.Statfs("/sys/fs/cgroup", &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC
}

// setSpecResources maps Docker's resource flags to the OCI spec.
func setSpecResources(spec *specs.Spec, hc *container.HostConfig) error {
	r := spec.Linux.Resources
	if hc.Memory > 0 || hc.MemoryReservation > 0 || hc.MemorySwap != 0 {
		mem := &specs.LinuxMemory{}
		if hc.Memory > 0 {
			l := hc.Memory
			mem.Limit = &l
			// Docker: swap defaults to twice the memory when swap accounting exists.
			swap := hc.MemorySwap
			if swap == 0 {
				swap = 2 * hc.Memory
			}
			if swapAccounting() {
				mem.Swap = &swap
			}
		}
		if hc.MemoryReservation > 0 {
			res := hc.MemoryReservation
			mem.Reservation = &res
		}
		r.Memory = mem
	}
	cpu := &specs.LinuxCPU{}
	set := false
	if hc.NanoCPUs > 0 {
		period := uint64(100000)
		quota := hc.NanoCPUs * int64(period) / 1e9
		cpu.Period, cpu.Quota = &period, &quota
		set = true
	}
	if hc.CPUPeriod > 0 {
		p := uint64(hc.CPUPeriod)
		cpu.Period = &p
		set = true
	}
	if hc.CPUQuota > 0 {
		q := hc.CPUQuota
		cpu.Quota = &q
		set = true
	}
	if hc.CPUShares > 0 {
		s := uint64(hc.CPUShares)
		cpu.Shares = &s
		set = true
	}
	if hc.CpusetCpus != "" {
		cpu.Cpus = hc.CpusetCpus
		set = true
	}
	if hc.CpusetMems != "" {
		cpu.Mems = hc.CpusetMems
		set = true
	}
	if set {
		r.CPU = cpu
	}
	if hc.PidsLimit != nil && *hc.PidsLimit != 0 {
		l := *hc.PidsLimit
		r.Pids = &specs.LinuxPids{Limit: &l}
	}
	return nil
}

// swapAccounting tells whether the memory controller can limit memory+swap.
func swapAccounting() bool {
	if cgroup2() {
		_, err := os.Stat("/sys/fs/cgroup/memory.swap.max")
		if err == nil {
			return true
		}
		// The root cgroup has no memory.swap.max: look at init's cgroup controllers instead.
		data, _ := os.ReadFile("/sys/fs/cgroup/cgroup.subtree_control")
		return strings.Contains(string(data), "memory")
	}
	_, err := os.Stat("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes")
	return err == nil
}

// setDevices adds --device entries (and every host device for --privileged).
func setDevices(spec *specs.Spec, hc *container.HostConfig) error {
	if hc.Privileged {
		spec.Linux.Resources.Devices = []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}
		devs, err := hostDevices("/dev")
		if err != nil {
			return err
		}
		spec.Linux.Devices = append(spec.Linux.Devices, devs...)
		return nil
	}
	for _, d := range hc.Devices {
		perms := d.CgroupPermissions
		if perms == "" {
			perms = "rwm"
		}
		dst := d.PathInContainer
		if dst == "" {
			dst = d.PathOnHost
		}
		fi, err := os.Stat(d.PathOnHost)
		if err != nil {
			return fmt.Errorf("error gathering device information while adding custom device %q: %w", d.PathOnHost, err)
		}
		if fi.IsDir() {
			devs, err := hostDevices(d.PathOnHost)
			if err != nil {
				return err
			}
			for _, dev := range devs {
				dev.Path = filepath.Join(dst, strings.TrimPrefix(dev.Path, d.PathOnHost))
				spec.Linux.Devices = append(spec.Linux.Devices, dev)
				spec.Linux.Resources.Devices = append(spec.Linux.Resources.Devices, allowRule(dev, perms))
			}
			continue
		}
		dev, err := deviceFromPath(d.PathOnHost)
		if err != nil {
			return err
		}
		dev.Path = dst
		spec.Linux.Devices = append(spec.Linux.Devices, *dev)
		spec.Linux.Resources.Devices = append(spec.Linux.Resources.Devices, allowRule(*dev, perms))
	}
	return nil
}

func allowRule(d specs.LinuxDevice, perms string) specs.LinuxDeviceCgroup {
	maj, min := d.Major, d.Minor
	return specs.LinuxDeviceCgroup{Allow: true, Type: d.Type, Major: &maj, Minor: &min, Access: perms}
}

// deviceFromPath describes the host device node at p.
func deviceFromPath(p string) (*specs.LinuxDevice, error) {
	var st unix.Stat_t
	if err := unix.Stat(p, &st); err != nil {
		return nil, fmt.Errorf("error gathering device information while adding custom device %q: %w", p, err)
	}
	var t string
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFCHR:
		t = "c"
	case unix.S_IFBLK:
		t = "b"
	case unix.S_IFIFO:
		t = "p"
	default:
		return nil, errdefs.Invalid(fmt.Sprintf("error gathering device information while adding custom device %q: not a device node", p))
	}
	mode := os.FileMode(st.Mode &^ unix.S_IFMT)
	uid, gid := st.Uid, st.Gid
	return &specs.LinuxDevice{
		Path: p, Type: t, Major: int64(unix.Major(uint64(st.Rdev))), Minor: int64(unix.Minor(uint64(st.Rdev))),
		FileMode: &mode, UID: &uid, GID: &gid,
	}, nil
}

// hostDevices lists the device nodes under dir (for --privileged and directory --device).
func hostDevices(dir string) ([]specs.LinuxDevice, error) {
	var out []specs.LinuxDevice
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() {
			switch p {
			case "/dev/pts", "/dev/mqueue", "/dev/shm", "/dev/.lxc", "/dev/.udev":
				return filepath.SkipDir
			}
			return nil
		}
		if d.Type()&(os.ModeDevice|os.ModeCharDevice) == 0 || p == "/dev/console" || p == "/dev/ptmx" {
			return nil
		}
		dev, err := deviceFromPath(p)
		if err == nil {
			out = append(out, *dev)
		}
		return nil
	})
	return out, err
}

// setSeccomp applies Docker's default seccomp profile unless --privileged or
// --security-opt seccomp=unconfined; seccomp=FILE loads a profile from a file.
func setSeccomp(spec *specs.Spec, hc *container.HostConfig) error {
	profile := ""
	for _, o := range hc.SecurityOpt {
		k, v, ok := strings.Cut(o, "=")
		if !ok {
			k, v, _ = strings.Cut(o, ":")
		}
		if k == "seccomp" {
			profile = v
		}
	}
	if hc.Privileged && profile == "" || profile == "unconfined" {
		return nil
	}
	if profile == "" || profile == "builtin" {
		sc, err := seccomp.GetDefaultProfile(spec)
		if err != nil {
			return fmt.Errorf("load default seccomp profile: %w", err)
		}
		spec.Linux.Seccomp = sc
		return nil
	}
	body, err := os.ReadFile(profile)
	if err != nil {
		return fmt.Errorf("opening seccomp profile (%s) failed: %w", profile, err)
	}
	sc, err := seccomp.LoadProfile(string(body), spec)
	if err != nil {
		return fmt.Errorf("load seccomp profile %s: %w", profile, err)
	}
	spec.Linux.Seccomp = sc
	return nil
}

// ValidateSecurityOpts checks --security-opt values as Docker does.
func ValidateSecurityOpts(opts []string) error {
	for _, o := range opts {
		k, v, ok := strings.Cut(o, "=")
		if !ok {
			k, v, ok = strings.Cut(o, ":")
		}
		switch k {
		case "no-new-privileges":
			if ok && v != "true" && v != "false" {
				return errdefs.Invalid(fmt.Sprintf("invalid --security-opt 2: %q", o))
			}
		case "seccomp":
			if !ok || v == "" {
				return errdefs.Invalid(fmt.Sprintf("invalid --security-opt 2: %q", o))
			}
		case "apparmor", "label":
		default:
			return errdefs.Invalid(fmt.Sprintf("invalid --security-opt 1: %q", o))
		}
	}
	return nil
}

// toLibcontainer converts spec into libcontainer's configuration and adds what the OCI spec does
// not carry through specconv: rlimits (capped at the host's hard limits), extra mounts, the
// parent-death signal.
func toLibcontainer(id string, spec *specs.Spec, hc *container.HostConfig, extra []*configs.Mount) (*configs.Config, error) {
	lc, err := specconv.CreateLibcontainerConfig(&specconv.CreateOpts{
		CgroupName:       id,
		UseSystemdCgroup: systemdDriver(),
		Spec:             spec,
	})
	if err != nil {
		return nil, fmt.Errorf("build container configuration: %w", err)
	}
	if len(extra) > 0 {
		// A user mount on a default destination (say -v x:/dev/shm) replaces the default.
		dst := map[string]bool{}
		for _, m := range extra {
			dst[filepath.Clean(m.Destination)] = true
		}
		kept := lc.Mounts[:0]
		for _, m := range lc.Mounts {
			if !dst[filepath.Clean(m.Destination)] {
				kept = append(kept, m)
			}
		}
		lc.Mounts = append(kept, extra...)
	}
	rl, err := rlimits(hc.Ulimits)
	if err != nil {
		return nil, err
	}
	lc.Rlimits = rl
	lc.ParentDeathSignal = int(unix.SIGKILL)
	return lc, nil
}
