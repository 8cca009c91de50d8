package runtime

import (
	"bytes"
	"fmt"
	"os"
	"os/user"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/berth-project/berth/internal/errdefs"
)

// TopResult is `docker top`'s answer: the column titles and one row per process.
type TopResult struct {
	Titles    []string
	Processes [][]string
}

// ErrNotRunning builds Docker's error for an operation that needs a running container.
func ErrNotRunning(id string) error {
	return errdefs.Conflict(fmt.Sprintf("container %s is not running", id))
}

// Top lists the processes of a running container (every PID in its cgroup) the way `ps psArgs`
// would print them on the host; psArgs defaults to "-ef". berth formats the columns itself from
// /proc: it never runs ps.
func (r *Runtime) Top(c *Container, psArgs string) (*TopResult, error) {
	if psArgs == "" {
		psArgs = "-ef"
	}
	cols, err := parsePsArgs(psArgs)
	if err != nil {
		return nil, err
	}
	if c.State.Status == StatusRestarting {
		return nil, errdefs.Conflict(fmt.Sprintf("Container %s is restarting, wait until the container is running", c.ID))
	}
	if !c.IsRunning() || !Alive(c.Pid, c.PidStart) {
		return nil, ErrNotRunning(c.ID)
	}
	cg, err := containerCgroup(c.Pid, c.ID)
	if err != nil {
		return nil, fmt.Errorf("top %s: %w", c.ID, err)
	}
	pids, err := cg.Procs()
	if err != nil {
		return nil, fmt.Errorf("top %s: %w", c.ID, err)
	}
	env, err := hostProcEnv("/proc")
	if err != nil {
		return nil, fmt.Errorf("top %s: %w", c.ID, err)
	}
	return topTable(env, pids, cols)
}

// topTable renders the processes pids (those still alive) with the given columns.
func topTable(env *procEnv, pids []int, cols []psColumn) (*TopResult, error) {
	res := &TopResult{}
	hasPid := false
	for _, c := range cols {
		res.Titles = append(res.Titles, c.header)
		if c.header == "PID" {
			hasPid = true
		}
	}
	if !hasPid {
		return nil, errdefs.Invalid("Couldn't find PID field in ps output")
	}
	sort.Ints(pids)
	for _, pid := range pids {
		p, err := env.readProc(pid)
		if err != nil {
			continue // exited meanwhile
		}
		row := make([]string, len(cols))
		for i, c := range cols {
			row[i] = c.value(env, p)
		}
		res.Processes = append(res.Processes, row)
	}
	return res, nil
}

// procEnv holds what formatting a process needs from the host: /proc's location, boot time,
// memory size, page size and a user name cache.
type procEnv struct {
	proc     string
	now      time.Time
	uptime   float64 // seconds since boot
	memKB    uint64
	pageSize uint64
	hz       uint64
	users    map[int]string
	groups   map[int]string
}

func hostProcEnv(proc string) (*procEnv, error) {
	up, err := os.ReadFile(proc + "/uptime")
	if err != nil {
		return nil, fmt.Errorf("read uptime: %w", err)
	}
	f := strings.Fields(string(up))
	if len(f) == 0 {
		return nil, fmt.Errorf("parse %s/uptime", proc)
	}
	uptime, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return nil, fmt.Errorf("parse %s/uptime: %w", proc, err)
	}
	mi, err := os.ReadFile(proc + "/meminfo")
	if err != nil {
		return nil, fmt.Errorf("read meminfo: %w", err)
	}
	return &procEnv{
		proc: proc, now: time.Now(), uptime: uptime, memKB: parseMemTotal(mi) / 1024,
		pageSize: uint64(os.Getpagesize()), hz: 100,
		users: map[int]string{}, groups: map[int]string{},
	}, nil
}

// procInfo is what /proc/PID/{stat,status,cmdline} say about one process.
type procInfo struct {
	pid, ppid, pgrp, session, tpgid int
	ttyNr                           int
	state                           byte
	comm                            string
	args                            []string
	utime, stime                    uint64 // clock ticks
	priority, nice                  int64
	threads                         int64
	start                           uint64 // clock ticks since boot
	vsize                           uint64 // bytes
	rss                             uint64 // pages
	processor                       int
	ruid, euid, rgid, egid          int
	vmLckKB                         uint64
}

func (e *procEnv) readProc(pid int) (*procInfo, error) {
	dir := fmt.Sprintf("%s/%d", e.proc, pid)
	stat, err := os.ReadFile(dir + "/stat")
	if err != nil {
		return nil, err
	}
	p, err := parseProcStat(stat)
	if err != nil {
		return nil, fmt.Errorf("%s/stat: %w", dir, err)
	}
	if status, err := os.ReadFile(dir + "/status"); err == nil {
		parseProcStatus(status, p)
	}
	if cmdline, err := os.ReadFile(dir + "/cmdline"); err == nil {
		cmdline = bytes.TrimRight(cmdline, "\x00")
		if len(cmdline) > 0 {
			p.args = strings.Split(string(cmdline), "\x00")
		}
	}
	return p, nil
}

// parseProcStat parses /proc/PID/stat; the command name sits in parentheses and may hold
// spaces and parentheses itself, so the fields are counted from the last ')'.
func parseProcStat(data []byte) (*procInfo, error) {
	open := bytes.IndexByte(data, '(')
	end := bytes.LastIndexByte(data, ')')
	if open < 0 || end < open {
		return nil, fmt.Errorf("malformed stat line")
	}
	p := &procInfo{comm: string(data[open+1 : end])}
	pid, err := strconv.Atoi(string(bytes.TrimSpace(data[:open])))
	if err != nil {
		return nil, fmt.Errorf("malformed pid: %w", err)
	}
	p.pid = pid
	f := strings.Fields(string(data[end+1:]))
	// f[0] is field 3 of proc(5): field n is f[n-3].
	if len(f) < 22 {
		return nil, fmt.Errorf("short stat line (%d fields)", len(f))
	}
	num := func(n int) int64 { v, _ := strconv.ParseInt(f[n-3], 10, 64); return v }
	unum := func(n int) uint64 { v, _ := strconv.ParseUint(f[n-3], 10, 64); return v }
	p.state = f[0][0]
	p.ppid = int(num(4))
	p.pgrp = int(num(5))
	p.session = int(num(6))
	p.ttyNr = int(num(7))
	p.tpgid = int(num(8))
	p.utime = unum(14)
	p.stime = unum(15)
	p.priority = num(18)
	p.nice = num(19)
	p.threads = num(20)
	p.start = unum(22)
	p.vsize = unum(23)
	p.rss = unum(24)
	if len(f) >= 39-2 {
		p.processor = int(num(39))
	}
	return p, nil
}

func parseProcStatus(data []byte, p *procInfo) {
	for _, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		switch k {
		case "Uid":
			p.ruid, _ = strconv.Atoi(f[0])
			if len(f) > 1 {
				p.euid, _ = strconv.Atoi(f[1])
			}
		case "Gid":
			p.rgid, _ = strconv.Atoi(f[0])
			if len(f) > 1 {
				p.egid, _ = strconv.Atoi(f[1])
			}
		case "VmLck":
			p.vmLckKB, _ = strconv.ParseUint(f[0], 10, 64)
		}
	}
}

// userName resolves uid in the host's user database as ps does; names longer than 8 characters
// are cut with a "+" (procps' rule for the fixed-width user columns).
func (e *procEnv) userName(uid int, width bool) string {
	name, ok := e.users[uid]
	if !ok {
		name = strconv.Itoa(uid)
		if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
			name = u.Username
		}
		e.users[uid] = name
	}
	if width && len(name) > 8 {
		return name[:7] + "+"
	}
	return name
}

func (e *procEnv) groupName(gid int) string {
	name, ok := e.groups[gid]
	if !ok {
		name = strconv.Itoa(gid)
		if g, err := user.LookupGroupId(strconv.Itoa(gid)); err == nil {
			name = g.Name
		}
		e.groups[gid] = name
	}
	return name
}

// startTime is when the process started, as wall-clock time.
func (e *procEnv) startTime(p *procInfo) time.Time {
	age := e.uptime - float64(p.start)/float64(e.hz)
	return e.now.Add(-time.Duration(age * float64(time.Second)))
}

// elapsed is the number of seconds the process has been running.
func (e *procEnv) elapsed(p *procInfo) float64 {
	s := e.uptime - float64(p.start)/float64(e.hz)
	if s < 0 {
		return 0
	}
	return s
}

// pcpu is procps' CPU share in tenths of a percent: CPU time over wall time since start.
func (e *procEnv) pcpu(p *procInfo) uint64 {
	el := e.elapsed(p)
	if el <= 0 {
		return 0
	}
	total := float64(p.utime+p.stime) / float64(e.hz)
	return uint64(total * 1000 / el)
}

// pmem is the resident share of host memory in tenths of a percent.
func (e *procEnv) pmem(p *procInfo) uint64 {
	if e.memKB == 0 {
		return 0
	}
	return p.rss * e.pageSize / 1024 * 1000 / e.memKB
}

// ttyName turns a tty_nr into ps' TTY column ("pts/0", "tty1", "?").
func ttyName(nr int) string {
	if nr == 0 {
		return "?"
	}
	major := (nr >> 8) & 0xfff
	minor := (nr & 0xff) | ((nr >> 12) & 0xfff00)
	switch {
	case major >= 136 && major <= 143:
		return fmt.Sprintf("pts/%d", minor+(major-136)*256)
	case major == 4 && minor < 64:
		return fmt.Sprintf("tty%d", minor)
	case major == 4:
		return fmt.Sprintf("ttyS%d", minor-64)
	case major == 5 && minor == 0:
		return "tty"
	case major == 5 && minor == 1:
		return "console"
	}
	return "?"
}

// stime is ps' STIME/START: the time of day for a process started within the last day, the
// month and day within the last year, else the year.
func (e *procEnv) stime(p *procInfo) string {
	t := e.startTime(p)
	age := e.now.Sub(t)
	switch {
	case age < 24*time.Hour:
		return t.Format("15:04")
	case age < 365*24*time.Hour:
		return t.Format("Jan02")
	}
	return t.Format("2006")
}

// started is ps -o start's STARTED: HH:MM:SS within the last day, else "Mon DD".
func (e *procEnv) started(p *procInfo) string {
	t := e.startTime(p)
	if e.now.Sub(t) < 24*time.Hour {
		return t.Format("15:04:05")
	}
	return t.Format("Jan 02")
}

// cputime is ps -f's TIME: [DD-]HH:MM:SS of CPU time.
func (e *procEnv) cputime(p *procInfo) string {
	s := (p.utime + p.stime) / e.hz
	d, h, m, sec := s/86400, s/3600%24, s/60%60, s%60
	if d > 0 {
		return fmt.Sprintf("%d-%02d:%02d:%02d", d, h, m, sec)
	}
	return fmt.Sprintf("%02d:%02d:%02d", h, m, sec)
}

// bsdTime is the BSD formats' TIME: MMM:SS of CPU time.
func (e *procEnv) bsdTime(p *procInfo) string {
	s := (p.utime + p.stime) / e.hz
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

// etime is ELAPSED: [[DD-]HH:]MM:SS since start.
func (e *procEnv) etime(p *procInfo) string {
	s := uint64(e.elapsed(p))
	d, h, m, sec := s/86400, s/3600%24, s/60%60, s%60
	switch {
	case d > 0:
		return fmt.Sprintf("%d-%02d:%02d:%02d", d, h, m, sec)
	case h > 0:
		return fmt.Sprintf("%02d:%02d:%02d", h, m, sec)
	}
	return fmt.Sprintf("%02d:%02d", m, sec)
}

// statFlags is ps' STAT: the state letter and BSD flags.
func statFlags(p *procInfo) string {
	s := string(p.state)
	if p.nice < 0 {
		s += "<"
	} else if p.nice > 0 {
		s += "N"
	}
	if p.vmLckKB > 0 {
		s += "L"
	}
	if p.session == p.pid {
		s += "s"
	}
	if p.threads > 1 {
		s += "l"
	}
	if p.ttyNr != 0 && p.tpgid == p.pgrp {
		s += "+"
	}
	return s
}

// commandLine is the full command (args); a process without one (a kernel thread, a zombie)
// shows as "[comm]".
func commandLine(p *procInfo) string {
	if len(p.args) == 0 {
		return "[" + p.comm + "]"
	}
	return strings.Join(p.args, " ")
}
