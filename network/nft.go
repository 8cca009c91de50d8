package network

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"

	"github.com/berth-project/berth/internal/lock"
	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"golang.org/x/sys/unix"
)

// berth keeps all of its packet rules in one nftables table of its own, "ip berth", shared by
// every berth store on the host (host ports are a host-wide resource):
//
//	map anyports  { inet_proto . inet_service : ipv4_addr . inet_service }  ports bound on 0.0.0.0
//	map ipports   { ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service }  ports bound on one IP
//	chain prerouting, output (nat, dstnat): fib daddr type local dnat to the anyports map; dnat to ipports
//	chain postrouting (nat, srcnat): per network masquerade, 127.0.0.0/8 via the bridge, hairpin
//	chain forward (filter): per network accepts (and drops for --internal networks)
//	chain guard (filter, raw priority): drop 127.0.0.0/8 traffic not arriving on lo (moby#41872)
//
// Publishing a port is a set element, so a run with -p is one small transaction and a run without
// ports touches nftables not at all. Per-network rules carry a comment "berth-net:<id>" so that
// removing a network deletes exactly its rules.
var (
	// TableName is berth's nftables table (family ip).
	TableName = "berth"

	nftTable = func() *nftables.Table { return &nftables.Table{Name: TableName, Family: nftables.TableFamilyIPv4} }
)

const (
	mapAnyPorts = "anyports"
	mapIPPorts  = "ipports"
	chainPre    = "prerouting"
	chainOut    = "output"
	chainPost   = "postrouting"
	chainFwd    = "forward"
	chainGuard  = "guard"
)

// nftLockPath serialises changes to the shared table's structure between berth processes of all
// stores on the host.
const nftLockPath = "/run/lock/berth-nftables.lock"

func anyPortsSet(t *nftables.Table) *nftables.Set {
	return &nftables.Set{Table: t, Name: mapAnyPorts, IsMap: true, Concatenation: true,
		KeyType:  nftables.MustConcatSetType(nftables.TypeInetProto, nftables.TypeInetService),
		DataType: nftables.MustConcatSetType(nftables.TypeIPAddr, nftables.TypeInetService)}
}

func ipPortsSet(t *nftables.Table) *nftables.Set {
	return &nftables.Set{Table: t, Name: mapIPPorts, IsMap: true, Concatenation: true,
		KeyType:  nftables.MustConcatSetType(nftables.TypeIPAddr, nftables.TypeInetProto, nftables.TypeInetService),
		DataType: nftables.MustConcatSetType(nftables.TypeIPAddr, nftables.TypeInetService)}
}

// dnatExprs builds: [fib daddr type local] lookup (l4proto . dport | daddr . l4proto . dport) -> dnat.
func dnatExprs(set *nftables.Set, byIP bool) []expr.Any {
	var e []expr.Any
	if byIP {
		e = append(e,
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 9},
			&expr.Payload{DestRegister: 10, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		)
	} else {
		e = append(e,
			&expr.Fib{Register: 1, FlagDADDR: true, ResultADDRTYPE: true},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(unix.RTN_LOCAL)},
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
			&expr.Payload{DestRegister: 9, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		)
	}
	return append(e,
		&expr.Lookup{SourceRegister: 1, DestRegister: 1, IsDestRegSet: true, SetName: set.Name, SetID: set.ID},
		&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1, RegProtoMin: 9, Specified: true},
	)
}

func ifname(name string) []byte {
	b := make([]byte, 16)
	copy(b, name)
	return b
}

// lockedNft takes berth's nftables lock and opens a netlink connection; the caller releases the
// lock.
func lockedNft() (*nftables.Conn, *lock.Lock, error) {
	l, err := lock.Acquire(nftLockPath)
	if err != nil {
		return nil, nil, err
	}
	c, err := nftables.New()
	if err != nil {
		l.Release()
		return nil, nil, fmt.Errorf("nftables: %w", err)
	}
	return c, l, nil
}

// ensureTable creates berth's table, maps, base chains and the rules that do not depend on a
// network, once per boot.
func ensureTable() error {
	c, l, err := lockedNft()
	if err != nil {
		return err
	}
	defer l.Release()
	if _, err := c.ListTableOfFamily(TableName, nftables.TableFamilyIPv4); err == nil {
		return nil
	}
	t := c.AddTable(nftTable())
	anyPorts, ipPorts := anyPortsSet(t), ipPortsSet(t)
	if err := c.AddSet(anyPorts, nil); err != nil {
		return fmt.Errorf("nftables: add map: %w", err)
	}
	if err := c.AddSet(ipPorts, nil); err != nil {
		return fmt.Errorf("nftables: add map: %w", err)
	}
	accept := nftables.ChainPolicyAccept
	pre := c.AddChain(&nftables.Chain{Name: chainPre, Table: t, Type: nftables.ChainTypeNAT, Hooknum: nftables.ChainHookPrerouting, Priority: nftables.ChainPriorityNATDest, Policy: &accept})
	out := c.AddChain(&nftables.Chain{Name: chainOut, Table: t, Type: nftables.ChainTypeNAT, Hooknum: nftables.ChainHookOutput, Priority: nftables.ChainPriorityNATDest, Policy: &accept})
	c.AddChain(&nftables.Chain{Name: chainPost, Table: t, Type: nftables.ChainTypeNAT, Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource, Policy: &accept})
	c.AddChain(&nftables.Chain{Name: chainFwd, Table: t, Type: nftables.ChainTypeFilter, Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter, Policy: &accept})
	guard := c.AddChain(&nftables.Chain{Name: chainGuard, Table: t, Type: nftables.ChainTypeFilter, Hooknum: nftables.ChainHookPrerouting, Priority: nftables.ChainPriorityRaw, Policy: &accept})
	for _, ch := range []*nftables.Chain{pre, out} {
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: dnatExprs(anyPorts, false)})
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: dnatExprs(ipPorts, true)})
	}
	// moby#41872: a packet for 127.0.0.0/8 that did not come from lo is spoofed; with
	// route_localnet on a bridge it would otherwise be DNATed to a loopback-published port.
	c.AddRule(&nftables.Rule{Table: t, Chain: guard, Exprs: []expr.Any{
		&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: ifname("lo")},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{127}},
		&expr.Counter{},
		&expr.Verdict{Kind: expr.VerdictDrop},
	}})
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables: create table %s: %w", TableName, err)
	}
	return nil
}

func netTag(id string) []byte {
	return userdata.AppendString(nil, userdata.TypeComment, "berth-net:"+id)
}

func prefixBytes(p netip.Prefix) (addr, mask []byte) {
	a := p.Masked().Addr().As4()
	m := binary.BigEndian.AppendUint32(nil, ^uint32(0)<<(32-p.Bits()))
	return a[:], m
}

// saddrIn matches ip saddr in p.
func saddrIn(p netip.Prefix) []expr.Any {
	a, m := prefixBytes(p)
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: m, Xor: []byte{0, 0, 0, 0}},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: a},
	}
}

func iface(key expr.MetaKey, op expr.CmpOp, name string) []expr.Any {
	return []expr.Any{&expr.Meta{Key: key, Register: 1}, &expr.Cmp{Op: op, Register: 1, Data: ifname(name)}}
}

func cat(parts ...[]expr.Any) []expr.Any {
	var out []expr.Any
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

var (
	masq   = []expr.Any{&expr.Masq{}}
	acc    = []expr.Any{&expr.Counter{}, &expr.Verdict{Kind: expr.VerdictAccept}}
	drop   = []expr.Any{&expr.Counter{}, &expr.Verdict{Kind: expr.VerdictDrop}}
	dnated = []expr.Any{
		&expr.Ct{Key: expr.CtKeySTATUS, Register: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: binaryutil.NativeEndian.PutUint32(ipsDstNAT), Xor: []byte{0, 0, 0, 0}},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: []byte{0, 0, 0, 0}},
	}
)

// addNetworkRules installs the rules of one bridge network.
func addNetworkRules(n *Network) error {
	subnet, err := prefixOf(n.Subnet)
	if err != nil {
		return err
	}
	if err := ensureTable(); err != nil {
		return err
	}
	c, l, err := lockedNft()
	if err != nil {
		return err
	}
	defer l.Release()
	t := nftTable()
	post := &nftables.Chain{Name: chainPost, Table: t}
	fwd := &nftables.Chain{Name: chainFwd, Table: t}
	tag := netTag(n.ID)
	add := func(ch *nftables.Chain, e []expr.Any) {
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: e, UserData: tag})
	}
	lo := prefixMust("127.0.0.0/8")
	if n.Internal {
		add(fwd, cat(iface(expr.MetaKeyIIFNAME, expr.CmpOpEq, n.Bridge), iface(expr.MetaKeyOIFNAME, expr.CmpOpNeq, n.Bridge), drop))
		add(fwd, cat(iface(expr.MetaKeyOIFNAME, expr.CmpOpEq, n.Bridge), iface(expr.MetaKeyIIFNAME, expr.CmpOpNeq, n.Bridge), drop))
	} else {
		// Outbound: masquerade the subnet unless it stays on the bridge.
		add(post, cat(saddrIn(subnet), iface(expr.MetaKeyOIFNAME, expr.CmpOpNeq, n.Bridge), masq))
		// 127.0.0.1:PORT DNATed into the bridge (route_localnet) must not keep a loopback source.
		add(post, cat(iface(expr.MetaKeyOIFNAME, expr.CmpOpEq, n.Bridge), saddrIn(lo), masq))
		// Hairpin: a container reaching a published port of the same bridge.
		add(post, cat(iface(expr.MetaKeyOIFNAME, expr.CmpOpEq, n.Bridge), saddrIn(subnet), dnated, masq))
		add(fwd, cat(iface(expr.MetaKeyIIFNAME, expr.CmpOpEq, n.Bridge), acc))
		add(fwd, cat(iface(expr.MetaKeyOIFNAME, expr.CmpOpEq, n.Bridge), acc))
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables: rules for network %s: %w", n.Name, err)
	}
	return nil
}

func prefixMust(s string) netip.Prefix { return netip.MustParsePrefix(s) }

// removeNetworkRules deletes the rules tagged with the network's ID from berth's table.
func removeNetworkRules(id string) error {
	c, l, err := lockedNft()
	if err != nil {
		return err
	}
	defer l.Release()
	t, err := c.ListTableOfFamily(TableName, nftables.TableFamilyIPv4)
	if err != nil {
		return nil // no table, nothing of ours
	}
	want := "berth-net:" + id
	for _, name := range []string{chainPost, chainFwd} {
		rules, err := c.GetRules(t, &nftables.Chain{Name: name, Table: t})
		if err != nil {
			continue
		}
		for _, r := range rules {
			if s, ok := userdata.GetString(r.UserData, userdata.TypeComment); ok && s == want {
				if err := c.DelRule(r); err != nil {
					return fmt.Errorf("nftables: delete rule: %w", err)
				}
			}
		}
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables: remove rules of network %s: %w", id, err)
	}
	return nil
}

// portElem encodes one published port as a map element of anyports or ipports.
func portElem(p PublishedPort) (set string, key, val []byte, err error) {
	proto, ok := map[string]byte{"tcp": unix.IPPROTO_TCP, "udp": unix.IPPROTO_UDP, "sctp": unix.IPPROTO_SCTP}[p.Proto]
	if !ok {
		return "", nil, nil, fmt.Errorf("unsupported protocol %q", p.Proto)
	}
	cip, err := netip.ParseAddr(p.ContainerIP)
	if err != nil || !cip.Is4() {
		return "", nil, nil, fmt.Errorf("invalid container address %q", p.ContainerIP)
	}
	c4 := cip.As4()
	val = append(append(c4[:0:0], c4[:]...), byte(p.ContainerPort>>8), byte(p.ContainerPort), 0, 0)
	k := []byte{proto, 0, 0, 0, byte(p.HostPort >> 8), byte(p.HostPort), 0, 0}
	if p.HostIP == "" || p.HostIP == "0.0.0.0" {
		return mapAnyPorts, k, val, nil
	}
	hip, err := netip.ParseAddr(p.HostIP)
	if err != nil || !hip.Is4() {
		return "", nil, nil, fmt.Errorf("invalid host address %q", p.HostIP)
	}
	h4 := hip.As4()
	return mapIPPorts, append(h4[:], k...), val, nil
}

// publishNft adds (or, with del, removes) the DNAT map elements of ports in one transaction.
func publishNft(ports []PublishedPort, del bool) error {
	var v4 []PublishedPort
	for _, p := range ports {
		if !p.IPv6 {
			v4 = append(v4, p)
		}
	}
	if len(v4) == 0 {
		return nil
	}
	if !del {
		if err := ensureTable(); err != nil {
			return err
		}
	}
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	t := nftTable()
	sets := map[string]*nftables.Set{mapAnyPorts: anyPortsSet(t), mapIPPorts: ipPortsSet(t)}
	elems := map[string][]nftables.SetElement{}
	for _, p := range v4 {
		name, k, v, err := portElem(p)
		if err != nil {
			return err
		}
		elems[name] = append(elems[name], nftables.SetElement{Key: k, Val: v})
	}
	for name, es := range elems {
		if del {
			for _, e := range es {
				// One element per message so a missing one does not keep the others.
				c.SetDeleteElements(sets[name], []nftables.SetElement{e})
				if err := c.Flush(); err != nil && !errors.Is(err, os.ErrNotExist) && !strings.Contains(err.Error(), "no such file") {
					return fmt.Errorf("nftables: unpublish port: %w", err)
				}
			}
			continue
		}
		if err := c.SetAddElements(sets[name], es); err != nil {
			return fmt.Errorf("nftables: publish ports: %w", err)
		}
	}
	if del {
		return nil
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables: publish ports: %w", err)
	}
	return nil
}

// ipsDstNAT is IPS_DST_NAT of the conntrack status bits.
const ipsDstNAT = 1 << 5

// deleteTable removes berth's table (nothing else) if it exists.
func deleteTable() {
	c, l, err := lockedNft()
	if err != nil {
		return
	}
	defer l.Release()
	if _, err := c.ListTableOfFamily(TableName, nftables.TableFamilyIPv4); err != nil {
		return
	}
	c.DelTable(nftTable())
	c.Flush()
}
