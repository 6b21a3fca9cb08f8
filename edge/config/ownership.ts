// The kernel ranges the daemon owns and the ones it must never claim. The fwmark layout lives here
// because validation must prove the policy's classes and paths fit in the owned bits.
import type { MarkLayout } from '../dataplane/model.js'

/** Priorities of the kernel's own rules (`ip rule` shows them on every box). */
export const SYSTEM_RULE_PRIORITIES = [0, 32766, 32767] as const

/** Table ids the kernel reserves: unspec, default, main, local. */
export const RESERVED_TABLES = [0, 253, 254, 255] as const

/** Route protocol ids already given a meaning in iproute2's rt_protos (and by the routing daemons). */
export const RESERVED_ROUTE_PROTOCOLS: Readonly<Record<number, string>> = {
  8: 'gated',
  9: 'ra (IPv6 router advertisements)',
  10: 'mrt',
  11: 'zebra (FRR/Quagga)',
  12: 'bird',
  13: 'dnrouted',
  14: 'xorp',
  15: 'ntk',
  16: 'dhcp',
  17: 'mrouted',
  18: 'keepalived',
  42: 'babel',
  99: 'openr',
  186: 'bgp (FRR)',
  187: 'isis (FRR)',
  188: 'ospf (FRR)',
  189: 'rip (FRR)',
  192: 'eigrp (FRR)',
}

/**
 * Splits the owned mask into a class field (low half of its bits) and a path field (high half).
 * Returns undefined for a mask that is not one contiguous run of at least two bits.
 */
export function markLayout(mask: number): MarkLayout | undefined {
  if (!Number.isInteger(mask) || mask <= 0 || mask > 0xffffffff) return undefined
  const shift = Math.log2(mask & -mask)
  const width = Math.round(Math.log2(mask / 2 ** shift + 1))
  if (width < 2 || ((2 ** width - 1) * 2 ** shift) !== mask) return undefined
  const classBits = Math.floor(width / 2)
  const pathBits = width - classBits
  return {
    mask,
    classShift: shift,
    classMask: (2 ** classBits - 1) * 2 ** shift,
    pathShift: shift + classBits,
    pathMask: (2 ** pathBits - 1) * 2 ** (shift + classBits),
  }
}

/** Why the classes and paths cannot be numbered inside `mask`, or undefined when they fit. */
export function markLayoutProblem(mask: number, classes: number, paths: number): string | undefined {
  const layout = markLayout(mask)
  const hex = `0x${mask.toString(16).padStart(8, '0')}`
  if (!layout) return `mask ${hex} must be one contiguous run of at least 2 bits, e.g. 0x00ff0000`
  const classMax = layout.classMask / 2 ** layout.classShift
  const pathMax = layout.pathMask / 2 ** layout.pathShift
  if (classes > classMax) return `mask ${hex} numbers at most ${classMax} class${classMax === 1 ? '' : 'es'} in its low half; the policy has ${classes}: widen the mask`
  if (paths > pathMax) return `mask ${hex} numbers at most ${pathMax} path${pathMax === 1 ? '' : 's'} (uplinks + tunnels + drop) in its high half; the policy has ${paths}: widen the mask`
  return undefined
}
