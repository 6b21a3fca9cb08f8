// Typed errors of the dataplane. Kernel errno mapping itself lives in rtnl/errno.ts (the one place that
// reads raw netlink errors); everything above it sees only these classes.

/** The policy does not fit the kernel objects we own (too many classes for the mark bits, …). */
export class LayoutError extends Error {
  override readonly name = 'LayoutError'
}

/** An rtnetlink operation failed. `errno` is the symbolic name (ENODEV, ENETDOWN, …). */
export class KernelError extends Error {
  override readonly name = 'KernelError'
  constructor(
    readonly errno: string,
    readonly operation: string,
    readonly object: string,
    detail?: string,
  ) {
    super(`${operation} ${object}: ${errno}${detail ? ` (${detail})` : ''}`)
  }
}

/** `nft -f` refused our table or could not run. `stderr` is nft's own explanation. */
export class NftError extends Error {
  override readonly name = 'NftError'
  constructor(
    readonly operation: string,
    readonly stderr: string,
    readonly exitCode: number | null,
  ) {
    super(`nft ${operation} failed (exit ${exitCode ?? 'signal'}): ${stderr.trim()}`)
  }
}
