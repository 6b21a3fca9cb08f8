// Our model objects ⇄ rtnetlink messages. Pure (no socket): encoders return the message type, flags
// and payload; decoders turn dumped messages back into model objects, or undefined when not ours.
import { AttrStream, rt } from 'netlink'
import type { FibRule, Family, GreLink, Route, VxlanLink } from '../model.js'
import type { Ownership } from '../ports.js'
import { BodyWriter } from './wire.js'
import { formatAddress, parseAddress } from '../../net/prefix.js'

export interface Request {
  type: number
  flags: number
  /** The message body after nlmsghdr: one buffer, or the parts an AttrStream produced. */
  payload: Buffer | Uint8Array[]
}

const AF: Record<Family, number> = { 4: 2, 6: 10 }
const familyOf = (af: number | undefined): Family | undefined => (af === 2 ? 4 : af === 10 ? 6 : undefined)

// Netlink flags (linux/netlink.h).
export const NLM_F_REPLACE = 0x100
export const NLM_F_EXCL = 0x200
export const NLM_F_CREATE = 0x400
/** Tables above 255 travel in RTA_TABLE/FRA_TABLE; the u8 header field then says RT_TABLE_UNSPEC. */
const headerTable = (table: number): number => (table < 256 ? table : 0)

export function addressBytes(text: string): Buffer {
  const a = parseAddress(text)
  if (!a) throw new TypeError(`not an address: ${text}`)
  const len = a.family === 4 ? 4 : 16
  const out = Buffer.alloc(len)
  for (let i = 0; i < len; i++) out[i] = Number((a.value >> BigInt(8 * (len - 1 - i))) & 0xffn)
  return out
}

export function addressText(buf: Buffer): string {
  const value = [...buf].reduce((acc, b) => (acc << 8n) | BigInt(b), 0n)
  return formatAddress(buf.length === 4 ? 4 : 6, value)
}

function splitPrefix(prefix: string): { address: string; length: number } {
  const [address = '', len] = prefix.split('/')
  return { address, length: Number(len ?? (address.includes(':') ? 128 : 32)) }
}

function stream(fill: (out: AttrStream) => void): Buffer {
  const out = new AttrStream()
  fill(out)
  return Buffer.concat(out.bufs)
}

// fib_rules.h / rtnetlink.h attribute numbers used on the hot path.
const FRA = { SRC: 2, PRIORITY: 6, FWMARK: 10, TABLE: 15, FWMASK: 16, PROTOCOL: 21 } as const
const RTA = { DST: 1, OIF: 4, GATEWAY: 5, PRIORITY: 6, TABLE: 15 } as const
const FR_ACT_TO_TBL = 1
const RTN_UNICAST = 1
const RTN_BLACKHOLE = 6
const RT_SCOPE = { UNIVERSE: 0, LINK: 253, NOWHERE: 255 } as const

export function ruleRequest(r: FibRule, add: boolean, proto: number): Request {
  const src = r.src ? splitPrefix(r.src) : undefined
  // struct fib_rule_hdr: family, dst_len, src_len, tos, table, res1, res2, action; u32 flags.
  const w = new BodyWriter().u8s(AF[r.family], 0, src?.length ?? 0, 0, headerTable(r.table), 0, 0, FR_ACT_TO_TBL).u32(0)
  if (src) w.attr(FRA.SRC, addressBytes(src.address))
  w.attrU32(FRA.PRIORITY, r.priority)
  if (r.fwmark !== undefined) w.attrU32(FRA.FWMARK, r.fwmark)
  w.attrU32(FRA.TABLE, r.table)
  if (r.fwmask !== undefined) w.attrU32(FRA.FWMASK, r.fwmask)
  // FRA_PROTOCOL marks our rules for people reading `ip rule`; it is left out of deletes because
  // rule_find then requires it to match, and every rule in our priority range is ours to remove.
  if (add) w.attrU8(FRA.PROTOCOL, proto)
  return {
    type: add ? rt.MessageType.NEWRULE : rt.MessageType.DELRULE,
    // NLM_F_EXCL: without it fib_nl_newrule happily adds a second, identical rule.
    flags: add ? NLM_F_CREATE | NLM_F_EXCL : 0,
    payload: w.done(),
  }
}

export type RouteVerb = 'add' | 'replace' | 'delete'

export function routeRequest(r: Route, verb: RouteVerb, proto: number, ifindex: number | undefined): Request {
  const dst = splitPrefix(r.dst)
  const blackhole = r.type === 'blackhole'
  // A device route without a gateway is on-link (scope link); everything else is universe. On
  // delete, scope NOWHERE means "any scope" to fib_table_delete.
  const scope = verb === 'delete' ? RT_SCOPE.NOWHERE : !blackhole && !r.gateway ? RT_SCOPE.LINK : RT_SCOPE.UNIVERSE
  // struct rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type; u32 flags.
  const w = new BodyWriter().u8s(AF[r.family], dst.length, 0, 0, headerTable(r.table), proto, scope, blackhole ? RTN_BLACKHOLE : RTN_UNICAST).u32(0)
  w.attrU32(RTA.TABLE, r.table)
  if (dst.length > 0) w.attr(RTA.DST, addressBytes(dst.address))
  w.attrU32(RTA.PRIORITY, r.metric)
  if (verb !== 'delete' && !blackhole) {
    if (r.gateway) w.attr(RTA.GATEWAY, addressBytes(r.gateway))
    if (ifindex !== undefined) w.attrU32(RTA.OIF, ifindex)
  }
  return {
    type: verb === 'delete' ? rt.MessageType.DELROUTE : rt.MessageType.NEWROUTE,
    flags: verb === 'add' ? NLM_F_CREATE | NLM_F_EXCL : verb === 'replace' ? NLM_F_CREATE | NLM_F_REPLACE : 0,
    payload: w.done(),
  }
}

const inRange = (n: number, r: { from: number; to: number }): boolean => n >= r.from && n <= r.to

/** A dumped rule, if it sits in our priority range. */
export function decodeRule(m: rt.RuleMessage, own: Ownership): FibRule | undefined {
  const family = familyOf(m.data.family)
  const priority = m.attrs.priority ?? 0
  if (!family || !inRange(priority, own.rulePriorities)) return undefined
  const rule: FibRule = { family, priority, table: m.attrs.table ?? m.data.table ?? 0, comment: '' }
  if (m.attrs.src) rule.src = `${addressText(m.attrs.src)}/${m.data.srcLen ?? 0}`
  if (m.attrs.fwmark !== undefined) rule.fwmark = m.attrs.fwmark >>> 0
  if (m.attrs.fwmask !== undefined) rule.fwmask = m.attrs.fwmask >>> 0
  return rule
}

const numeric = <E extends Record<string, string | number>>(e: E, v: unknown): number | undefined =>
  typeof v === 'number' ? v : typeof v === 'string' ? (e[v] as number | undefined) : undefined

/** A dumped route, if it is in one of our tables with our protocol. */
export function decodeRoute(m: rt.RouteMessage, own: Ownership, linkName: (index: number) => string | undefined): Route | undefined {
  const family = familyOf(m.data.family)
  const table = m.attrs.table ?? m.data.table ?? 0
  if (!family || !inRange(table, own.tables)) return undefined
  if (numeric(rt.RouteProtocol, m.data.protocol) !== own.routeProtocol) return undefined
  const type = numeric(rt.RouteType, m.data.type)
  if (type !== rt.RouteType.UNICAST && type !== rt.RouteType.BLACKHOLE) return undefined
  const len = m.data.dstLen ?? 0
  const dst = m.attrs.dst ? `${addressText(m.attrs.dst)}/${len}` : family === 4 ? '0.0.0.0/0' : '::/0'
  const route: Route = { family, table, dst, type: type === rt.RouteType.BLACKHOLE ? 'blackhole' : 'unicast', metric: (m.attrs.priority ?? 0) >>> 0, comment: '' }
  if (route.type === 'unicast') {
    if (m.attrs.gateway) route.gateway = addressText(m.attrs.gateway)
    const dev = m.attrs.oif !== undefined ? linkName(m.attrs.oif) : undefined
    if (dev) route.device = dev
  }
  return route
}

// GRE links (linux/if_tunnel.h IFLA_GRE_*, linux/if_link.h IFLA_INFO_*). The netlink package types
// IFLA_GRE_LOCAL/REMOTE as u32, which cannot carry ip6gre's 16 bytes, so the nest is built here.
const IFLA_IFNAME = 3
const IFLA_MTU = 4
const IFLA_LINKINFO = 18
const IFLA_INFO_KIND = 1
const IFLA_INFO_DATA = 2
const IFLA_GRE = { IFLAGS: 2, OFLAGS: 3, IKEY: 4, OKEY: 5, LOCAL: 6, REMOTE: 7, TTL: 8 } as const
/** GRE_KEY flag, big-endian on the wire (__be16). */
const GRE_KEY = 0x2000

const u8 = (n: number): Buffer => Buffer.from([n])
const be16 = (n: number): Buffer => {
  const b = Buffer.alloc(2)
  b.writeUInt16BE(n)
  return b
}
const be32 = (n: number): Buffer => {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(n >>> 0)
  return b
}
const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4)
  b.writeUInt32LE(n >>> 0)
  return b
}
const cstr = (s: string): Buffer => Buffer.from(s + '\0')

export function greCreateRequest(l: GreLink): Request {
  const info = stream(o => {
    o.push(IFLA_GRE.LOCAL, addressBytes(l.local))
    o.push(IFLA_GRE.REMOTE, addressBytes(l.remote))
    o.push(IFLA_GRE.TTL, u8(l.ttl))
    if (l.key !== undefined) {
      o.push(IFLA_GRE.IFLAGS, be16(GRE_KEY))
      o.push(IFLA_GRE.OFLAGS, be16(GRE_KEY))
      o.push(IFLA_GRE.IKEY, be32(l.key))
      o.push(IFLA_GRE.OKEY, be32(l.key))
    }
  })
  const linkinfo = stream(o => {
    o.push(IFLA_INFO_KIND, cstr(l.kind))
    o.push(IFLA_INFO_DATA, info)
  })
  return newLinkRequest(l.name, l.mtu, linkinfo)
}

/** RTM_NEWLINK for a new device of ours, created up. */
function newLinkRequest(name: string, mtu: number, linkinfo: Buffer): Request {
  return {
    type: rt.MessageType.NEWLINK,
    flags: NLM_F_CREATE | NLM_F_EXCL,
    payload: stream(o => {
      o.emit(rt.formatLink({ family: 0, index: 0, flags: { up: true }, change: { up: true } }))
      o.push(IFLA_IFNAME, cstr(name))
      o.push(IFLA_MTU, u32(mtu))
      o.push(IFLA_LINKINFO, linkinfo)
    }),
  }
}

// VXLAN links (linux/if_link.h IFLA_VXLAN_*). A unicast remote travels in GROUP/GROUP6, as `ip link
// add … remote` sends it: vxlan_nl2conf takes it as the default destination whatever its kind.
const IFLA_VXLAN = { ID: 1, GROUP: 2, LOCAL: 4, TTL: 5, LEARNING: 7, PORT: 15, GROUP6: 16, LOCAL6: 17 } as const

export function vxlanCreateRequest(l: VxlanLink): Request {
  const v6 = l.remote.includes(':')
  const info = stream(o => {
    o.push(IFLA_VXLAN.ID, u32(l.vni))
    o.push(v6 ? IFLA_VXLAN.GROUP6 : IFLA_VXLAN.GROUP, addressBytes(l.remote))
    o.push(v6 ? IFLA_VXLAN.LOCAL6 : IFLA_VXLAN.LOCAL, addressBytes(l.local))
    o.push(IFLA_VXLAN.TTL, u8(l.ttl))
    // One peer, known in advance: learning source MACs would only let forged frames redirect traffic.
    o.push(IFLA_VXLAN.LEARNING, u8(0))
    o.push(IFLA_VXLAN.PORT, be16(l.port))
  })
  const linkinfo = stream(o => {
    o.push(IFLA_INFO_KIND, cstr('vxlan'))
    o.push(IFLA_INFO_DATA, info)
  })
  return newLinkRequest(l.name, l.mtu, linkinfo)
}

/** A dumped VXLAN link (IFLA_LINKINFO nest), if it is one with a unicast remote we could have made. */
export function decodeVxlan(name: string, mtu: number, linkinfo: Buffer | undefined, addresses: string[]): VxlanLink | undefined {
  if (!linkinfo) return undefined
  const top = attrsOf(linkinfo)
  if (top.get(IFLA_INFO_KIND)?.toString('latin1').replace(/\0+$/, '') !== 'vxlan') return undefined
  const data = attrsOf(top.get(IFLA_INFO_DATA) ?? Buffer.alloc(0))
  const vni = data.get(IFLA_VXLAN.ID)
  const remote = data.get(IFLA_VXLAN.GROUP) ?? data.get(IFLA_VXLAN.GROUP6)
  const local = data.get(IFLA_VXLAN.LOCAL) ?? data.get(IFLA_VXLAN.LOCAL6)
  const port = data.get(IFLA_VXLAN.PORT)
  if (!vni || !remote || !local || !port) return undefined
  return {
    name,
    vni: vni.readUInt32LE(0),
    local: addressText(local),
    remote: addressText(remote),
    port: port.readUInt16BE(0),
    ttl: data.get(IFLA_VXLAN.TTL)?.[0] ?? 0,
    mtu,
    innerAddresses: addresses,
  }
}

export function linkDeleteRequest(index: number): Request {
  return { type: rt.MessageType.DELLINK, flags: 0, payload: stream(o => o.emit(rt.formatLink({ family: 0, index }))) }
}

export function addressAddRequest(index: number, prefix: string): Request {
  const p = splitPrefix(prefix)
  const bytes = addressBytes(p.address)
  return {
    type: rt.MessageType.NEWADDR,
    flags: NLM_F_CREATE | NLM_F_EXCL,
    payload: stream(o => rt.formatAddressMessage({ kind: 'address', data: { family: bytes.length === 4 ? 2 : 10, prefixlen: p.length, index }, attrs: { local: bytes, address: bytes } }, o)),
  }
}

/** The kind and endpoints of a dumped GRE link (IFLA_LINKINFO nest), if it is one. */
export function decodeGre(name: string, mtu: number, linkinfo: Buffer | undefined, addresses: string[]): GreLink | undefined {
  if (!linkinfo) return undefined
  const top = attrsOf(linkinfo)
  const kind = top.get(IFLA_INFO_KIND)?.toString('latin1').replace(/\0+$/, '')
  if (kind !== 'gre' && kind !== 'ip6gre') return undefined
  const data = attrsOf(top.get(IFLA_INFO_DATA) ?? Buffer.alloc(0))
  const local = data.get(IFLA_GRE.LOCAL)
  const remote = data.get(IFLA_GRE.REMOTE)
  if (!local || !remote) return undefined
  const ikey = data.get(IFLA_GRE.IKEY)
  const iflags = data.get(IFLA_GRE.IFLAGS)
  const keyed = iflags !== undefined && (iflags.readUInt16BE(0) & GRE_KEY) !== 0
  return {
    kind,
    name,
    local: addressText(local),
    remote: addressText(remote),
    ...(keyed && ikey ? { key: ikey.readUInt32BE(0) } : {}),
    ttl: data.get(IFLA_GRE.TTL)?.[0] ?? 0,
    mtu,
    innerAddresses: addresses,
  }
}

/** A flat netlink attribute list: type → payload (the last one wins). */
export function attrsOf(buf: Buffer): Map<number, Buffer> {
  const out = new Map<number, Buffer>()
  for (let off = 0; off + 4 <= buf.length; ) {
    const len = buf.readUInt16LE(off)
    if (len < 4 || off + len > buf.length) break
    out.set(buf.readUInt16LE(off + 2) & 0x3fff, buf.subarray(off + 4, off + len))
    off += (len + 3) & ~3
  }
  return out
}
