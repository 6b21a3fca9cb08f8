// The backend seam of the tunnel manager: the device class traffic enters, made and unmade at the points of
// a tunnel's life that IpsecTunnel drives, whichever backend does ESP (ipsec-backend.ts).
//   libipsec  the TUN exists only once charon has opened it: adopted after each charon start, its route
//             anchor removed when charon dies or the tunnel stops (tun-device.ts).
//   kernel    the xfrm interface exists before charon starts and across its restarts: with no SA for its
//             if_id it drops what is routed into it, so class traffic never leaves in the clear while charon
//             is down; it goes when the tunnel stops. gre-over-ipsec tunnels enter the reconciler's GRE link,
//             which is not ours to touch.
import { tunnelDevice } from '../layout.js'
import type { TunnelPlan } from './tunnel-plan.js'
import type { TunDevicePort } from './tun-device.js'
import type { XfrmInterfacePort } from './xfrm-interface.js'

export interface TunnelDevices {
  /** Before the tunnel's charon first starts. */
  prepare(plan: TunnelPlan): Promise<void>
  /** After each start of the tunnel's charon (pid), before its conn is loaded. */
  attach(plan: TunnelPlan, pid: number | undefined): Promise<void>
  /** The tunnel's charon died (it may be restarted). */
  charonGone(plan: TunnelPlan): Promise<void>
  /** The tunnel stops for good. */
  release(plan: TunnelPlan): Promise<void>
  /** Once, before the first tunnel starts: removes what a crashed daemon left, except devices in `keep`. */
  sweep(keep: ReadonlySet<string>): Promise<string[]>
  close(): void
}

export class TunDeviceMissingError extends Error {
  override readonly name = 'TunDeviceMissingError'
  constructor(
    readonly tunnel: string,
    readonly pid: number | undefined,
  ) {
    super(`tunnel "${tunnel}": charon (pid ${pid ?? '?'}) holds no TUN device; is the kernel-libipsec plugin loaded and /dev/net/tun usable?`)
  }
}

export class LibipsecDevices implements TunnelDevices {
  /** The name libipsec gave each tunnel's TUN (ipsecN), which its route anchor keeps. */
  private readonly tuns = new Map<string, string>()

  constructor(private readonly port: TunDevicePort) {}

  async prepare(): Promise<void> {}

  async attach(plan: TunnelPlan, pid: number | undefined): Promise<void> {
    const { device } = plan
    if (device.kind !== 'tun') throw new TypeError(`tunnel "${plan.instance.name}": the libipsec backend cannot make a ${device.kind} device`)
    // libipsec opens its TUN while plugins load, before the VICI socket answers, so it exists by now.
    const tun = pid === undefined ? undefined : (await this.port.tunsOf(pid))[0]
    if (!tun) throw new TunDeviceMissingError(plan.instance.name, pid)
    await this.port.adopt({ tun, name: device.name, mtu: device.mtu, addresses: device.addresses })
    this.tuns.set(plan.instance.name, tun)
  }

  async charonGone(plan: TunnelPlan): Promise<void> {
    const tun = this.tuns.get(plan.instance.name)
    if (tun) await this.port.removeAnchor(tun)
  }

  async release(plan: TunnelPlan): Promise<void> {
    await this.charonGone(plan)
    this.tuns.delete(plan.instance.name)
  }

  sweep(): Promise<string[]> {
    // Anchors of a crashed daemon keep their names taken; their charons (and TUNs) died with it.
    return this.port.sweepAnchors()
  }

  close(): void {
    this.port.close()
  }
}

export class XfrmDevices implements TunnelDevices {
  constructor(private readonly port: XfrmInterfacePort) {}

  async prepare(plan: TunnelPlan): Promise<void> {
    const { device } = plan
    if (device.kind === 'tun') throw new TypeError(`tunnel "${plan.instance.name}": the kernel backend has no TUN device to adopt`)
    if (device.kind === 'xfrm') await this.port.ensure(device)
  }

  async attach(): Promise<void> {}

  async charonGone(): Promise<void> {}

  async release(plan: TunnelPlan): Promise<void> {
    if (plan.device.kind === 'xfrm') await this.port.remove(plan.device.name)
  }

  /** xfrm interfaces with our tunnel prefix that no wanted tunnel will take over (ensure adopts those). */
  async sweep(keep: ReadonlySet<string>): Promise<string[]> {
    const prefix = tunnelDevice('')
    const left = (await this.port.list()).filter(x => x.name.startsWith(prefix) && !keep.has(x.name)).map(x => x.name)
    for (const name of left) await this.port.remove(name)
    return left
  }

  close(): void {
    this.port.close()
  }
}
