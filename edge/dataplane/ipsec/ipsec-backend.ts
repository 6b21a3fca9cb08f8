// Which IPsec backend the tunnel manager uses, decided once at daemon start:
//   kernel    kernel ESP (xfrm states and policies installed by charon's kernel-netlink), route-based through
//             one xfrm interface per tunnel (if_id). Kernels with xfrm_interface: the VM lab, real boxes.
//   libipsec  charon's userland ESP over a TUN device (kernel-libipsec), for kernels without ESP (this
//             machine kind's host kernel).
// `auto` asks the kernel: an xfrm interface that can be created (and is removed again at once) means the
// kernel has CONFIG_XFRM and xfrm interfaces; esp4 and the AEAD templates then arrive by module autoload when
// charon installs the first SA. The policy is the same either way (issue #5).
import { XfrmInterfaceError, type XfrmInterfacePort } from './xfrm-interface.js'

export const IPSEC_BACKENDS = ['kernel', 'libipsec'] as const
export type IpsecBackend = (typeof IPSEC_BACKENDS)[number]
export type IpsecBackendChoice = 'auto' | IpsecBackend

export interface BackendVerdict {
  readonly backend: IpsecBackend
  /** Why, for the log line and `sdwan-edge status`. */
  readonly reason: string
}

export function parseBackendChoice(text: string): IpsecBackendChoice {
  if (text === 'auto' || (IPSEC_BACKENDS as readonly string[]).includes(text)) return text as IpsecBackendChoice
  throw new RangeError(`the IPsec backend must be auto, kernel or libipsec (got '${text}')`)
}

/** The probe's device: our tunnel prefix, a name no tunnel can have (tunnel names are not allowed a '.'). */
export const PROBE_DEVICE = 'sw-.xfrm-probe'
/** An if_id for the probe only: the interface lives for two netlink round trips. */
export const PROBE_IF_ID = 0x5d7e0000

/** Why this kernel cannot run the kernel backend, or undefined when it can. */
export async function xfrmInterfaceMissing(port: XfrmInterfacePort): Promise<string | undefined> {
  try {
    await port.ensure({ name: PROBE_DEVICE, ifId: PROBE_IF_ID, mtu: 1400, addresses: [] })
  } catch (err) {
    if (err instanceof XfrmInterfaceError) return `the kernel cannot create an xfrm interface (${err.errno})`
    throw err
  } finally {
    await port.remove(PROBE_DEVICE)
  }
  return undefined
}

export async function chooseIpsecBackend(choice: IpsecBackendChoice, missing: () => Promise<string | undefined>): Promise<BackendVerdict> {
  if (choice !== 'auto') return { backend: choice, reason: `--ipsec-backend ${choice}` }
  const why = await missing()
  return why === undefined
    ? { backend: 'kernel', reason: 'auto: the kernel has xfrm interfaces' }
    : { backend: 'libipsec', reason: `auto: ${why}` }
}
