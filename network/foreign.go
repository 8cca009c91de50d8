package network

import (
	"fmt"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
)

// Living next to Docker. An nftables "accept" only ends the evaluation of the base chain it is
// in: every other base chain on the same hook (another table's, iptables-nft's "filter FORWARD"
// with Docker's policy drop) still sees the packet and may drop it. With br_netfilter and
// bridge-nf-call-iptables=1 even frames bridged between two containers traverse that chain. So an
// accept in berth's own table cannot help; the accept has to be in the chain that drops.
//
// When the host has iptables-nft's "ip filter" table, berth adds to DOCKER-USER (Docker's chain
// for the administrator's rules, jumped to first from FORWARD and never flushed by Docker) or,
// without Docker, to the top of FORWARD: "-i BRIDGE -j ACCEPT" and "-o BRIDGE -j ACCEPT", encoded
// exactly as iptables-nft encodes them (meta iifname + cmp of the NUL-terminated name, counter,
// accept, the comment as rule user data), so `iptables -S` and Docker keep parsing the table.
// The rules carry the comment "berth-net:<network ID>" and are removed with the bridge.
// iptables-legacy (x_tables) rules cannot be changed through nftables and are not handled.
const (
	foreignTable = "filter"
	dockerUser   = "DOCKER-USER"
	forwardChain = "FORWARD"
)

func iptIface(key expr.MetaKey, name string) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: key, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: append([]byte(name), 0)},
		&expr.Counter{},
		&expr.Verdict{Kind: expr.VerdictAccept},
	}
}

// foreignChain finds the chain to add to, or nil when there is no iptables-nft filter table.
func foreignChain(c *nftables.Conn) (*nftables.Table, *nftables.Chain) {
	t, err := c.ListTableOfFamily(foreignTable, nftables.TableFamilyIPv4)
	if err != nil {
		return nil, nil
	}
	for _, name := range []string{dockerUser, forwardChain} {
		if ch, err := c.ListChain(t, name); err == nil {
			return t, ch
		}
	}
	return nil, nil
}

// allowInForeignFirewall adds the accept rules for bridge to iptables-nft's FORWARD path.
func allowInForeignFirewall(bridge, netID string) error {
	c, l, err := lockedNft()
	if err != nil {
		return err
	}
	defer l.Release()
	t, ch := foreignChain(c)
	if ch == nil {
		return nil
	}
	tag := userdata.AppendString(nil, userdata.TypeComment, "berth-net:"+netID)
	for _, key := range []expr.MetaKey{expr.MetaKeyOIFNAME, expr.MetaKeyIIFNAME} {
		c.InsertRule(&nftables.Rule{Table: t, Chain: ch, Exprs: iptIface(key, bridge), UserData: tag})
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables: accept %s in %s %s: %w", bridge, foreignTable, ch.Name, err)
	}
	return nil
}

// removeFromForeignFirewall deletes the rules allowInForeignFirewall added for a network.
func removeFromForeignFirewall(netID string) error {
	c, l, err := lockedNft()
	if err != nil {
		return err
	}
	defer l.Release()
	t, err := c.ListTableOfFamily(foreignTable, nftables.TableFamilyIPv4)
	if err != nil {
		return nil
	}
	want := "berth-net:" + netID
	n := 0
	for _, name := range []string{dockerUser, forwardChain} {
		rules, err := c.GetRules(t, &nftables.Chain{Name: name, Table: t})
		if err != nil {
			continue
		}
		for _, r := range rules {
			if s, ok := userdata.GetString(r.UserData, userdata.TypeComment); ok && s == want {
				if err := c.DelRule(r); err == nil {
					n++
				}
			}
		}
	}
	if n == 0 {
		return nil
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables: remove accept rules of network %s: %w", netID, err)
	}
	return nil
}
