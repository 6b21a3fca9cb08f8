// The TUN device a kernel-libipsec charon creates, made into the tunnel's own device `sw-<tunnel>`.
//
// Why a rename and a route anchor (measured on strongSwan 5.9.8, kernel 6.18):
// - libipsec opens its TUN as "ipsec%d" (the kernel picks the first free number) and keeps reading and
//   writing the file descriptor, so a rename does not disturb the ESP path: traffic routed into the
//   renamed device is encrypted as before.
// - But libipsec installs a route for every outbound policy, naming the device it created
//   ("installing route: <remote ts> src <inner> dev ipsec0"), and kernel-netlink resolves that name from
//   its own interface cache, which follows the rename ("unable to get interface index for ipsec0").
//   A failed route install fails the CHILD_SA. An interface alias does not help (the cache knows only
//   primary names), so an inert "anchor" link takes the old name: libipsec's route lands on it, in a
//   table of the charon's own that only an impossible fwmark selects, and never carries a packet.
// Anchors carry an ifalias, so a restarted daemon finds and removes those a crashed one left behind.

/** The ifalias that marks a link as one of our route anchors. */
export const ANCHOR_ALIAS = 'sdwan-edge libipsec route anchor'

/** What the tunnel device must look like once adopted. */
export interface TunAdoption {
  /** The name libipsec gave it (ipsecN). */
  readonly tun: string
  /** Our name for it: layout.ts tunnelDevice(), which the path tables and nft rules use. */
  readonly name: string
  readonly mtu: number
  /** Inner addresses with prefix length; probes leave from them, and libipsec's route needs one local. */
  readonly addresses: readonly string[]
}

/** Side effects on the namespace the daemon runs in. */
export interface TunDevicePort {
  /** The TUN devices a process holds open, from /proc/<pid>/fdinfo (`iff:` lines, drivers/net/tun.c tun_chr_show_fdinfo). */
  tunsOf(pid: number): Promise<string[]>
  /** Down, rename, MTU, addresses, up; then an anchor link under the old name. Idempotent for a device already adopted. */
  adopt(a: TunAdoption): Promise<void>
  /** Removes the anchor named `tun` (our alias only); absent is fine. */
  removeAnchor(tun: string): Promise<void>
  /** Removes every anchor left in the namespace; returns their names. */
  sweepAnchors(): Promise<string[]>
  close(): void
}

/** The TUN names in the text of a process's fdinfo files. Pure. */
export function tunNamesFromFdinfo(fdinfos: readonly string[]): string[] {
  const names: string[] = []
  for (const text of fdinfos) {
    const m = /^iff:\s*(\S+)\s*$/m.exec(text)
    if (m) names.push(m[1]!)
  }
  return names
}

export class TunDeviceError extends Error {
  override readonly name = 'TunDeviceError'
  constructor(
    readonly device: string,
    readonly operation: string,
    readonly errno: string,
  ) {
    super(`tunnel device ${device}: ${operation} failed (${errno})`)
  }
}
