package network

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
)

// TestRootDockerForwardDrop builds what Docker leaves on a host, an iptables-nft "ip filter"
// table whose FORWARD chain drops (here: drops everything of the test's bridge, so that other
// software on the host is not disturbed), with br_netfilter calling iptables for bridged frames,
// and checks that containers of a berth network still reach each other and their published port.
func TestRootDockerForwardDrop(t *testing.T) {
	requiresRoot(t)
	if data, err := os.ReadFile("/proc/sys/net/bridge/bridge-nf-call-iptables"); err != nil || string(data) != "1\n" {
		t.Skip("br_netfilter with bridge-nf-call-iptables=1 is not active")
	}
	c, err := nftables.New()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ListTableOfFamily(foreignTable, nftables.TableFamilyIPv4); err == nil {
		t.Skip("the host already has an ip filter table; not touching it")
	}
	dir := t.TempDir()
	root, runRoot := filepath.Join(dir, "root"), filepath.Join(dir, "run")
	s, err := Open(root, runRoot)
	if err != nil {
		t.Fatal(err)
	}
	bridge := fmt.Sprintf("bt%d", os.Getpid()%100000)

	// Docker's table: filter FORWARD, ending with drops for our bridge.
	tbl := c.AddTable(&nftables.Table{Name: foreignTable, Family: nftables.TableFamilyIPv4})
	accept := nftables.ChainPolicyAccept
	fwd := c.AddChain(&nftables.Chain{Name: forwardChain, Table: tbl, Type: nftables.ChainTypeFilter, Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter, Policy: &accept})
	for _, k := range []expr.MetaKey{expr.MetaKeyIIFNAME, expr.MetaKeyOIFNAME} {
		c.AddRule(&nftables.Rule{Table: tbl, Chain: fwd, Exprs: []expr.Any{
			&expr.Meta{Key: k, Register: 1}, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: append([]byte(bridge), 0)},
			&expr.Counter{}, &expr.Verdict{Kind: expr.VerdictDrop}}})
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.DelTable(tbl)
		c.Flush()
	})

	n, err := s.Create(CreateOptions{Name: "fw", Subnet: "10.213.7.0/24", Options: map[string]string{BridgeNameOption: bridge}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Remove(n.Name) })
	rules, err := c.GetRules(tbl, fwd)
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) != 4 {
		t.Fatalf("FORWARD has %d rules, want berth's 2 accepts + 2 drops", len(rules))
	}

	nsA, nsB := filepath.Join(runRoot, "netns", "a"), filepath.Join(runRoot, "netns", "b")
	for _, p := range []string{nsA, nsB} {
		if err := CreateNetns(p); err != nil {
			t.Fatal(err)
		}
		defer RemoveNetns(p)
	}
	epA, err := s.Attach(AttachRequest{ContainerID: "a1", Name: "a", Network: "fw", NsPath: nsA, IfName: "eth0", DefaultRoute: true, Owner: Self()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.DetachAll("a1", "")
	epB, err := s.Attach(AttachRequest{ContainerID: "b1", Name: "b", Network: "fw", NsPath: nsB, IfName: "eth0", DefaultRoute: true, Owner: Self()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.DetachAll("b1", "")
	ln := serveHello(t, nsA, 7000, "hello")
	defer ln.Close()
	check := func(wantOK bool) {
		inNetns(t, nsB, func() {
			got, err := readHello(epA.Lease.IP + ":7000")
			if ok := err == nil && got == "hello"; ok != wantOK {
				t.Errorf("b -> a (%s): %q %v, want ok=%v", epA.Lease.IP, got, err, wantOK)
			}
		})
	}
	check(true)
	// Without berth's accepts Docker's drop wins: the test really exercises the drop.
	if err := removeFromForeignFirewall(n.ID); err != nil {
		t.Fatal(err)
	}
	check(false)
	if err := allowInForeignFirewall(n.Bridge, n.ID); err != nil {
		t.Fatal(err)
	}
	check(true)
	_ = epB
}
