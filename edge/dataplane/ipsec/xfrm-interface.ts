// Route-based IPsec devices: xfrm interfaces (drivers: net/xfrm/xfrm_interface.c, kind "xfrm"), created,
// read back and removed over rtnetlink. A packet routed into one is encrypted by the SAs whose policies carry
// the interface's if_id, and only by those: with no such SA (the tunnel is down) xfrmi_xmit finds no xfrm
// bundle and drops the packet, so class traffic never leaves in the clear. Decrypted packets of SAs with that
// if_id arrive on the interface. The encoders and the decoder are pure; XfrmInterfaces is the thin shell.
import { createRtNetlink, type RtNetlinkSocket } from 'netlink'
import { addressAddRequest, addressText, attrsOf, linkDeleteRequest, NLM_F_CREATE, NLM_F_EXCL, type Request } from '../rtnl/codec.js'
import { errnoName } from '../rtnl/errno.js'
import { RtnlTransport } from '../rtnl/transport.js'
import { BodyWriter, nlattr } from '../rtnl/wire.js'
import { serialQueue } from '../../serial-queue.js'

// linux/rtnetlink.h message types, linux/if_link.h attributes.
const RTM_NEWLINK = 16
const RTM_SETLINK = 19
const IFLA_IFNAME = 3
const IFLA_MTU = 4
const IFLA_LINKINFO = 18
const IFLA_INFO_KIND = 1
const IFLA_INFO_DATA = 2
const IFLA_XFRM_LINK = 1
const IFLA_XFRM_IF_ID = 2
const IFF_UP = 0x1

export interface XfrmInterfaceSpec {
  /** The tunnel device name (layout.ts tunnelDevice). */
  readonly name: string
  /** Non-zero (xfrmi_newlink refuses 0) and unique in the namespace (a second one gets EEXIST). */
  readonly ifId: number
  readonly mtu: number
  /** Inner addresses with prefix length. */
  readonly addresses: readonly string[]
  /**
   * The underlay device whose ifindex goes in IFLA_XFRM_LINK: xfrmi_xmit uses it as the oif of the outer
   * route lookup, so ESP leaves by that device whatever the routing rules say. Absent: 0, no constraint.
   */
  readonly underlay?: string
}

/** An xfrm interface as the kernel reports it. */
export interface XfrmInterface {
  readonly name: string
  readonly index: number
  readonly ifId: number
  /** IFLA_XFRM_LINK: the underlay's ifindex, 0 for none. */
  readonly link: number
  readonly mtu: number
  readonly up: boolean
  readonly addresses: readonly string[]
}

export class XfrmInterfaceError extends Error {
  override readonly name = 'XfrmInterfaceError'
  constructor(
    readonly device: string,
    readonly operation: string,
    readonly errno: string,
  ) {
    super(`xfrm interface ${device}: ${operation} failed (${errno})`)
  }
}

const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4)
  b.writeUInt32LE(n >>> 0)
  return b
}
const cstr = (s: string): Buffer => Buffer.from(s + '\0')

/** struct ifinfomsg: family, pad, type (u16), index, flags, change. */
const ifinfo = (index: number, up?: boolean): BodyWriter =>
  new BodyWriter().u8s(0, 0, 0, 0).u32(index).u32(up ? IFF_UP : 0).u32(up === undefined ? 0 : IFF_UP)

/** RTM_NEWLINK for an xfrm interface, created up. Pure. */
export function xfrmCreateRequest(spec: Pick<XfrmInterfaceSpec, 'name' | 'ifId' | 'mtu'>, linkIndex = 0): Request {
  if (!Number.isInteger(spec.ifId) || spec.ifId < 1 || spec.ifId > 0xffffffff) {
    throw new RangeError(`xfrm interface ${spec.name}: if_id must be a whole number in 1..4294967295, not ${spec.ifId}`)
  }
  const data = Buffer.concat([nlattr(IFLA_XFRM_LINK, u32(linkIndex)), nlattr(IFLA_XFRM_IF_ID, u32(spec.ifId))])
  const linkinfo = Buffer.concat([nlattr(IFLA_INFO_KIND, cstr('xfrm')), nlattr(IFLA_INFO_DATA, data)])
  const body = ifinfo(0, true).attr(IFLA_IFNAME, cstr(spec.name)).attrU32(IFLA_MTU, spec.mtu).attr(IFLA_LINKINFO, linkinfo)
  return { type: RTM_NEWLINK, flags: NLM_F_CREATE | NLM_F_EXCL, payload: body.done() }
}

export function mtuRequest(index: number, mtu: number): Request {
  return { type: RTM_SETLINK, flags: 0, payload: ifinfo(index).attrU32(IFLA_MTU, mtu).done() }
}

export function upRequest(index: number): Request {
  return { type: RTM_SETLINK, flags: 0, payload: ifinfo(index, true).done() }
}

/** if_id and link of a dumped link's IFLA_LINKINFO, if it is an xfrm interface. Pure. */
export function decodeXfrmLinkInfo(linkinfo: Buffer | undefined): { ifId: number; link: number } | undefined {
  if (!linkinfo) return undefined
  const top = attrsOf(linkinfo)
  if (top.get(IFLA_INFO_KIND)?.toString('latin1').replace(/\0+$/, '') !== 'xfrm') return undefined
  const data = attrsOf(top.get(IFLA_INFO_DATA) ?? Buffer.alloc(0))
  const ifId = data.get(IFLA_XFRM_IF_ID)
  return { ifId: ifId && ifId.length >= 4 ? ifId.readUInt32LE(0) : 0, link: data.get(IFLA_XFRM_LINK)?.readUInt32LE(0) ?? 0 }
}

/** Side effects on the xfrm interfaces of one namespace. */
export interface XfrmInterfacePort {
  /** Creates the interface or brings an existing one to the spec (one with a different if_id or underlay is
   *  replaced; a link of another kind under the name is an error, not ours to delete); sets MTU, adds the
   *  addresses, sets it up. Idempotent. */
  ensure(spec: XfrmInterfaceSpec): Promise<void>
  /** Removes the xfrm interface of that name; absent is fine, a link of another kind is left alone. */
  remove(name: string): Promise<void>
  list(): Promise<XfrmInterface[]>
  close(): void
}

interface DumpedLink {
  readonly name: string
  readonly index: number
  readonly mtu: number
  readonly up: boolean
  readonly xfrm: { ifId: number; link: number } | undefined
}

export class XfrmInterfaces implements XfrmInterfacePort {
  private readonly transport: RtnlTransport
  /** One socket: a dump and another request in flight together fail (EBUSY, torn multipart replies). */
  private readonly serial = serialQueue()

  constructor(private readonly socket: RtNetlinkSocket = createRtNetlink()) {
    this.transport = new RtnlTransport(socket.socket)
  }

  ensure(spec: XfrmInterfaceSpec): Promise<void> {
    return this.serial(() => this.ensureNow(spec))
  }

  remove(name: string): Promise<void> {
    return this.serial(async () => {
      const link = (await this.links()).find(l => l.name === name)
      if (link?.xfrm) await this.run(name, 'delete', linkDeleteRequest(link.index), ['ENODEV'])
    })
  }

  list(): Promise<XfrmInterface[]> {
    return this.serial(async () => {
      const xfrm = (await this.links()).filter(l => l.xfrm)
      if (xfrm.length === 0) return []
      const addresses = await this.socket.getAddresses()
      return xfrm.map(l => ({
        name: l.name,
        index: l.index,
        ifId: l.xfrm!.ifId,
        link: l.xfrm!.link,
        mtu: l.mtu,
        up: l.up,
        addresses: addresses.flatMap(a => {
          const bytes = a.attrs.local ?? a.attrs.address
          return a.data.index === l.index && bytes ? [`${addressText(bytes)}/${a.data.prefixlen ?? 0}`] : []
        }),
      }))
    })
  }

  close(): void {
    this.socket.socket.close()
  }

  private async ensureNow(spec: XfrmInterfaceSpec): Promise<void> {
    let links = await this.links()
    let linkIndex = 0
    if (spec.underlay !== undefined) {
      const underlay = links.find(l => l.name === spec.underlay)
      if (!underlay) throw new XfrmInterfaceError(spec.name, `find underlay ${spec.underlay}`, 'ENODEV')
      linkIndex = underlay.index
    }
    const existing = links.find(l => l.name === spec.name)
    if (existing && !existing.xfrm) throw new XfrmInterfaceError(spec.name, 'create', 'EEXIST: a link of another kind has the name')
    if (existing && (existing.xfrm?.ifId !== spec.ifId || existing.xfrm.link !== linkIndex)) {
      await this.run(spec.name, 'delete to recreate', linkDeleteRequest(existing.index), ['ENODEV'])
    }
    if (!existing || existing.xfrm?.ifId !== spec.ifId || existing.xfrm.link !== linkIndex) {
      await this.run(spec.name, `create (if_id ${spec.ifId})`, xfrmCreateRequest(spec, linkIndex))
      links = await this.links()
    }
    const link = links.find(l => l.name === spec.name)
    if (!link) throw new XfrmInterfaceError(spec.name, 'find after create', 'ENODEV')
    if (link.mtu !== spec.mtu) await this.run(spec.name, `set mtu ${spec.mtu}`, mtuRequest(link.index, spec.mtu))
    for (const address of spec.addresses) await this.run(spec.name, `add address ${address}`, addressAddRequest(link.index, address), ['EEXIST'])
    if (!link.up) await this.run(spec.name, 'set up', upRequest(link.index))
  }

  private async links(): Promise<DumpedLink[]> {
    const msgs = await this.socket.getLinks()
    return msgs.map(m => ({
      name: m.attrs.ifname ?? '',
      index: m.data.index ?? 0,
      mtu: m.attrs.mtu ?? 0,
      up: !!m.data.flags?.up,
      xfrm: decodeXfrmLinkInfo(m.attrs.linkinfo),
    }))
  }

  private async run(device: string, operation: string, request: Request, fine: readonly string[] = []): Promise<void> {
    const [errno = 0] = await this.transport.exchange([request])
    const name = errnoName(errno)
    if (errno !== 0 && !fine.includes(name)) throw new XfrmInterfaceError(device, operation, name)
  }
}
