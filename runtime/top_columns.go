package runtime

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/berth-project/berth/internal/errdefs"
)

// psColumn is one output column of the ps emulation used by Top.
type psColumn struct {
	header string
	value  func(e *procEnv, p *procInfo) string
}

func itoa(n int) string      { return strconv.Itoa(n) }
func utoa(n uint64) string   { return strconv.FormatUint(n, 10) }
func tenths(n uint64) string { return fmt.Sprintf("%d.%d", n/10, n%10) }

// psFields are the -o field names berth knows, with procps' headers.
var psFields = map[string]psColumn{
	"pid":     {"PID", func(e *procEnv, p *procInfo) string { return itoa(p.pid) }},
	"ppid":    {"PPID", func(e *procEnv, p *procInfo) string { return itoa(p.ppid) }},
	"pgid":    {"PGID", func(e *procEnv, p *procInfo) string { return itoa(p.pgrp) }},
	"sid":     {"SID", func(e *procEnv, p *procInfo) string { return itoa(p.session) }},
	"tpgid":   {"TPGID", func(e *procEnv, p *procInfo) string { return itoa(p.tpgid) }},
	"uid":     {"UID", func(e *procEnv, p *procInfo) string { return itoa(p.euid) }},
	"ruid":    {"RUID", func(e *procEnv, p *procInfo) string { return itoa(p.ruid) }},
	"user":    {"USER", func(e *procEnv, p *procInfo) string { return e.userName(p.euid, true) }},
	"ruser":   {"RUSER", func(e *procEnv, p *procInfo) string { return e.userName(p.ruid, true) }},
	"gid":     {"GID", func(e *procEnv, p *procInfo) string { return itoa(p.egid) }},
	"rgid":    {"RGID", func(e *procEnv, p *procInfo) string { return itoa(p.rgid) }},
	"group":   {"GROUP", func(e *procEnv, p *procInfo) string { return e.groupName(p.egid) }},
	"comm":    {"COMMAND", func(e *procEnv, p *procInfo) string { return p.comm }},
	"args":    {"COMMAND", func(e *procEnv, p *procInfo) string { return commandLine(p) }},
	"cmd":     {"CMD", func(e *procEnv, p *procInfo) string { return commandLine(p) }},
	"%cpu":    {"%CPU", func(e *procEnv, p *procInfo) string { return tenths(e.pcpu(p)) }},
	"%mem":    {"%MEM", func(e *procEnv, p *procInfo) string { return tenths(e.pmem(p)) }},
	"c":       {"C", func(e *procEnv, p *procInfo) string { return utoa(min(e.pcpu(p)/10, 99)) }},
	"vsz":     {"VSZ", func(e *procEnv, p *procInfo) string { return utoa(p.vsize / 1024) }},
	"rss":     {"RSS", func(e *procEnv, p *procInfo) string { return utoa(p.rss * e.pageSize / 1024) }},
	"sz":      {"SZ", func(e *procEnv, p *procInfo) string { return utoa(p.vsize / e.pageSize) }},
	"tty":     {"TT", func(e *procEnv, p *procInfo) string { return ttyName(p.ttyNr) }},
	"tname":   {"TTY", func(e *procEnv, p *procInfo) string { return ttyName(p.ttyNr) }},
	"stat":    {"STAT", func(e *procEnv, p *procInfo) string { return statFlags(p) }},
	"s":       {"S", func(e *procEnv, p *procInfo) string { return string(p.state) }},
	"stime":   {"STIME", func(e *procEnv, p *procInfo) string { return e.stime(p) }},
	"start":   {"STARTED", func(e *procEnv, p *procInfo) string { return e.started(p) }},
	"lstart":  {"STARTED", func(e *procEnv, p *procInfo) string { return e.startTime(p).Format("Mon Jan _2 15:04:05 2006") }},
	"time":    {"TIME", func(e *procEnv, p *procInfo) string { return e.cputime(p) }},
	"bsdtime": {"TIME", func(e *procEnv, p *procInfo) string { return e.bsdTime(p) }},
	"etime":   {"ELAPSED", func(e *procEnv, p *procInfo) string { return e.etime(p) }},
	"etimes":  {"ELAPSED", func(e *procEnv, p *procInfo) string { return utoa(uint64(e.elapsed(p))) }},
	"ni":      {"NI", func(e *procEnv, p *procInfo) string { return strconv.FormatInt(p.nice, 10) }},
	"pri":     {"PRI", func(e *procEnv, p *procInfo) string { return strconv.FormatInt(39-p.priority, 10) }},
	"psr":     {"PSR", func(e *procEnv, p *procInfo) string { return itoa(p.processor) }},
	"nlwp":    {"NLWP", func(e *procEnv, p *procInfo) string { return strconv.FormatInt(p.threads, 10) }},
}

// psAliases are other names procps accepts for the same fields.
var psAliases = map[string]string{
	"pgrp": "pgid", "sess": "sid", "session": "sid", "euid": "uid", "euser": "user", "uname": "user",
	"egid": "gid", "egroup": "group", "ucomm": "comm", "ucmd": "comm", "command": "args",
	"pcpu": "%cpu", "pmem": "%mem", "vsize": "vsz", "rssize": "rss", "rsz": "rss", "tt": "tty",
	"state": "s", "start_time": "stime", "cputime": "time", "nice": "ni", "cpu": "psr",
	"thcount": "nlwp",
}

func psField(name string) (psColumn, error) {
	key, header, renamed := strings.Cut(name, "=")
	key = strings.ToLower(key)
	if a, ok := psAliases[key]; ok {
		key = a
	}
	col, ok := psFields[key]
	if !ok {
		return psColumn{}, errdefs.Invalid(fmt.Sprintf("ps: error: unknown user-defined format specifier %q", name))
	}
	if renamed {
		if header != "PID" && strings.HasPrefix(header, "PID") || key != "pid" && header == "PID" {
			return psColumn{}, errdefs.Invalid(fmt.Sprintf("specifying %q is not allowed", name))
		}
		col.header = header
	}
	return col, nil
}

func psList(names ...string) []psColumn {
	out := make([]psColumn, len(names))
	for i, n := range names {
		out[i] = psFields[n]
	}
	return out
}

// Formats of the standard ps option sets.
var (
	psUnixDefault = func() []psColumn { return psList("pid", "tname", "time", "cmd") }
	psUnixFull    = func() []psColumn {
		c := psList("user", "pid", "ppid", "c", "stime", "tname", "time", "cmd")
		c[0].header = "UID"
		return c
	}
	psUnixExtra = func() []psColumn {
		c := psList("user", "pid", "ppid", "c", "sz", "rss", "psr", "stime", "tname", "time", "cmd")
		c[0].header = "UID"
		return c
	}
	psUnixJobs = func() []psColumn {
		c := psList("pid", "pgid", "sid", "tname", "time", "cmd")
		return c
	}
	psBSDDefault = func() []psColumn {
		c := psList("pid", "tname", "stat", "bsdtime", "args")
		return c
	}
	psBSDUser = func() []psColumn {
		c := psList("user", "pid", "%cpu", "%mem", "vsz", "rss", "tname", "stat", "stime", "bsdtime", "args")
		c[8].header = "START"
		return c
	}
	psBSDJobs = func() []psColumn {
		c := psList("ppid", "pid", "pgid", "sid", "tname", "tpgid", "stat", "uid", "bsdtime", "args")
		return c
	}
)

// parsePsArgs reads ps options the way procps does, as far as output format goes (process
// selection options are accepted and ignored: Top always shows the container's processes):
// UNIX options (-e, -f, -F, -j, -o LIST), BSD options (a, u, x, j, o LIST) and --format LIST.
func parsePsArgs(s string) ([]psColumn, error) {
	var (
		unixFull, unixExtra, unixJobs bool
		bsd, bsdUser, bsdJobs         bool
		custom                        []psColumn
	)
	addList := func(list string) error {
		for _, name := range strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ' ' }) {
			col, err := psField(name)
			if err != nil {
				return err
			}
			custom = append(custom, col)
		}
		return nil
	}
	toks := strings.Fields(s)
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		next := func() (string, error) {
			if i+1 >= len(toks) {
				return "", errdefs.Invalid(fmt.Sprintf("ps: error: list of format specifiers must follow %s", t))
			}
			i++
			return toks[i], nil
		}
		// list adds the columns given after -o/o, inline or as the next argument.
		list := func(inline string) error {
			if inline == "" {
				v, err := next()
				if err != nil {
					return err
				}
				inline = v
			}
			return addList(inline)
		}
		// skipValue consumes the next argument when the option's value is not attached.
		skipValue := func(attached bool) error {
			if attached {
				return nil
			}
			_, err := next()
			return err
		}
		switch {
		case strings.HasPrefix(t, "--"):
			name, val, hasVal := strings.Cut(t[2:], "=")
			switch name {
			case "format", "o":
				if !hasVal {
					v, err := next()
					if err != nil {
						return nil, err
					}
					val = v
				}
				if err := addList(val); err != nil {
					return nil, err
				}
			case "pid", "ppid", "sid", "user", "group", "uid", "gid", "tty", "quick-pid":
				if err := skipValue(hasVal); err != nil {
					return nil, err
				}
			case "cols", "columns", "width", "lines", "rows":
				if err := skipValue(hasVal); err != nil {
					return nil, err
				}
			case "no-headers", "headers", "forest", "cumulative", "deselect":
			default:
				return nil, errdefs.Invalid(fmt.Sprintf("ps: error: unknown gnu long option %q", t))
			}
		case strings.HasPrefix(t, "-"):
			opts := t[1:]
			for j := 0; j < len(opts); j++ {
				switch c := opts[j]; c {
				case 'e', 'A', 'a', 'd', 'N', 'T', 'r', 'x', 'w', 'H', 'y', 'M', 'Z', 'c', 'L', 'm':
				case 'f':
					unixFull = true
				case 'F':
					unixExtra = true
				case 'j':
					unixJobs = true
				case 'o':
					if err := list(opts[j+1:]); err != nil {
						return nil, err
					}
					j = len(opts)
				case 'p', 'q', 'u', 'U', 'g', 'G', 't', 'C', 's':
					if err := skipValue(j < len(opts)-1); err != nil {
						return nil, err
					}
					j = len(opts)
				default:
					return nil, errdefs.Invalid(fmt.Sprintf("ps: error: unsupported SysV option -%c", c))
				}
			}
		default:
			bsd = true
			for j := 0; j < len(t); j++ {
				switch c := t[j]; c {
				case 'a', 'x', 'e', 'w', 'r', 'h', 'c', 'f', 'H', 'm', 'n', 'S', 'T':
				case 'u':
					bsdUser = true
				case 'j':
					bsdJobs = true
				case 'o':
					if err := list(t[j+1:]); err != nil {
						return nil, err
					}
					j = len(t)
				case 'p', 'q', 't', 'U':
					if err := skipValue(j < len(t)-1); err != nil {
						return nil, err
					}
					j = len(t)
				default:
					return nil, errdefs.Invalid(fmt.Sprintf("ps: error: unsupported option (BSD syntax) %c", c))
				}
			}
		}
	}
	switch {
	case len(custom) > 0:
		return custom, nil
	case bsdUser:
		return psBSDUser(), nil
	case bsdJobs:
		return psBSDJobs(), nil
	case unixExtra:
		return psUnixExtra(), nil
	case unixFull:
		return psUnixFull(), nil
	case unixJobs:
		return psUnixJobs(), nil
	case bsd:
		return psBSDDefault(), nil
	}
	return psUnixDefault(), nil
}
