// DNS answers (RFC 1035 §4.1) carried in an IP packet, reduced to what domain classification needs:
// the names asked and aliased, and the A/AAAA addresses with their TTLs. Pure; never throws on
// malformed input (a snooped packet is untrusted), it just yields nothing.
import { formatAddress } from '../../net/prefix.js'

export interface DnsAnswer {
  /** The question name and every owner name in the answer section (CNAME chains), lower-case. */
  names: string[]
  addresses: Array<{ family: 4 | 6; address: string; ttl: number }>
}

const TYPE_A = 1
const TYPE_CNAME = 5
const TYPE_AAAA = 28
const CLASS_IN = 1

/** The UDP payload of an IPv4 or IPv6 packet whose source port is 53, or undefined. */
export function dnsPayload(packet: Buffer): Buffer | undefined {
  if (packet.length < 1) return undefined
  const version = packet[0]! >> 4
  let offset: number
  let proto: number
  if (version === 4) {
    offset = (packet[0]! & 0x0f) * 4
    proto = packet[9] ?? 0
  } else if (version === 6) {
    offset = 40
    proto = packet[6] ?? 0 // no extension headers on the DNS replies we snoop
  } else return undefined
  if (proto !== 17 || packet.length < offset + 8) return undefined
  if (packet.readUInt16BE(offset) !== 53) return undefined
  return packet.subarray(offset + 8)
}

/** Reads a (possibly compressed, RFC 1035 §4.1.4) name at `at`; returns it and the offset after it. */
function readName(msg: Buffer, at: number): { name: string; next: number } | undefined {
  const labels: string[] = []
  let pos = at
  let next = -1
  for (let hops = 0; hops < 64; hops++) {
    if (pos >= msg.length) return undefined
    const len = msg[pos]!
    if (len === 0) {
      return { name: labels.join('.').toLowerCase(), next: next < 0 ? pos + 1 : next }
    }
    if ((len & 0xc0) === 0xc0) {
      if (pos + 1 >= msg.length) return undefined
      if (next < 0) next = pos + 2
      pos = ((len & 0x3f) << 8) | msg[pos + 1]!
      continue
    }
    if (pos + 1 + len > msg.length) return undefined
    labels.push(msg.toString('latin1', pos + 1, pos + 1 + len))
    pos += 1 + len
  }
  return undefined
}

export function parseDnsAnswer(msg: Buffer): DnsAnswer | undefined {
  if (msg.length < 12) return undefined
  const flags = msg.readUInt16BE(2)
  const isResponse = (flags & 0x8000) !== 0
  const rcode = flags & 0x000f
  if (!isResponse || rcode !== 0) return undefined
  const qd = msg.readUInt16BE(4)
  const an = msg.readUInt16BE(6)
  const names = new Set<string>()
  const addresses: DnsAnswer['addresses'] = []
  let pos = 12
  for (let i = 0; i < qd; i++) {
    const q = readName(msg, pos)
    if (!q || q.next + 4 > msg.length) return undefined
    names.add(q.name)
    pos = q.next + 4
  }
  for (let i = 0; i < an; i++) {
    const rr = readName(msg, pos)
    if (!rr || rr.next + 10 > msg.length) break
    const type = msg.readUInt16BE(rr.next)
    const cls = msg.readUInt16BE(rr.next + 2)
    const ttl = msg.readUInt32BE(rr.next + 4)
    const rdlen = msg.readUInt16BE(rr.next + 8)
    const rdata = rr.next + 10
    if (rdata + rdlen > msg.length) break
    pos = rdata + rdlen
    if (cls !== CLASS_IN) continue
    if (type === TYPE_CNAME) {
      names.add(rr.name)
      const target = readName(msg, rdata)
      if (target) names.add(target.name)
    } else if (type === TYPE_A && rdlen === 4) {
      names.add(rr.name)
      addresses.push({ family: 4, address: formatAddress(4, BigInt(msg.readUInt32BE(rdata))), ttl })
    } else if (type === TYPE_AAAA && rdlen === 16) {
      names.add(rr.name)
      const v = [...msg.subarray(rdata, rdata + 16)].reduce((acc, b) => (acc << 8n) | BigInt(b), 0n)
      addresses.push({ family: 6, address: formatAddress(6, v), ttl })
    }
  }
  return { names: [...names], addresses }
}
