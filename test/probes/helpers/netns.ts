// Throwaway network namespaces for the real-socket probe tests and benchmarks. Names carry a prefix and
// the pid so parallel runs never collide, and `destroy()` removes everything (call it from t.teardown, it
// runs on failure too). Without the capability (not root, no netns) tests skip with a one-line reason,
// except under CI=true where nothing may skip.
import { execFileSync } from 'node:child_process'

export function netnsUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'needs root for network namespaces'
  const probe = `prcap${process.pid}`
  try {
    execFileSync('ip', ['netns', 'add', probe], { stdio: 'pipe' })
    execFileSync('ip', ['netns', 'del', probe], { stdio: 'pipe' })
    return null
  } catch (err) {
    return `cannot create a network namespace: ${String((err as { stderr?: Buffer }).stderr ?? err).trim()}`
  }
}

/** tap options for a namespace test: skip with the reason, or — under CI — run and fail loudly. */
export function netnsTestOptions(): { skip: string | false } {
  const reason = netnsUnavailable()
  if (reason && process.env.CI === 'true') throw new Error(`CI=true and a required capability is missing: ${reason}`)
  return { skip: reason ?? false }
}

export class NetnsLab {
  readonly #prefix: string
  readonly #made: string[] = []

  constructor(prefix: string) {
    this.#prefix = `${prefix}${process.pid}`
  }

  /** Creates namespace `<prefix><pid><suffix>` with loopback up; returns its name. */
  ns(suffix: string): string {
    const name = `${this.#prefix}${suffix}`
    execFileSync('ip', ['netns', 'add', name], { stdio: 'pipe' })
    this.#made.push(name)
    this.exec(name, 'ip', 'link', 'set', 'lo', 'up')
    return name
  }

  /** Runs a command inside `ns`, returning stdout; throws with stderr on failure. */
  exec(ns: string, ...argv: string[]): string {
    try {
      return execFileSync('ip', ['netns', 'exec', ns, ...argv], { stdio: 'pipe', encoding: 'utf8' })
    } catch (err) {
      const e = err as { stderr?: string; message: string }
      throw new Error(`in ${ns}: ${argv.join(' ')}: ${(e.stderr ?? e.message).trim()}`)
    }
  }

  /** A veth pair: `ifA` in `nsA`, `ifB` in `nsB`, both up, with the given CIDR addresses. */
  veth(nsA: string, ifA: string, addrA: string, nsB: string, ifB: string, addrB: string): void {
    execFileSync('ip', ['link', 'add', ifA, 'netns', nsA, 'type', 'veth', 'peer', 'name', ifB, 'netns', nsB], { stdio: 'pipe' })
    this.exec(nsA, 'ip', 'addr', 'add', addrA, 'dev', ifA)
    this.exec(nsB, 'ip', 'addr', 'add', addrB, 'dev', ifB)
    this.exec(nsA, 'ip', 'link', 'set', ifA, 'up')
    this.exec(nsB, 'ip', 'link', 'set', ifB, 'up')
  }

  /** Deletes every namespace this lab made (veths go with them). Safe to call twice. */
  destroy(): void {
    for (const name of this.#made.splice(0)) {
      try {
        execFileSync('ip', ['netns', 'del', name], { stdio: 'pipe' })
      } catch {
        // Already gone: nothing to clean.
      }
    }
  }
}
