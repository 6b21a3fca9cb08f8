// TunDevicePort over rtnetlink (the `netlink` package) in the namespace the daemon runs in, plus
// /proc/<pid>/fdinfo to learn which TUN a charon holds. Requests go through RtnlTransport, so each
// answer is an errno we can name.
import { readdir, readFile } from 'node:fs/promises'
import { AttrStream, createRtNetlink, rt, type RtNetlinkSocket } from 'netlink'
import { addressAddRequest, type Request } from '../rtnl/codec.js'
import { errnoName } from '../rtnl/errno.js'
import { RtnlTransport } from '../rtnl/transport.js'
import { ANCHOR_ALIAS, TunDeviceError, tunNamesFromFdinfo, type TunAdoption, type TunDevicePort } from './tun-device.js'
import { serialQueue } from '../../serial-queue.js'

// linux/if_link.h
const IFLA_INFO_KIND = 1
const NLM_F_CREATE = 0x400
const NLM_F_EXCL = 0x200

function linkRequest(type: number, flags: number, message: rt.LinkMessage): Request {
  const out = new AttrStream()
  rt.formatLinkMessage(message, out)
  return { type, flags, payload: out.bufs }
}

function bridgeInfo(): Buffer {
  const out = new AttrStream()
  out.push(IFLA_INFO_KIND, Buffer.from('bridge\0'))
  return Buffer.concat(out.bufs)
}

export class RtnlTunDevicePort implements TunDevicePort {
  private readonly transport: RtnlTransport
  /** One socket: a dump and another request in flight together fail (EBUSY, torn multipart replies). */
  private readonly serial = serialQueue()

  constructor(
    private readonly socket: RtNetlinkSocket = createRtNetlink(),
    private readonly proc = { readdir, readFile: (p: string) => readFile(p, 'utf8') },
  ) {
    this.transport = new RtnlTransport(socket.socket)
  }

  async tunsOf(pid: number): Promise<string[]> {
    const dir = `/proc/${pid}/fdinfo`
    const fds = await this.proc.readdir(dir)
    // An fd may close between listing and reading: such files are skipped, not errors.
    const texts = await Promise.all(fds.map(fd => this.proc.readFile(`${dir}/${fd}`).catch(() => '')))
    return tunNamesFromFdinfo(texts)
  }

  adopt(a: TunAdoption): Promise<void> {
    return this.serial(() => this.adoptNow(a))
  }

  removeAnchor(tun: string): Promise<void> {
    return this.serial(() => this.removeAnchorNow(tun))
  }

  sweepAnchors(): Promise<string[]> {
    return this.serial(async () => {
      const anchors = (await this.links()).filter(l => l.alias === ANCHOR_ALIAS)
      for (const a of anchors) await this.removeAnchorNow(a.name)
      return anchors.map(a => a.name)
    })
  }

  close(): void {
    this.socket.socket.close()
  }

  private async adoptNow(a: TunAdoption): Promise<void> {
    const links = await this.links()
    let link = links.find(l => l.name === a.tun && l.alias !== ANCHOR_ALIAS) ?? links.find(l => l.name === a.name)
    if (!link) throw new TunDeviceError(a.tun, 'find', 'ENODEV')
    const index = link.index
    // The kernel refuses to rename a running device (dev_change_name: EBUSY while IFF_UP).
    if (link.name !== a.name) {
      await this.run(a.tun, 'set down', linkRequest(rt.MessageType.SETLINK, 0, { kind: 'link', data: { index, flags: {}, change: { up: true } }, attrs: {} }))
      await this.run(a.tun, `rename to ${a.name}`, linkRequest(rt.MessageType.SETLINK, 0, { kind: 'link', data: { index }, attrs: { ifname: a.name } }))
    }
    await this.run(a.name, `set mtu ${a.mtu}`, linkRequest(rt.MessageType.SETLINK, 0, { kind: 'link', data: { index }, attrs: { mtu: a.mtu } }))
    for (const address of a.addresses) await this.run(a.name, `add address ${address}`, addressAddRequest(index, address), ['EEXIST'])
    await this.run(a.name, 'set up', linkRequest(rt.MessageType.SETLINK, 0, { kind: 'link', data: { index, flags: { up: true }, change: { up: true } }, attrs: {} }))
    if (a.tun !== a.name) await this.addAnchor(a.tun)
  }

  private async removeAnchorNow(tun: string): Promise<void> {
    const anchor = (await this.links()).find(l => l.name === tun && l.alias === ANCHOR_ALIAS)
    if (anchor) await this.run(tun, 'delete anchor', linkRequest(rt.MessageType.DELLINK, 0, { kind: 'link', data: { index: anchor.index }, attrs: {} }), ['ENODEV'])
  }

  /** An empty bridge is the anchor: creatable over rtnetlink on a minimal kernel (no dummy module here), and
   *  it can be up, which a route needs (fib_check_nh refuses devices that are down). */
  private async addAnchor(tun: string): Promise<void> {
    await this.run(tun, 'create anchor', linkRequest(rt.MessageType.NEWLINK, NLM_F_CREATE | NLM_F_EXCL, {
      kind: 'link',
      data: { family: 0, index: 0, flags: { up: true }, change: { up: true } },
      attrs: { ifname: tun, linkinfo: bridgeInfo() },
    }), ['EEXIST'])
    // The kernel ignores IFLA_IFALIAS when creating a link (only do_setlink applies it): set it after.
    const anchor = (await this.links()).find(l => l.name === tun)
    if (anchor) await this.run(tun, 'label anchor', linkRequest(rt.MessageType.SETLINK, 0, { kind: 'link', data: { index: anchor.index }, attrs: { ifalias: ANCHOR_ALIAS } }))
  }

  private async links(): Promise<Array<{ name: string; index: number; alias?: string }>> {
    const msgs = await this.socket.getLinks()
    return msgs.map(m => ({ name: m.attrs.ifname ?? '', index: m.data.index ?? 0, ...(m.attrs.ifalias !== undefined ? { alias: m.attrs.ifalias } : {}) }))
  }

  private async run(device: string, operation: string, request: Request, fine: readonly string[] = []): Promise<void> {
    const [errno = 0] = await this.transport.exchange([request])
    const name = errnoName(errno)
    if (errno !== 0 && !fine.includes(name)) throw new TunDeviceError(device, operation, name)
  }
}
