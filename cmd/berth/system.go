package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"runtime/debug"
	"strings"
	"sync"
	"text/tabwriter"
	"text/template"

	"github.com/berth-project/berth/internal/atomicfile"
	"github.com/berth-project/berth/internal/format"
	"github.com/berth-project/berth/internal/ids"
	"github.com/berth-project/berth/runtime"
	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/system"
	"github.com/docker/go-units"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
)

// Version is berth's version, set at build time with -ldflags "-X main.Version=...".
var Version = "0.1.0-dev"

// GitCommit and BuildTime may be set at build time with -ldflags "-X main.GitCommit=...".
var (
	GitCommit = ""
	BuildTime = ""
)

// apiVersion is the Docker Engine API version whose types berth's JSON follows.
const apiVersion = "1.51"

// addSystemCommands registers version, info and the `system` group on root.
func addSystemCommands(root *cobra.Command, cli *CLI) {
	sys := &cobra.Command{
		Use:   "system COMMAND",
		Short: "Manage berth",
		Args:  noArgs,
		RunE:  func(c *cobra.Command, args []string) error { return c.Help() },
	}
	sys.AddCommand(newInfoCommand(cli))
	addEventsCommands(root, sys, cli) // events.go
	root.AddCommand(newVersionCommand(cli), newInfoCommand(cli), sys)
}

// clientVersion is the "Client" half of `version`.
type clientVersion struct {
	Platform   struct{ Name string }
	Version    string
	APIVersion string `json:"ApiVersion"`
	GoVersion  string
	GitCommit  string
	BuildTime  string `json:"BuildTime"`
	Os         string
	Arch       string
	Context    string
}

// versionInfo is what `version -f` templates see: {{.Client.Version}}, {{.Server.Version}}.
type versionInfo struct {
	Client *clientVersion
	Server *types.Version
}

func depVersion(path string) string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	for _, d := range bi.Deps {
		if d.Path == path {
			return strings.TrimPrefix(d.Version, "v")
		}
	}
	return ""
}

func kernelVersion() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Release[:])
}

func newVersionCommand(cli *CLI) *cobra.Command {
	var tmpl string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Show the berth version information",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			commit := GitCommit
			if commit == "" {
				commit = "unknown"
			}
			v := versionInfo{
				Client: &clientVersion{Version: Version, APIVersion: apiVersion, GoVersion: goruntime.Version(),
					GitCommit: commit, BuildTime: BuildTime, Os: goruntime.GOOS, Arch: goruntime.GOARCH, Context: "default"},
				Server: &types.Version{Version: Version, APIVersion: apiVersion, MinAPIVersion: "1.24",
					GitCommit: commit, GoVersion: goruntime.Version(), Os: goruntime.GOOS, Arch: goruntime.GOARCH,
					KernelVersion: kernelVersion(), BuildTime: BuildTime},
			}
			v.Client.Platform.Name = "berth"
			v.Server.Platform.Name = "berth (daemonless)"
			v.Server.Components = []types.ComponentVersion{
				{Name: "Engine", Version: Version, Details: map[string]string{"ApiVersion": apiVersion, "MinAPIVersion": "1.24",
					"GitCommit": commit, "GoVersion": goruntime.Version(), "Os": goruntime.GOOS, "Arch": goruntime.GOARCH,
					"KernelVersion": v.Server.KernelVersion, "BuildTime": BuildTime, "Experimental": "false"}},
				{Name: "runc (libcontainer)", Version: depVersion("github.com/opencontainers/runc"), Details: map[string]string{"GitCommit": "v" + depVersion("github.com/opencontainers/runc")}},
			}
			if tmpl != "" {
				if tmpl == "json" {
					tmpl = "{{json .}}"
				}
				return imageError(cli, format.Template(cli.Out, tmpl, v))
			}
			tw := tabwriter.NewWriter(cli.Out, 20, 1, 1, ' ', 0)
			if err := versionTemplate().Execute(tw, v); err != nil {
				return imageError(cli, err)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVarP(&tmpl, "format", "f", "", "Format output using a custom template: 'json' or a Go template")
	return cmd
}

// versionTemplate lays `version` out as Docker does.
var versionTemplate = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("version").Parse(`Client:
 Version:	{{.Client.Version}}
 API version:	{{.Client.APIVersion}}
 Go version:	{{.Client.GoVersion}}
 Git commit:	{{.Client.GitCommit}}
{{- if .Client.BuildTime}}
 Built:	{{.Client.BuildTime}}{{end}}
 OS/Arch:	{{.Client.Os}}/{{.Client.Arch}}
 Context:	{{.Client.Context}}

Server: {{.Server.Platform.Name}}
{{- range $c := .Server.Components}}
 {{$c.Name}}:
  Version:	{{$c.Version}}
{{- if eq $c.Name "Engine"}}
  API version:	{{index $c.Details "ApiVersion"}} (minimum version {{index $c.Details "MinAPIVersion"}})
  Go version:	{{index $c.Details "GoVersion"}}
  Git commit:	{{index $c.Details "GitCommit"}}
  OS/Arch:	{{index $c.Details "Os"}}/{{index $c.Details "Arch"}}
  Kernel version:	{{index $c.Details "KernelVersion"}}
  Experimental:	{{index $c.Details "Experimental"}}
{{- else}}
  GitCommit:	{{index $c.Details "GitCommit"}}
{{- end}}
{{- end}}
`))
})

func newInfoCommand(cli *CLI) *cobra.Command {
	var tmpl string
	cmd := &cobra.Command{
		Use:   "info [OPTIONS]",
		Short: "Display system-wide information",
		Args:  noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			info, err := systemInfo(cli)
			if err != nil {
				return imageError(cli, err)
			}
			if tmpl != "" {
				if tmpl == "json" {
					tmpl = "{{json .}}"
				}
				return imageError(cli, format.Template(cli.Out, tmpl, info))
			}
			var b bytes.Buffer
			fmt.Fprintf(&b, "Client:\n Version:    %s\n Context:    default\n Debug Mode: false\n\nServer:\n", Version)
			fmt.Fprintf(&b, " Containers: %d\n  Running: %d\n  Paused: %d\n  Stopped: %d\n", info.Containers, info.ContainersRunning, info.ContainersPaused, info.ContainersStopped)
			fmt.Fprintf(&b, " Images: %d\n Server Version: %s\n Storage Driver: %s\n", info.Images, info.ServerVersion, info.Driver)
			for _, kv := range info.DriverStatus {
				fmt.Fprintf(&b, "  %s: %s\n", kv[0], kv[1])
			}
			fmt.Fprintf(&b, " Logging Driver: %s\n Cgroup Driver: %s\n Cgroup Version: %s\n", info.LoggingDriver, info.CgroupDriver, info.CgroupVersion)
			fmt.Fprintf(&b, " Security Options:\n")
			for _, o := range info.SecurityOptions {
				// "name=seccomp,profile=builtin" prints as Docker does: "seccomp" then " Profile: builtin".
				for i, kv := range strings.Split(o, ",") {
					k, v, _ := strings.Cut(kv, "=")
					if i == 0 {
						fmt.Fprintf(&b, "  %s\n", v)
					} else if len(k) > 0 {
						fmt.Fprintf(&b, "   %s: %s\n", strings.ToUpper(k[:1])+k[1:], v)
					}
				}
			}
			fmt.Fprintf(&b, " Kernel Version: %s\n Operating System: %s\n OSType: %s\n Architecture: %s\n", info.KernelVersion, info.OperatingSystem, info.OSType, info.Architecture)
			fmt.Fprintf(&b, " CPUs: %d\n Total Memory: %s\n Name: %s\n ID: %s\n", info.NCPU, units.BytesSize(float64(info.MemTotal)), info.Name, info.ID)
			fmt.Fprintf(&b, " Docker Root Dir: %s\n Run Root Dir: %s\n Debug Mode: false\n Experimental: false\n Live Restore Enabled: false\n", info.DockerRootDir, cli.RunRoot)
			for _, w := range info.Warnings {
				fmt.Fprintf(&b, "\n%s", w)
			}
			if len(info.Warnings) > 0 {
				b.WriteString("\n")
			}
			_, err = cli.Out.Write(b.Bytes())
			return err
		},
	}
	cmd.Flags().StringVarP(&tmpl, "format", "f", "", "Format output using a custom template: 'json' or a Go template")
	return cmd
}

// systemInfo gathers `info`: host facts, the store's directories and object counts.
func systemInfo(cli *CLI) (*system.Info, error) {
	root, err := filepath.Abs(cli.Root)
	if err != nil {
		return nil, err
	}
	info := &system.Info{
		Driver:          "overlay2",
		DriverStatus:    [][2]string{{"Backing Filesystem", backingFS(root)}, {"Supports d_type", "true"}, {"Using metacopy", "false"}, {"Native Overlay Diff", "true"}, {"userxattr", "false"}},
		LoggingDriver:   "json-file",
		CgroupDriver:    "cgroupfs",
		CgroupVersion:   "1",
		KernelVersion:   kernelVersion(),
		OperatingSystem: osRelease("PRETTY_NAME"),
		OSVersion:       osRelease("VERSION_ID"),
		OSType:          goruntime.GOOS,
		NCPU:            goruntime.NumCPU(),
		DockerRootDir:   root,
		ServerVersion:   Version,
		DefaultRuntime:  "runc",
		SecurityOptions: []string{"name=seccomp,profile=builtin"},
		CDISpecDirs:     []string{},
		Labels:          []string{},
	}
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		info.CgroupVersion = "2"
		info.SecurityOptions = append(info.SecurityOptions, "name=cgroupns")
	}
	info.CgroupDriver = runtime.CgroupDriver()
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		info.Architecture = unix.ByteSliceToString(u.Machine[:])
	}
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) == nil {
		info.MemTotal = int64(si.Totalram) * int64(si.Unit)
	}
	info.Name, _ = os.Hostname()
	info.ID = engineID(root)
	if store, err := openImages(cli); err == nil {
		if imgs, err := store.List(); err == nil {
			info.Images = len(imgs)
		}
	}
	if rt, err := runtime.Open(runtime.Layout{Root: cli.Root, RunRoot: cli.RunRoot}); err == nil {
		if list, err := rt.List(); err == nil {
			info.Containers = len(list)
			for _, c := range list {
				switch c.State.Status {
				case "running", "restarting":
					info.ContainersRunning++
				case "paused":
					info.ContainersPaused++
				default:
					info.ContainersStopped++
				}
			}
		} else {
			info.Warnings = append(info.Warnings, "WARNING: cannot list containers: "+err.Error())
		}
	}
	return info, nil
}

// engineID returns the store's persistent ID (root/engine-id), creating it on first use.
func engineID(root string) string {
	p := filepath.Join(root, "engine-id")
	if b, err := os.ReadFile(p); err == nil {
		return strings.TrimSpace(string(b))
	}
	id := ids.NewID()
	id = fmt.Sprintf("%s-%s-%s-%s-%s", id[0:8], id[8:12], id[12:16], id[16:20], id[20:32])
	if err := os.MkdirAll(root, 0o700); err == nil {
		if err := atomicfile.WriteFile(p, []byte(id+"\n"), 0o644); err != nil && !errors.Is(err, os.ErrExist) {
			return id
		}
	}
	return id
}

// osRelease reads a field of /etc/os-release.
func osRelease(key string) string {
	b, err := os.ReadFile("/etc/os-release")
	if err != nil {
		return goruntime.GOOS
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, key+"="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return ""
}

// backingFS names the filesystem under root as Docker's overlay2 driver does.
func backingFS(root string) string {
	var st unix.Statfs_t
	for p := root; ; p = filepath.Dir(p) {
		if unix.Statfs(p, &st) == nil {
			break
		}
		if p == "/" {
			return "<unknown>"
		}
	}
	switch st.Type {
	case unix.EXT4_SUPER_MAGIC:
		return "extfs"
	case unix.XFS_SUPER_MAGIC:
		return "xfs"
	case unix.BTRFS_SUPER_MAGIC:
		return "btrfs"
	case unix.TMPFS_MAGIC:
		return "tmpfs"
	case unix.OVERLAYFS_SUPER_MAGIC:
		return "overlayfs"
	}
	return fmt.Sprintf("<unknown:%#x>", st.Type)
}
