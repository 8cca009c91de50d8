package runtime

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runc/libcontainer/seccomp"
)

func testSeccomp(notify bool) *configs.Seccomp {
	eperm := uint(1)
	sc := &configs.Seccomp{
		DefaultAction:   configs.Errno,
		DefaultErrnoRet: &eperm,
		Architectures:   []string{"amd64", "x86", "x32"},
		Syscalls: []*configs.Syscall{
			{Name: "read", Action: configs.Allow},
			{Name: "write", Action: configs.Allow},
			{Name: "exit_group", Action: configs.Allow},
			{Name: "no_such_syscall", Action: configs.Allow},
			{Name: "personality", Action: configs.Allow, Args: []*configs.Arg{{Index: 0, Value: 0, Op: configs.EqualTo}}},
		},
	}
	if notify {
		sc.Syscalls = append(sc.Syscalls, &configs.Syscall{Name: "mkdir", Action: configs.Notify})
	}
	return sc
}

func TestPrecompileSeccomp(t *testing.T) {
	if !seccomp.Enabled {
		t.Skip("built without seccomp")
	}
	l := Layout{Root: t.TempDir(), RunRoot: t.TempDir()}
	for _, tc := range []struct {
		name   string
		notify bool
		want   bool // compiled
	}{
		{"allow list", false, true},
		{"notify rules are left to the init", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc := testSeccomp(tc.notify)
			precompileSeccomp(l, sc)
			if got := sc.Compiled != nil; got != tc.want {
				t.Fatalf("compiled = %v, want %v", got, tc.want)
			}
			if !tc.want {
				if len(sc.Syscalls) == 0 {
					t.Fatalf("rules dropped from a filter left to the init")
				}
				return
			}
			if sc.Syscalls != nil {
				t.Fatalf("rules still handed to libcontainer beside the compiled filter")
			}
			if n := len(sc.Compiled.Program); n == 0 || n%8 != 0 {
				t.Fatalf("program of %d bytes", n)
			}
			direct, err := seccomp.Compile(testSeccomp(false))
			if err != nil {
				t.Fatal(err)
			}
			// runc orders the -ENOSYS stub's architectures as a map gives them: compare sizes.
			if len(direct.Program) != len(sc.Compiled.Program) || direct.Flags != sc.Compiled.Flags || direct.NoNewPrivs != sc.Compiled.NoNewPrivs {
				t.Fatalf("cached filter differs from a fresh compile")
			}
			// A second container with the same configuration gets the cached filter.
			files, _ := filepath.Glob(filepath.Join(l.seccompCacheDir(), "*.json"))
			if len(files) != 1 {
				t.Fatalf("cache holds %d files, want 1", len(files))
			}
			again := testSeccomp(false)
			precompileSeccomp(l, again)
			if !reflect.DeepEqual(again.Compiled, sc.Compiled) {
				t.Fatalf("second compile differs")
			}
			// A damaged cache entry is compiled again, not loaded.
			os.WriteFile(files[0], []byte(`{"program":"AAA="}`), 0o600)
			third := testSeccomp(false)
			precompileSeccomp(l, third)
			if third.Compiled == nil || len(third.Compiled.Program) != len(sc.Compiled.Program) {
				t.Fatalf("damaged cache entry was used")
			}
		})
	}
}
