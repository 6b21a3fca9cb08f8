// Typed errors of the charon supervisor; each carries charon's last log lines, which say why it failed.

export class CharonExitedError extends Error {
  override readonly name = 'CharonExitedError'
  constructor(
    readonly instance: string,
    readonly code: number | null,
    readonly signal: string | null,
    readonly recentLog: readonly string[],
  ) {
    super(`charon "${instance}" exited (code ${code}, signal ${signal}) before answering on VICI; last log:\n${recentLog.slice(-10).join('\n')}`)
  }
}

export class CharonNotReadyError extends Error {
  override readonly name = 'CharonNotReadyError'
  constructor(
    readonly instance: string,
    readonly attempts: number,
    cause: Error | undefined,
    readonly recentLog: readonly string[],
  ) {
    super(`charon "${instance}" did not answer VICI version after ${attempts} tries (${cause?.message ?? 'no error'}); last log:\n${recentLog.slice(-10).join('\n')}`, { cause })
  }
}

export class CharonAlreadyRunningError extends Error {
  override readonly name = 'CharonAlreadyRunningError'
  constructor(
    readonly instance: string,
    readonly pid: number | undefined,
  ) {
    super(`charon "${instance}" is already supervised (pid ${pid ?? 'restarting'}); stop() it before start()`)
  }
}
