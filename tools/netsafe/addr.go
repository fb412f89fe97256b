package netsafe

import (
	"net/netip"
)

// Category names a class of addresses that the policy refuses by default.
type Category string

// Address categories. Public addresses have no category.
const (
	CatMetadata    Category = "cloud-metadata"
	CatLoopback    Category = "loopback"
	CatPrivate     Category = "private"
	CatLinkLocal   Category = "link-local"
	CatCGNAT       Category = "carrier-grade-nat"
	CatUniqueLocal Category = "unique-local"
	CatUnspecified Category = "unspecified"
	CatMulticast   Category = "multicast"
	CatReserved    Category = "reserved"
)

type catPrefix struct {
	p   netip.Prefix
	cat Category
}

// metadataAddrs are the instance-metadata endpoints of the large clouds
// (AWS IMDS and ECS/EKS agents, GCP, Azure, Alibaba, Oracle, AWS IPv6 IMDS).
var metadataAddrs = []netip.Addr{
	netip.MustParseAddr("169.254.169.254"),
	netip.MustParseAddr("169.254.170.2"),
	netip.MustParseAddr("169.254.170.23"),
	netip.MustParseAddr("100.100.100.200"),
	netip.MustParseAddr("192.0.0.192"),
	netip.MustParseAddr("fd00:ec2::254"),
	netip.MustParseAddr("fd00:ec2::23"),
}

// metadataNames are host names that reach a metadata service without DNS
// help from the outside world.
var metadataNames = []string{
	"metadata.google.internal",
	"metadata.goog",
	"metadata",
	"instance-data",
	"instance-data.ec2.internal",
	"metadata.azure.internal",
	"metadata.tencentyun.com",
}

// prefixes are checked in order; the first match gives the category.
var prefixes = []catPrefix{
	{netip.MustParsePrefix("127.0.0.0/8"), CatLoopback},
	{netip.MustParsePrefix("::1/128"), CatLoopback},
	{netip.MustParsePrefix("0.0.0.0/8"), CatUnspecified},
	{netip.MustParsePrefix("::/128"), CatUnspecified},
	{netip.MustParsePrefix("10.0.0.0/8"), CatPrivate},
	{netip.MustParsePrefix("172.16.0.0/12"), CatPrivate},
	{netip.MustParsePrefix("192.168.0.0/16"), CatPrivate},
	{netip.MustParsePrefix("169.254.0.0/16"), CatLinkLocal},
	{netip.MustParsePrefix("fe80::/10"), CatLinkLocal},
	{netip.MustParsePrefix("100.64.0.0/10"), CatCGNAT},
	{netip.MustParsePrefix("fc00::/7"), CatUniqueLocal},
	{netip.MustParsePrefix("fec0::/10"), CatUniqueLocal}, // deprecated site-local
	{netip.MustParsePrefix("224.0.0.0/4"), CatMulticast},
	{netip.MustParsePrefix("ff00::/8"), CatMulticast},
	{netip.MustParsePrefix("240.0.0.0/4"), CatReserved}, // includes 255.255.255.255
	{netip.MustParsePrefix("192.0.0.0/24"), CatReserved},
	{netip.MustParsePrefix("192.0.2.0/24"), CatReserved},
	{netip.MustParsePrefix("198.18.0.0/15"), CatReserved},
	{netip.MustParsePrefix("198.51.100.0/24"), CatReserved},
	{netip.MustParsePrefix("203.0.113.0/24"), CatReserved},
	{netip.MustParsePrefix("2001:db8::/32"), CatReserved},
	{netip.MustParsePrefix("100::/64"), CatReserved},
}

// Classify returns the category of a, or "" for a public address. IPv4
// addresses embedded in IPv6 (mapped, compatible, NAT64, 6to4, Teredo) are
// classified by the IPv4 address, so ::ffff:127.0.0.1 is loopback.
func Classify(a netip.Addr) Category {
	for _, e := range embedded(a) {
		if c := classifyOne(e); c != "" {
			return c
		}
	}
	return ""
}

func classifyOne(a netip.Addr) Category {
	for _, m := range metadataAddrs {
		if a == m {
			return CatMetadata
		}
	}
	for _, cp := range prefixes {
		if cp.p.Contains(a) {
			return cp.cat
		}
	}
	return ""
}

var (
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	nat64Loc  = netip.MustParsePrefix("64:ff9b:1::/48")
	sixToFour = netip.MustParsePrefix("2002::/16")
	teredo    = netip.MustParsePrefix("2001::/32")
)

// embedded returns a (without zone) followed by every IPv4 address an IPv6
// address carries in a well-known translation format.
func embedded(a netip.Addr) []netip.Addr {
	a = a.WithZone("")
	out := []netip.Addr{a}
	if !a.Is6() {
		return out
	}
	if a.Is4In6() {
		return append(out, a.Unmap())
	}
	b := a.As16()
	v4 := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{b[i], b[i+1], b[i+2], b[i+3]}) }
	zero96 := true
	for _, x := range b[:12] {
		if x != 0 {
			zero96 = false
			break
		}
	}
	switch {
	case zero96 && a != netip.IPv6Unspecified() && a != netip.IPv6Loopback():
		out = append(out, v4(12)) // deprecated IPv4-compatible ::a.b.c.d
	case nat64.Contains(a), nat64Loc.Contains(a):
		out = append(out, v4(12))
	case sixToFour.Contains(a):
		out = append(out, v4(2))
	case teredo.Contains(a):
		x := v4(12).As4()
		out = append(out, netip.AddrFrom4([4]byte{^x[0], ^x[1], ^x[2], ^x[3]}))
	}
	return out
}
