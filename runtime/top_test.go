package runtime

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// fixtureProcEnv reads testdata/proc with a fixed clock, page size and user names.
func fixtureProcEnv(t *testing.T) *procEnv {
	t.Helper()
	e, err := hostProcEnv("testdata/proc")
	if err != nil {
		t.Fatal(err)
	}
	e.now = time.Date(2024, 3, 10, 12, 0, 0, 0, time.UTC)
	e.pageSize = 4096
	e.users[0] = "root"
	e.users[65534] = "nobody"
	e.users[1001] = "averyverylongname"
	e.groups[0] = "root"
	e.groups[65534] = "nogroup"
	return e
}

func TestParseProcStat(t *testing.T) {
	p, err := parseProcStat([]byte("7 (my (weird) prog) R 1 7 1 0 -1 4194560 10 0 0 0 30000 0 0 0 25 5 2 0 90000 1048576 100 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n"))
	if err != nil {
		t.Fatal(err)
	}
	if p.pid != 7 || p.comm != "my (weird) prog" || p.state != 'R' || p.ppid != 1 || p.utime != 30000 ||
		p.nice != 5 || p.threads != 2 || p.start != 90000 || p.vsize != 1048576 || p.rss != 100 {
		t.Errorf("parsed %+v", p)
	}
	for _, bad := range []string{"", "7 sh R 1", "x (sh) R 1 2 3", "7 (sh) R 1 2 3"} {
		if _, err := parseProcStat([]byte(bad)); err == nil {
			t.Errorf("parseProcStat(%q) succeeded", bad)
		}
	}
}

func TestTopTable(t *testing.T) {
	e := fixtureProcEnv(t)
	cases := []struct {
		args   string
		titles string
		rows   []string
	}{
		{"-ef", "UID PID PPID C STIME TTY TIME CMD", []string{
			"root|1|0|0|11:51|pts/0|00:00:01|sh -c sleep 1000",
			"nobody|7|1|99|11:58|?|00:05:00|my (weird) prog --flag",
			"root|9|1|0|11:59|?|00:00:00|[defunct]",
		}},
		{"aux", "USER PID %CPU %MEM VSZ RSS TTY STAT START TIME COMMAND", []string{
			"root|1|0.3|0.0|4348|800|pts/0|Ss+|11:51|0:01|sh -c sleep 1000",
			"nobody|7|300.0|0.0|1024|400|?|RNLl|11:58|5:00|my (weird) prog --flag",
			"root|9|0.0|0.0|0|0|?|Z|11:59|0:00|[defunct]",
		}},
		{"", "PID TTY TIME CMD", []string{
			"1|pts/0|00:00:01|sh -c sleep 1000", "7|?|00:05:00|my (weird) prog --flag", "9|?|00:00:00|[defunct]",
		}},
		{"ax", "PID TTY STAT TIME COMMAND", []string{
			"1|pts/0|Ss+|0:01|sh -c sleep 1000", "7|?|RNLl|5:00|my (weird) prog --flag", "9|?|Z|0:00|[defunct]",
		}},
		{"-eo pid,comm,etime,ni,user,group", "PID COMMAND ELAPSED NI USER GROUP", []string{
			"1|sh|08:20|0|root|root", "7|my (weird) prog|01:40|5|nobody|nogroup", "9|defunct|00:10|0|root|root",
		}},
		{"-o pid=P,args", "P COMMAND", nil},
		{"o pid,pcpu --forest", "PID %CPU", []string{"1|0.3", "7|300.0", "9|0.0"}},
	}
	for _, tc := range cases {
		t.Run(tc.args, func(t *testing.T) {
			cols, err := parsePsArgs(tc.args)
			if err != nil {
				t.Fatal(err)
			}
			res, err := topTable(e, []int{9, 1, 7, 12345}, cols)
			if tc.rows == nil {
				if err == nil {
					t.Fatalf("want the missing PID column error, got %v", res.Titles)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(res.Titles, " "); got != tc.titles {
				t.Errorf("titles %q, want %q", got, tc.titles)
			}
			var rows []string
			for _, r := range res.Processes {
				rows = append(rows, strings.Join(r, "|"))
			}
			if !reflect.DeepEqual(rows, tc.rows) {
				t.Errorf("rows\n%s\nwant\n%s", strings.Join(rows, "\n"), strings.Join(tc.rows, "\n"))
			}
		})
	}
}

func TestParsePsArgsErrors(t *testing.T) {
	for _, args := range []string{"-Q", "k", "-o", "-o nosuchfield", "--bogus", "-o comm=PID"} {
		if _, err := parsePsArgs(args); err == nil {
			t.Errorf("parsePsArgs(%q) succeeded", args)
		}
	}
}

func TestTTYName(t *testing.T) {
	for nr, want := range map[int]string{0: "?", 136 << 8: "pts/0", 136<<8 | 5: "pts/5", 137 << 8: "pts/256", 4<<8 | 1: "tty1", 4<<8 | 65: "ttyS1", 5 << 8: "tty", 5<<8 | 1: "console", 1 << 8: "?"} {
		if got := ttyName(nr); got != want {
			t.Errorf("ttyName(%d) = %q, want %q", nr, got, want)
		}
	}
}

func TestUserNameWidth(t *testing.T) {
	e := fixtureProcEnv(t)
	if got := e.userName(1001, true); got != "averyve+" {
		t.Errorf("got %q", got)
	}
	if got := e.userName(1001, false); got != "averyverylongname" {
		t.Errorf("got %q", got)
	}
}

func TestStimeAndTimes(t *testing.T) {
	e := fixtureProcEnv(t)
	p := &procInfo{start: 0, utime: 100 * 90061, stime: 0}
	e.uptime = 400 * 24 * 3600
	if got := e.stime(p); got != e.startTime(p).Format("2006") {
		t.Errorf("old process stime %q", got)
	}
	e.uptime = 3 * 24 * 3600
	if got := e.stime(p); got != "Mar07" {
		t.Errorf("stime %q", got)
	}
	if got := e.cputime(p); got != "1-01:01:01" {
		t.Errorf("cputime %q", got)
	}
	if got := e.bsdTime(p); got != "1501:01" {
		t.Errorf("bsdtime %q", got)
	}
	if got := e.etime(p); got != "3-00:00:00" {
		t.Errorf("etime %q", got)
	}
}
