//go:build linux && seccomp

package seccompcache

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
)

// build shapes a filter from Docker's default profile the way libcontainer does (default
// action, extra architectures, binary tree, rules with argument conditions) plus extra rules,
// and returns its exported BPF. It checks that what the filter says of itself after the export
// (attributes, architectures, a rule libseccomp refuses) is what an uncached filter says.
func build(t *testing.T, extra ...string) []byte {
	t.Helper()
	prof, err := seccomp.GetDefaultProfile(&specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{}}})
	if err != nil {
		t.Fatal(err)
	}
	f, err := libseccomp.NewFilter(libseccomp.ActErrno.SetReturnCode(1))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Release()
	for _, a := range []libseccomp.ScmpArch{libseccomp.ArchX86, libseccomp.ArchX32} {
		if err := f.AddArch(a); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.SetOptimize(2); err != nil {
		t.Fatal(err)
	}
	if err := f.SetNoNewPrivsBit(false); err != nil {
		t.Fatal(err)
	}
	rules := 0
	for _, sc := range prof.Syscalls {
		act := libseccomp.ActAllow
		if sc.Action == specs.ActErrno {
			act = libseccomp.ActErrno.SetReturnCode(1)
		}
		var conds []libseccomp.ScmpCondition
		for _, a := range sc.Args {
			c, err := libseccomp.MakeCondition(a.Index, libseccomp.ScmpCompareOp(opOf(a.Op)), a.Value, a.ValueTwo)
			if err != nil {
				t.Fatal(err)
			}
			conds = append(conds, c)
		}
		for _, name := range sc.Names {
			call, err := libseccomp.GetSyscallFromName(name)
			if err != nil {
				continue // not on this architecture
			}
			if len(conds) == 0 {
				err = f.AddRule(call, act)
			} else {
				err = f.AddRuleConditional(call, act, conds)
			}
			if err == nil {
				rules++
			}
		}
	}
	for _, name := range extra {
		call, err := libseccomp.GetSyscallFromName(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.AddRule(call, libseccomp.ActKillProcess); err != nil {
			t.Fatal(err)
		}
	}
	if rules < 300 {
		t.Fatalf("only %d rules from the default profile", rules)
	}
	// A rule with the default action is refused by libseccomp: speculation must say so too.
	if getpid, _ := libseccomp.GetSyscallFromName("getpid"); f.AddRule(getpid, libseccomp.ActErrno.SetReturnCode(1)) == nil {
		t.Fatal("a rule with the default action was accepted")
	}
	out, err := os.CreateTemp(t.TempDir(), "bpf")
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if err := f.ExportBPF(out); err != nil {
		t.Fatal(err)
	}
	prog, err := os.ReadFile(out.Name())
	if err != nil {
		t.Fatal(err)
	}
	nnp, err1 := f.GetNoNewPrivsBit()
	opt, err2 := f.GetOptimize()
	badArch, err3 := f.GetBadArchAction()
	def, err4 := f.GetDefaultAction()
	x32, err5 := f.IsArchPresent(libseccomp.ArchX32)
	arm, err6 := f.IsArchPresent(libseccomp.ArchARM64)
	if err := errors.Join(err1, err2, err3, err4, err5, err6); err != nil {
		t.Fatal(err)
	}
	if nnp || opt != 2 || badArch != libseccomp.ActKillThread || def != libseccomp.ActErrno.SetReturnCode(1) || !x32 || arm {
		t.Fatalf("filter after export: nnp %v optimize %d bad arch %v default %v x32 %v arm64 %v", nnp, opt, badArch, def, x32, arm)
	}
	if len(prog) == 0 || len(prog)%8 != 0 {
		t.Fatalf("exported %d bytes", len(prog))
	}
	return prog
}

func opOf(op specs.LinuxSeccompOperator) int {
	return map[specs.LinuxSeccompOperator]int{
		specs.OpNotEqual: int(libseccomp.CompareNotEqual), specs.OpLessThan: int(libseccomp.CompareLess),
		specs.OpLessEqual: int(libseccomp.CompareLessOrEqual), specs.OpEqualTo: int(libseccomp.CompareEqual),
		specs.OpGreaterEqual: int(libseccomp.CompareGreaterEqual), specs.OpGreaterThan: int(libseccomp.CompareGreater),
		specs.OpMaskedEqual: int(libseccomp.CompareMaskedEqual),
	}[op]
}

func TestCacheServesWhatLibseccompGenerates(t *testing.T) {
	if err := Use(""); err != nil {
		t.Fatal(err)
	}
	generated := build(t)
	other := build(t, "kexec_load")
	if bytes.Equal(generated, other) {
		t.Fatal("an extra rule did not change the program")
	}

	dir := t.TempDir()
	if err := Use(dir); err != nil {
		t.Fatal(err)
	}
	defer Use("")
	h0, m0, s0 := stats()
	check := func(name string, want []byte, hits, misses uint64) {
		t.Helper()
		got := build(t, map[bool][]string{true: {"kexec_load"}}[bytes.Equal(want, other)]...)
		if !bytes.Equal(got, want) {
			t.Fatalf("%s: program differs from libseccomp's (%d vs %d bytes)", name, len(got), len(want))
		}
		h, m, s := stats()
		if h-h0 != hits || m-m0 != misses {
			t.Fatalf("%s: hits/misses = %d/%d, want %d/%d", name, h-h0, m-m0, hits, misses)
		}
		// libseccomp 2.5 (Debian 12's): hits come from speculation, without adding the rules.
		if s-s0 != hits {
			t.Fatalf("%s: %d of %d hits without the rules' calls", name, s-s0, hits)
		}
	}
	check("first export", generated, 0, 1)
	check("same filter again", generated, 1, 1)
	check("another filter", other, 1, 2)
	check("the other one again", other, 2, 2)
	check("first one again", generated, 3, 2)

	// A damaged entry is not trusted: the program is generated again and the entry rewritten.
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(files) != 2 {
		t.Fatalf("cache holds %v, want 2 entries", files)
	}
	for _, f := range files {
		b, _ := os.ReadFile(f)
		if err := os.WriteFile(f, b[:len(b)-8], 0o600); err != nil {
			t.Fatal(err)
		}
	}
	check("truncated entry", generated, 3, 3)
	check("rewritten entry", generated, 4, 3)

	// A flipped bit in a stored program (same size) is caught by the entry's checksum.
	for _, f := range files {
		b, _ := os.ReadFile(f)
		b[len(b)-20] ^= 0x10
		if err := os.WriteFile(f, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	check("damaged program", generated, 4, 4)
	check("program rewritten", generated, 5, 4)
}

func TestRelDirMatchesC(t *testing.T) {
	if got := cRelDir(); got != RelDir {
		t.Fatalf("C uses %q, Go %q", got, RelDir)
	}
}
