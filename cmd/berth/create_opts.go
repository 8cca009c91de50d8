package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/network"
	"github.com/berth-project/berth/runtime"
	"github.com/berth-project/berth/volume"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	nettypes "github.com/docker/docker/api/types/network"
	"github.com/docker/go-connections/nat"
	units "github.com/docker/go-units"
	"github.com/spf13/pflag"
)

// containerOptions are the flags create and run share, as docker/cli's containerOptions.
type containerOptions struct {
	name                                            string
	interactive, tty, detach, autoRemove            bool
	attach                                          []string
	env, envFile                                    []string
	workdir, user, entrypoint, hostname, domainname string
	labels, labelFile                               []string
	cidfile                                         string
	pull                                            string
	platform                                        string
	stopSignal                                      string
	stopTimeout                                     int
	restart                                         string
	init                                            bool
	detachKeys                                      string
	sigProxy                                        bool
	readOnly                                        bool
	privileged                                      bool
	capAdd, capDrop, securityOpt                    []string
	ulimits                                         []string
	memory, memorySwap, memoryReservation, shmSize  string
	cpus                                            string
	cpuShares                                       int64
	cpusetCpus, cpusetMems                          string
	cpuPeriod, cpuQuota                             int64
	pidsLimit                                       int64
	devices                                         []string
	tmpfs                                           []string
	groupAdd                                        []string
	oomScoreAdj                                     int
	pidMode, ipcMode, utsMode                       string

	publish                                     []string
	publishAll                                  bool
	expose                                      []string
	networks                                    []string
	aliases                                     []string
	ip                                          string
	mac                                         string
	dns, dnsSearch, dnsOptions, addHosts, links []string

	volumes, mounts, volumesFrom []string
}

// addContainerFlags declares create's and run's flags on fs.
func addContainerFlags(fs *pflag.FlagSet, o *containerOptions) {
	// -h is --hostname here, as in Docker: declare --help without a shorthand.
	fs.Bool("help", false, "Print usage")
	fs.StringVar(&o.name, "name", "", "Assign a name to the container")
	fs.BoolVarP(&o.interactive, "interactive", "i", false, "Keep STDIN open even if not attached")
	fs.BoolVarP(&o.tty, "tty", "t", false, "Allocate a pseudo-TTY")
	fs.BoolVar(&o.autoRemove, "rm", false, "Automatically remove the container and its associated anonymous volumes when it exits")
	fs.StringSliceVarP(&o.attach, "attach", "a", nil, "Attach to STDIN, STDOUT or STDERR")
	fs.StringArrayVarP(&o.env, "env", "e", nil, "Set environment variables")
	fs.StringArrayVar(&o.envFile, "env-file", nil, "Read in a file of environment variables")
	fs.StringVarP(&o.workdir, "workdir", "w", "", "Working directory inside the container")
	fs.StringVarP(&o.user, "user", "u", "", "Username or UID (format: <name|uid>[:<group|gid>])")
	fs.StringVar(&o.entrypoint, "entrypoint", "", "Overwrite the default ENTRYPOINT of the image")
	fs.StringVarP(&o.hostname, "hostname", "h", "", "Container host name")
	fs.StringVar(&o.domainname, "domainname", "", "Container NIS domain name")
	fs.StringArrayVarP(&o.labels, "label", "l", nil, "Set meta data on a container")
	fs.StringArrayVar(&o.labelFile, "label-file", nil, "Read in a line delimited file of labels")
	fs.StringVar(&o.cidfile, "cidfile", "", "Write the container ID to the file")
	fs.StringVar(&o.pull, "pull", "missing", `Pull image before running ("always", "missing", "never")`)
	fs.StringVar(&o.platform, "platform", "", "Set platform if server is multi-platform capable")
	fs.StringVar(&o.stopSignal, "stop-signal", "", "Signal to stop the container")
	fs.IntVar(&o.stopTimeout, "stop-timeout", 0, "Timeout (in seconds) to stop a container")
	fs.StringVar(&o.restart, "restart", "no", "Restart policy to apply when a container exits")
	fs.BoolVar(&o.init, "init", false, "Run an init inside the container that forwards signals and reaps processes")
	fs.StringVar(&o.detachKeys, "detach-keys", "", "Override the key sequence for detaching a container")
	fs.BoolVar(&o.readOnly, "read-only", false, "Mount the container's root filesystem as read only")
	fs.BoolVar(&o.privileged, "privileged", false, "Give extended privileges to this container")
	fs.StringSliceVar(&o.capAdd, "cap-add", nil, "Add Linux capabilities")
	fs.StringSliceVar(&o.capDrop, "cap-drop", nil, "Drop Linux capabilities")
	fs.StringArrayVar(&o.securityOpt, "security-opt", nil, "Security Options")
	fs.StringArrayVar(&o.ulimits, "ulimit", nil, "Ulimit options")
	fs.StringVarP(&o.memory, "memory", "m", "", "Memory limit")
	fs.StringVar(&o.memorySwap, "memory-swap", "", "Swap limit equal to memory plus swap: '-1' to enable unlimited swap")
	fs.StringVar(&o.memoryReservation, "memory-reservation", "", "Memory soft limit")
	fs.StringVar(&o.cpus, "cpus", "", "Number of CPUs")
	fs.Int64VarP(&o.cpuShares, "cpu-shares", "c", 0, "CPU shares (relative weight)")
	fs.StringVar(&o.cpusetCpus, "cpuset-cpus", "", "CPUs in which to allow execution (0-3, 0,1)")
	fs.StringVar(&o.cpusetMems, "cpuset-mems", "", "MEMs in which to allow execution (0-3, 0,1)")
	fs.Int64Var(&o.cpuPeriod, "cpu-period", 0, "Limit CPU CFS (Completely Fair Scheduler) period")
	fs.Int64Var(&o.cpuQuota, "cpu-quota", 0, "Limit CPU CFS (Completely Fair Scheduler) quota")
	fs.Int64Var(&o.pidsLimit, "pids-limit", 0, "Tune container pids limit (set -1 for unlimited)")
	fs.StringArrayVar(&o.devices, "device", nil, "Add a host device to the container")
	fs.StringVar(&o.shmSize, "shm-size", "", "Size of /dev/shm")
	fs.StringArrayVar(&o.tmpfs, "tmpfs", nil, "Mount a tmpfs directory")
	fs.StringArrayVar(&o.groupAdd, "group-add", nil, "Add additional groups to join")
	fs.IntVar(&o.oomScoreAdj, "oom-score-adj", 0, "Tune host's OOM preferences (-1000 to 1000)")
	fs.StringVar(&o.pidMode, "pid", "", "PID namespace to use")
	fs.StringVar(&o.ipcMode, "ipc", "", "IPC mode to use")
	fs.StringVar(&o.utsMode, "uts", "", "UTS namespace to use")

	fs.StringArrayVarP(&o.publish, "publish", "p", nil, "Publish a container's port(s) to the host")
	fs.BoolVarP(&o.publishAll, "publish-all", "P", false, "Publish all exposed ports to random ports")
	fs.StringArrayVar(&o.expose, "expose", nil, "Expose a port or a range of ports")
	fs.StringArrayVar(&o.networks, "network", nil, "Connect a container to a network")
	fs.StringArrayVar(&o.networks, "net", nil, "Connect a container to a network")
	fs.MarkHidden("net")
	fs.StringArrayVar(&o.aliases, "network-alias", nil, "Add network-scoped alias for the container")
	fs.StringArrayVar(&o.aliases, "net-alias", nil, "Add network-scoped alias for the container")
	fs.MarkHidden("net-alias")
	fs.StringVar(&o.ip, "ip", "", "IPv4 address (e.g., 172.30.100.104)")
	fs.StringVar(&o.mac, "mac-address", "", "Container MAC address (e.g., 92:d0:c6:0a:29:33)")
	fs.StringArrayVar(&o.dns, "dns", nil, "Set custom DNS servers")
	fs.StringArrayVar(&o.dnsSearch, "dns-search", nil, "Set custom DNS search domains")
	fs.StringArrayVar(&o.dnsOptions, "dns-option", nil, "Set DNS options")
	fs.StringArrayVar(&o.addHosts, "add-host", nil, "Add a custom host-to-IP mapping (host:ip)")
	fs.StringArrayVar(&o.links, "link", nil, "Add link to another container")

	fs.StringArrayVarP(&o.volumes, "volume", "v", nil, "Bind mount a volume")
	fs.StringArrayVar(&o.mounts, "mount", nil, "Attach a filesystem mount to the container")
	fs.StringArrayVar(&o.volumesFrom, "volumes-from", nil, "Mount volumes from the specified container(s)")
}

// containerConfig is the parsed form of the options: Docker's three API structs.
type containerConfig struct {
	Config     *container.Config
	HostConfig *container.HostConfig
	Networking *nettypes.NetworkingConfig
	// Warnings are printed to stderr as "WARNING: ..." before the container is made, as
	// docker/cli prints the daemon's create warnings.
	Warnings []string
}

func invalid(format string, a ...any) error { return errdefs.Invalid(fmt.Sprintf(format, a...)) }

// parse turns the options (and the arguments after IMAGE) into Docker's API structs, validating
// as docker/cli does.
func (o *containerOptions) parse(fs *pflag.FlagSet, image string, args []string) (*containerConfig, error) {
	if o.pull != "missing" && o.pull != "always" && o.pull != "never" {
		return nil, invalid("invalid pull option: '%s': must be one of \"always\", \"missing\" or \"never\"", o.pull)
	}
	env, err := readEnv(o.envFile, o.env)
	if err != nil {
		return nil, err
	}
	labels, err := readLabels(o.labelFile, o.labels)
	if err != nil {
		return nil, err
	}
	cfg := &container.Config{
		Hostname:   o.hostname,
		Domainname: o.domainname,
		User:       o.user,
		Tty:        o.tty,
		OpenStdin:  o.interactive,
		Env:        env,
		Cmd:        args,
		Image:      image,
		WorkingDir: o.workdir,
		Labels:     labels,
		StopSignal: o.stopSignal,
		MacAddress: o.mac, //nolint:staticcheck // read by the network seam for older clients
	}
	if len(args) == 0 {
		cfg.Cmd = nil
	}
	if o.entrypoint != "" {
		cfg.Entrypoint = []string{o.entrypoint}
	} else if fs.Changed("entrypoint") {
		cfg.Entrypoint = []string{""}
	}
	if o.stopSignal != "" {
		if _, err := runtime.ParseSignal(o.stopSignal); err != nil {
			return nil, err
		}
	}
	if fs.Changed("stop-timeout") {
		t := o.stopTimeout
		cfg.StopTimeout = &t
	}
	if o.hostname != "" && strings.Contains(o.hostname, ".") && o.domainname == "" {
		cfg.Hostname, cfg.Domainname, _ = strings.Cut(o.hostname, ".")
	}
	for _, a := range o.attach {
		switch strings.ToLower(a) {
		case "stdin":
			cfg.AttachStdin = true
		case "stdout":
			cfg.AttachStdout = true
		case "stderr":
			cfg.AttachStderr = true
		default:
			return nil, invalid("invalid argument %q for \"-a, --attach\" flag: valid streams are STDIN, STDOUT and STDERR", a)
		}
	}
	if !o.detach {
		if len(o.attach) == 0 {
			cfg.AttachStdout, cfg.AttachStderr = true, true
			cfg.AttachStdin = o.interactive
		}
		if cfg.AttachStdin {
			cfg.StdinOnce = true
		}
	} else if len(o.attach) > 0 {
		return nil, invalid("conflicting options: cannot specify both --attach and --detach")
	}

	hc := &container.HostConfig{
		AutoRemove:      o.autoRemove,
		Privileged:      o.privileged,
		ReadonlyRootfs:  o.readOnly,
		CapAdd:          o.capAdd,
		CapDrop:         o.capDrop,
		SecurityOpt:     o.securityOpt,
		GroupAdd:        o.groupAdd,
		OomScoreAdj:     o.oomScoreAdj,
		PidMode:         container.PidMode(o.pidMode),
		IpcMode:         container.IpcMode(o.ipcMode),
		UTSMode:         container.UTSMode(o.utsMode),
		DNS:             o.dns,
		DNSSearch:       o.dnsSearch,
		DNSOptions:      o.dnsOptions,
		Links:           o.links,
		VolumesFrom:     o.volumesFrom,
		PublishAllPorts: o.publishAll,
	}
	if o.pidMode != "" && o.pidMode != "host" {
		return nil, invalid("--pid: invalid PID mode")
	}
	if o.utsMode != "" && o.utsMode != "host" {
		return nil, invalid("--uts: invalid UTS mode")
	}
	if o.ipcMode != "" && o.ipcMode != "host" && o.ipcMode != "private" && o.ipcMode != "shareable" && o.ipcMode != "none" {
		return nil, invalid("--ipc: invalid IPC mode")
	}
	if err := runtime.ValidateSecurityOpts(o.securityOpt); err != nil {
		return nil, err
	}
	if fs.Changed("init") {
		v := o.init
		hc.Init = &v
	}
	if hc.RestartPolicy, err = parseRestartPolicy(o.restart); err != nil {
		return nil, err
	}
	if err := o.parseResources(fs, hc); err != nil {
		return nil, err
	}
	warnings, err := o.parseNetwork(cfg, hc)
	if err != nil {
		return nil, err
	}
	if err := o.parseMounts(cfg, hc); err != nil {
		return nil, err
	}
	netCfg := &nettypes.NetworkingConfig{EndpointsConfig: map[string]*nettypes.EndpointSettings{}}
	mode := string(hc.NetworkMode)
	if network.IsUserDefined(mode) || o.ip != "" || len(o.aliases) > 0 || o.mac != "" {
		if len(o.aliases) > 0 && !network.IsUserDefined(mode) {
			return nil, invalid("network-scoped alias is supported only for containers in user defined networks")
		}
		if o.ip != "" && !network.IsUserDefined(mode) {
			return nil, invalid("user specified IP address is supported on user defined networks only")
		}
		ep := &nettypes.EndpointSettings{Aliases: o.aliases, MacAddress: o.mac}
		if o.ip != "" {
			if err := network.ValidateIPv4(o.ip); err != nil {
				return nil, err
			}
			ep.IPAMConfig = &nettypes.EndpointIPAMConfig{IPv4Address: o.ip}
		}
		if mode == "" || mode == "default" {
			mode = "bridge"
		}
		netCfg.EndpointsConfig[mode] = ep
	}
	return &containerConfig{Config: cfg, HostConfig: hc, Networking: netCfg, Warnings: warnings}, nil
}

func (o *containerOptions) parseResources(fs *pflag.FlagSet, hc *container.HostConfig) error {
	var err error
	ram := func(flag, v string) (int64, error) {
		if v == "" {
			return 0, nil
		}
		n, err := units.RAMInBytes(v)
		if err != nil {
			return 0, invalid("invalid argument %q for \"%s\" flag: %v", v, flag, err)
		}
		return n, nil
	}
	if hc.Memory, err = ram("-m, --memory", o.memory); err != nil {
		return err
	}
	if o.memorySwap == "-1" {
		hc.MemorySwap = -1
	} else if hc.MemorySwap, err = ram("--memory-swap", o.memorySwap); err != nil {
		return err
	}
	if hc.MemoryReservation, err = ram("--memory-reservation", o.memoryReservation); err != nil {
		return err
	}
	if hc.ShmSize, err = ram("--shm-size", o.shmSize); err != nil {
		return err
	}
	if o.cpus != "" {
		f, err := strconv.ParseFloat(o.cpus, 64)
		if err != nil || f < 0 {
			return invalid("invalid argument %q for \"--cpus\" flag: failed to parse %s as a rational number", o.cpus, o.cpus)
		}
		hc.NanoCPUs = int64(f * 1e9)
	}
	hc.CPUShares = o.cpuShares
	hc.CpusetCpus = o.cpusetCpus
	hc.CpusetMems = o.cpusetMems
	hc.CPUPeriod = o.cpuPeriod
	hc.CPUQuota = o.cpuQuota
	if fs.Changed("pids-limit") {
		l := o.pidsLimit
		hc.PidsLimit = &l
	}
	for _, u := range o.ulimits {
		ul, err := units.ParseUlimit(u)
		if err != nil {
			return invalid("invalid argument %q for \"--ulimit\" flag: %v", u, err)
		}
		hc.Ulimits = append(hc.Ulimits, ul)
	}
	for _, d := range o.devices {
		dm, err := parseDevice(d)
		if err != nil {
			return err
		}
		hc.Devices = append(hc.Devices, dm)
	}
	return nil
}

func (o *containerOptions) parseNetwork(cfg *container.Config, hc *container.HostConfig) ([]string, error) {
	var warnings []string
	if len(o.networks) > 1 {
		return nil, invalid("conflicting options: cannot attach both user-defined and non-user-defined network-modes")
	}
	if len(o.networks) == 1 {
		if err := network.ValidateMode(o.networks[0]); err != nil {
			return nil, errdefs.Invalid(err.Error())
		}
		hc.NetworkMode = container.NetworkMode(o.networks[0])
	}
	if hc.NetworkMode.IsHost() && (len(o.publish) > 0 || o.publishAll) {
		// Docker accepts and ignores published ports in host mode, with a warning.
		o.publish, hc.PublishAllPorts = nil, false
		warnings = append(warnings, "Published ports are discarded when using host network mode")
	}
	exposed, bindings, err := network.ParsePortSpecs(o.publish)
	if err != nil {
		return nil, errdefs.Invalid(err.Error())
	}
	more, err := network.ParseExposeSpecs(o.expose)
	if err != nil {
		return nil, errdefs.Invalid(err.Error())
	}
	if len(exposed)+len(more) > 0 {
		cfg.ExposedPorts = nat.PortSet{}
		for p := range exposed {
			cfg.ExposedPorts[p] = struct{}{}
		}
		for p := range more {
			cfg.ExposedPorts[p] = struct{}{}
		}
	}
	if len(bindings) > 0 {
		hc.PortBindings = bindings
	}
	for _, d := range o.dns {
		if _, err := network.ValidateDNS(d); err != nil {
			return nil, errdefs.Invalid(err.Error())
		}
	}
	for _, h := range o.addHosts {
		v, err := network.ParseExtraHost(h)
		if err != nil {
			return nil, errdefs.Invalid(err.Error())
		}
		hc.ExtraHosts = append(hc.ExtraHosts, v)
	}
	if o.mac != "" {
		if err := network.ValidateMAC(o.mac); err != nil {
			return nil, errdefs.Invalid(err.Error())
		}
	}
	return warnings, nil
}

func (o *containerOptions) parseMounts(cfg *container.Config, hc *container.HostConfig) error {
	for _, v := range o.volumes {
		v = volume.AbsBind(v)
		if err := volume.ValidateBind(v); err != nil {
			return err
		}
		spec, err := volume.ParseVolume(v)
		if err != nil {
			return err
		}
		if spec.Type == mount.TypeVolume && spec.Source == "" {
			if cfg.Volumes == nil {
				cfg.Volumes = map[string]struct{}{}
			}
			cfg.Volumes[spec.Target] = struct{}{}
			continue
		}
		hc.Binds = append(hc.Binds, v)
	}
	for _, m := range o.mounts {
		mm, err := volume.ParseMountFlag(m)
		if err != nil {
			return err
		}
		hc.Mounts = append(hc.Mounts, mm)
	}
	for _, t := range o.tmpfs {
		target, opts, err := volume.ParseTmpfs(t)
		if err != nil {
			return err
		}
		if hc.Tmpfs == nil {
			hc.Tmpfs = map[string]string{}
		}
		hc.Tmpfs[target] = opts
	}
	for _, v := range o.volumesFrom {
		if _, _, err := volume.ParseVolumesFrom(v); err != nil {
			return err
		}
	}
	return nil
}

// parseRestartPolicy parses --restart as docker/cli does.
func parseRestartPolicy(s string) (container.RestartPolicy, error) {
	p := container.RestartPolicy{}
	name, count, hasCount := strings.Cut(s, ":")
	switch container.RestartPolicyMode(name) {
	case "", container.RestartPolicyDisabled, container.RestartPolicyAlways, container.RestartPolicyUnlessStopped:
		if hasCount {
			return p, invalid("invalid restart policy format: maximum retry count can only be used with 'on-failure'")
		}
	case container.RestartPolicyOnFailure:
		if hasCount {
			n, err := strconv.Atoi(count)
			if err != nil {
				return p, invalid("invalid restart policy format: maximum retry count must be an integer")
			}
			if n < 0 {
				return p, invalid("invalid restart policy: maximum retry count cannot be negative")
			}
			p.MaximumRetryCount = n
		}
	default:
		return p, invalid("invalid restart policy: unknown policy '%s'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'", name)
	}
	p.Name = container.RestartPolicyMode(name)
	if p.Name == "" {
		p.Name = container.RestartPolicyDisabled
	}
	return p, nil
}

// parseDevice parses --device HOST[:CONTAINER][:PERMISSIONS].
func parseDevice(s string) (container.DeviceMapping, error) {
	parts := strings.Split(s, ":")
	d := container.DeviceMapping{CgroupPermissions: "rwm"}
	validPerms := func(p string) bool {
		if p == "" || len(p) > 3 {
			return false
		}
		for _, c := range p {
			if c != 'r' && c != 'w' && c != 'm' {
				return false
			}
		}
		return true
	}
	switch len(parts) {
	case 1:
		d.PathOnHost = parts[0]
	case 2:
		d.PathOnHost = parts[0]
		if validPerms(parts[1]) {
			d.CgroupPermissions = parts[1]
		} else {
			d.PathInContainer = parts[1]
		}
	case 3:
		if !validPerms(parts[2]) {
			return d, invalid("invalid device mode: %s", parts[2])
		}
		d.PathOnHost, d.PathInContainer, d.CgroupPermissions = parts[0], parts[1], parts[2]
	default:
		return d, invalid("invalid device specification: %s", s)
	}
	if d.PathInContainer == "" {
		d.PathInContainer = d.PathOnHost
	}
	if !strings.HasPrefix(d.PathInContainer, "/") {
		return d, invalid("invalid device specification: %s", s)
	}
	return d, nil
}

// readEnv reads --env-file files then -e values; a bare KEY takes the host's value when set.
func readEnv(files, vals []string) ([]string, error) {
	var out []string
	for _, f := range files {
		lines, err := readLines(f)
		if err != nil {
			return nil, err
		}
		for _, l := range lines {
			out = append(out, envValue(l))
		}
	}
	for _, v := range vals {
		if strings.HasPrefix(v, "=") {
			return nil, invalid("invalid environment variable: %s", v)
		}
		out = append(out, envValue(v))
	}
	return out, nil
}

func envValue(v string) string {
	if strings.Contains(v, "=") {
		return v
	}
	if hv, ok := os.LookupEnv(v); ok {
		return v + "=" + hv
	}
	return v
}

func readLabels(files, vals []string) (map[string]string, error) {
	out := map[string]string{}
	var all []string
	for _, f := range files {
		lines, err := readLines(f)
		if err != nil {
			return nil, err
		}
		all = append(all, lines...)
	}
	all = append(all, vals...)
	for _, l := range all {
		k, v, _ := strings.Cut(l, "=")
		if k == "" {
			return nil, invalid("invalid label: %s", l)
		}
		out[k] = v
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// readLines reads an env or label file: one entry a line, blank lines and # comments skipped.
func readLines(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, errdefs.Invalid(err.Error())
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := strings.TrimLeft(sc.Text(), " \t")
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		out = append(out, l)
	}
	return out, sc.Err()
}
