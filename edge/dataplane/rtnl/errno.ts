// The one place where raw kernel errors become typed ones. rtnetlink answers every request with an
// NLMSG_ERROR carrying a negative errno (0 = ACK); we name it, say whether it means "already done",
// and wrap it with the operation and the object it was about.
import { getSystemErrorName } from 'node:util'
import { KernelError } from '../errors.js'
import type { KernelOp } from '../ops.js'
import { describeOp } from '../ops.js'

/** `-2` or `2` → 'ENOENT'; unknown numbers keep their digits. */
export function errnoName(errno: number): string {
  if (errno === 0) return 'OK'
  try {
    return getSystemErrorName(-Math.abs(errno))
  } catch {
    return `E${Math.abs(errno)}`
  }
}

/**
 * Idempotency: the object is already in the state the op wants.
 *  - add: EEXIST (fib_nl_newrule with NLM_F_EXCL finds an equal rule; fib_table_insert an equal route).
 *  - delete: ENOENT (rule_find/fib_table_delete found nothing; also a vanished link), ESRCH (IPv4
 *    route delete of a missing route in older kernels), ENODEV for a link that is already gone.
 */
export function alreadyDone(op: KernelOp, name: string): boolean {
  if (op.kind.startsWith('add-')) return name === 'EEXIST'
  if (op.kind.startsWith('del-')) return name === 'ENOENT' || name === 'ESRCH' || ((op.kind === 'del-gre' || op.kind === 'del-vxlan') && name === 'ENODEV')
  return false
}

const HINTS: Record<string, string> = {
  ENODEV: 'the device does not exist',
  ENETDOWN: 'the device is down',
  ENETUNREACH: 'the gateway is not reachable through the device',
  EINVAL: 'the kernel rejected the attributes',
  EPERM: 'needs CAP_NET_ADMIN',
  EAFNOSUPPORT: 'address family not supported (IPv6 disabled?)',
  EOPNOTSUPP: 'not supported by this kernel (module missing?)',
  // Node names errno 95 ENOTSUP (the same number as EOPNOTSUPP on Linux).
  ENOTSUP: 'not supported by this kernel (module missing?)',
}

/** A typed error for a failed op, or undefined when the errno means success. */
export function opError(op: KernelOp, errno: number): KernelError | undefined {
  if (errno === 0) return undefined
  const name = errnoName(errno)
  if (alreadyDone(op, name)) return undefined
  const [operation = op.kind, ...rest] = describeOp(op).split(' ')
  return new KernelError(name, operation, rest.join(' '), HINTS[name])
}

/** For failures before anything reached the kernel (unknown device name, socket error). */
export function localError(op: KernelOp, name: string, detail?: string): KernelError {
  const [operation = op.kind, ...rest] = describeOp(op).split(' ')
  return new KernelError(name, operation, rest.join(' '), detail ?? HINTS[name])
}

/** Errors of whole requests (dumps, socket failures), not of one op. */
export function requestError(operation: string, err: unknown): KernelError {
  const e = err as { code?: string; errno?: number; message?: string }
  const fromMessage = /Request rejected: (\w+)/.exec(e?.message ?? '')?.[1]
  const name = e?.code ?? fromMessage ?? (typeof e?.errno === 'number' ? errnoName(e.errno) : 'EIO')
  return new KernelError(name, operation, 'rtnetlink', e?.message)
}
