// Reverse-path filtering on the devices our paths use. Strict mode (rp_filter 1) drops a packet whose
// source the main table would not route back out of the device it came in on: the replies of a class
// steered onto a non-default uplink, and everything a hub sends back through a tunnel. The kernel uses
// the larger of conf/all and conf/<device> (IN_DEV_RPFILTER), so a device is loosened to 2 (loose: the
// source must be routable at all) only where that effective value is strict, and nothing else is touched.
// The admin's conf/all and every other device keep their setting.

/** /proc/sys access, injected: `read` gives undefined where the file does not exist (no such device). */
export interface SysctlFs {
  read(path: string): Promise<string | undefined>
  write(path: string, value: string): Promise<void>
}

const rpFilterPath = (device: string): string => `/proc/sys/net/ipv4/conf/${device}/rp_filter`

/** What the kernel applies: strict when either value is 1 and neither is 2 (max of the two). Pure. */
export function effectiveRpFilter(all: number, device: number): number {
  return Math.max(all, device)
}

/** Sets rp_filter 2 on each existing device whose effective mode is strict; returns those it changed. */
export async function loosenStrictRpFilter(devices: readonly string[], fs: SysctlFs): Promise<string[]> {
  const all = Number((await fs.read(rpFilterPath('all'))) ?? 0)
  const changed: string[] = []
  for (const device of new Set(devices)) {
    const current = await fs.read(rpFilterPath(device))
    if (current === undefined || effectiveRpFilter(all, Number(current)) !== 1) continue
    await fs.write(rpFilterPath(device), '2')
    changed.push(device)
  }
  return changed
}
