package runtime

import (
	"encoding/binary"
	"maps"
	"slices"
	"time"
	"unsafe"

	"github.com/docker/docker/api/types/network"
)

// The ps index's binary encoding: unsigned and signed varints, strings as a length and bytes,
// maps as a count and sorted pairs, times as Unix seconds and nanoseconds.

type psEnc struct{ b []byte }

func (e *psEnc) uvarint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *psEnc) varint(v int64)   { e.b = binary.AppendVarint(e.b, v) }

func (e *psEnc) str(s string) {
	e.uvarint(uint64(len(s)))
	e.b = append(e.b, s...)
}

func (e *psEnc) bool(v bool) {
	if v {
		e.b = append(e.b, 1)
	} else {
		e.b = append(e.b, 0)
	}
}

func (e *psEnc) time(t time.Time) {
	e.varint(t.Unix())
	e.uvarint(uint64(t.Nanosecond()))
}

func (e *psEnc) key(k psFileKey) {
	e.uvarint(k.Ino)
	e.varint(k.Size)
	e.varint(k.Mtime)
	e.varint(k.Ctime)
}

func (e *psEnc) stringMap(m map[string]string) {
	keys := slices.Sorted(maps.Keys(m))
	e.uvarint(uint64(len(keys)))
	for _, k := range keys {
		e.str(k)
		e.str(m[k])
	}
}

func (e *psEnc) ports(m map[string][]PortBinding) {
	keys := slices.Sorted(maps.Keys(m))
	e.uvarint(uint64(len(keys)))
	for _, k := range keys {
		e.str(k)
		e.uvarint(uint64(len(m[k])))
		for _, b := range m[k] {
			e.str(b.HostIP)
			e.str(b.HostPort)
		}
	}
}

// networks writes n endpoints (name and network ID) given by each.
func (e *psEnc) networks(n int, each func(yield func(name, id string))) {
	type ep struct{ name, id string }
	l := make([]ep, 0, n)
	each(func(name, id string) { l = append(l, ep{name, id}) })
	slices.SortFunc(l, func(a, b ep) int {
		if a.name < b.name {
			return -1
		}
		if a.name > b.name {
			return 1
		}
		return 0
	})
	e.uvarint(uint64(len(l)))
	for _, x := range l {
		e.str(x.name)
		e.str(x.id)
	}
}

// psDec reads what psEnc wrote from s. Any overrun sets bad and returns zero values; the strings
// it returns are substrings of s.
type psDec struct {
	s   string
	i   int
	bad bool
}

func (d *psDec) uvarint() uint64 {
	var v uint64
	for shift := 0; shift < 64; shift += 7 {
		if d.i >= len(d.s) {
			d.bad = true
			return 0
		}
		b := d.s[d.i]
		d.i++
		v |= uint64(b&0x7f) << shift
		if b < 0x80 {
			return v
		}
	}
	d.bad = true
	return 0
}

func (d *psDec) varint() int64 {
	u := d.uvarint()
	v := int64(u >> 1)
	if u&1 != 0 {
		v = ^v
	}
	return v
}

// count reads a length that must fit in what is left (each item takes a byte at least).
func (d *psDec) count() int {
	n := d.uvarint()
	if n > uint64(len(d.s)-d.i) {
		d.bad = true
		return 0
	}
	return int(n)
}

func (d *psDec) raw(n int) string {
	if d.bad || n > len(d.s)-d.i {
		d.bad = true
		return ""
	}
	s := d.s[d.i : d.i+n]
	d.i += n
	return s
}

func (d *psDec) str() string { return d.raw(d.count()) }

func (d *psDec) bool() bool {
	if d.i >= len(d.s) {
		d.bad = true
		return false
	}
	b := d.s[d.i]
	d.i++
	return b != 0
}

func (d *psDec) time() time.Time {
	sec := d.varint()
	nsec := d.uvarint()
	if nsec >= 1e9 {
		d.bad = true
		return time.Time{}
	}
	return time.Unix(sec, int64(nsec)).UTC()
}

func (d *psDec) key() psFileKey {
	return psFileKey{Ino: d.uvarint(), Size: d.varint(), Mtime: d.varint(), Ctime: d.varint()}
}

func (d *psDec) stringMap() map[string]string {
	n := d.count()
	if n == 0 {
		return nil
	}
	m := make(map[string]string, n)
	for i := 0; i < n; i++ {
		k := d.str()
		m[k] = d.str()
	}
	return m
}

// networks reads endpoints written by psEnc.networks: each keeps only its NetworkID.
func (d *psDec) networks() map[string]*network.EndpointSettings {
	n := d.count()
	if n == 0 {
		return nil
	}
	m := make(map[string]*network.EndpointSettings, n)
	eps := make([]network.EndpointSettings, n)
	for i := range eps {
		name := d.str()
		eps[i].NetworkID = d.str()
		m[name] = &eps[i]
	}
	return m
}

// unsafeString is b as a string without a copy; b must never change afterwards.
func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

func (d *psDec) ports() map[string][]PortBinding {
	n := d.count()
	if n == 0 {
		return nil
	}
	m := make(map[string][]PortBinding, n)
	for i := 0; i < n; i++ {
		port := d.str()
		bs := make([]PortBinding, d.count())
		for j := range bs {
			bs[j] = PortBinding{HostIP: d.str(), HostPort: d.str()}
		}
		m[port] = bs
	}
	return m
}

// section writes what f encodes as one string.
func (e *psEnc) section(f func(e *psEnc)) {
	var s psEnc
	f(&s)
	e.uvarint(uint64(len(s.b)))
	e.b = append(e.b, s.b...)
}
