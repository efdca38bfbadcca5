import ipaddr from 'ipaddr.js';

/**
 * Which resolved addresses a feed fetch may connect to. Only globally routable unicast
 * addresses by default: a feed URL (or any redirect) that resolves to loopback, link-local
 * (cloud metadata at 169.254.169.254), private, carrier-grade NAT, unspecified, multicast or
 * reserved space is refused — unless an administrator allows that range (政务外网 feeds live
 * on private ranges), e.g. `10.20.0.0/16`.
 */
export class AddressPolicy {
  private readonly allowed: [ipaddr.IPv4 | ipaddr.IPv6, number][];

  constructor(readonly allowCidrs: readonly string[] = []) {
    this.allowed = allowCidrs.map((cidr) => {
      const text = cidr.includes('/') ? cidr : `${cidr}/${ipaddr.parse(cidr).kind() === 'ipv4' ? 32 : 128}`;
      try {
        const [addr, bits] = ipaddr.parseCIDR(text.trim());
        return [normalise(addr), addr.kind() === 'ipv6' && normalise(addr).kind() === 'ipv4' ? Math.max(0, bits - 96) : bits];
      } catch {
        throw new Error(`not a CIDR range: ${JSON.stringify(cidr)}`);
      }
    });
  }

  /** Parse a comma- or space-separated list such as `127.0.0.1/32, 10.0.0.0/8`. */
  static fromList(list: string | undefined): AddressPolicy {
    return new AddressPolicy((list ?? '').split(/[\s,]+/).filter((s) => s !== ''));
  }

  /**
   * A range an administrator may allow one feed (政务外网): a CIDR or a single address,
   * normalised (`10.20.0.0/16`). Refuses text that is not a range and ranges so wide they would
   * switch the policy off (shorter than /8 for IPv4, /32 for IPv6).
   */
  static checkRange(cidr: string): string {
    const text = cidr.trim();
    let addr: ipaddr.IPv4 | ipaddr.IPv6;
    let bits: number;
    try {
      if (text.includes('/')) [addr, bits] = ipaddr.parseCIDR(text);
      else {
        addr = ipaddr.parse(text);
        bits = addr.kind() === 'ipv4' ? 32 : 128;
      }
    } catch {
      throw new Error(`not a CIDR range: ${JSON.stringify(cidr)}`);
    }
    const min = addr.kind() === 'ipv4' ? 8 : 32;
    if (bits < min) throw new Error(`${text} is too wide (at most /${min} for ${addr.kind()})`);
    const network =
      addr.kind() === 'ipv4'
        ? ipaddr.IPv4.networkAddressFromCIDR(`${addr}/${bits}`)
        : ipaddr.IPv6.networkAddressFromCIDR(`${addr}/${bits}`);
    return `${network.toString()}/${bits}`;
  }

  /** `null` when the address may be connected to, otherwise why not (e.g. `loopback`). */
  refusal(address: string): string | null {
    if (!ipaddr.isValid(address)) return 'not an IP address';
    const addr = normalise(ipaddr.parse(address));
    for (const [range, bits] of this.allowed) {
      if (range.kind() === addr.kind() && addr.match(range as never, bits)) return null;
    }
    const range = addr.range();
    return range === 'unicast' ? null : range;
  }
}

/** `::ffff:127.0.0.1` is 127.0.0.1: judge IPv4-mapped IPv6 addresses as the IPv4 they carry. */
function normalise(addr: ipaddr.IPv4 | ipaddr.IPv6): ipaddr.IPv4 | ipaddr.IPv6 {
  return addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress() ? (addr as ipaddr.IPv6).toIPv4Address() : addr;
}
