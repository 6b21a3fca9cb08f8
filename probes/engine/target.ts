// What the daemon asks the probe engine to measure: one STAMP session per path (uplink × reflector).
// A probe socket binds to the path's LOCAL SOURCE ADDRESS: Node's dgram has no SO_BINDTODEVICE, so the
// dataplane's source-address rules (`from <uplink addr> lookup <uplink table>`) are what send it out of
// its uplink whatever the main table says.
import { isIP } from 'node:net'

export interface ProbeTarget {
  readonly pathId: string
  readonly localAddress: string
  readonly remoteAddress: string
  readonly port: number
  readonly intervalMs: number
  readonly timeoutMs: number
  /** HMAC-SHA-256 key: authenticated mode (RFC 8762 §4.2.2). */
  readonly authKey?: Buffer | undefined
  /** Stop sending after this many probes (one-shot measurements); absent = probe until stopped. */
  readonly count?: number | undefined
  /** Runs of this many probes lost in a row are an outage, not loss (path-metrics.ts); absent = all count. */
  readonly outageMisses?: number | undefined
}

/** Throws a RangeError naming the target and field for the first thing wrong. */
export function validateTargets(targets: readonly ProbeTarget[]): void {
  const seen = new Set<string>()
  targets.forEach((t, i) => {
    const where = `probe target ${i}${t.pathId ? ` (${t.pathId})` : ''}`
    if (typeof t.pathId !== 'string' || t.pathId === '') throw new RangeError(`${where}: pathId must be a non-empty string`)
    if (seen.has(t.pathId)) throw new RangeError(`${where}: pathId '${t.pathId}' is used twice`)
    seen.add(t.pathId)
    const local = isIP(t.localAddress)
    const remote = isIP(t.remoteAddress)
    if (local === 0) throw new RangeError(`${where}: localAddress '${t.localAddress}' is not an IP address`)
    if (remote === 0) throw new RangeError(`${where}: remoteAddress '${t.remoteAddress}' is not an IP address`)
    if (local !== remote) throw new RangeError(`${where}: localAddress and remoteAddress are of different IP versions`)
    if (!Number.isInteger(t.port) || t.port < 1 || t.port > 65535) throw new RangeError(`${where}: port ${t.port} is not 1..65535`)
    if (!Number.isFinite(t.intervalMs) || t.intervalMs < 1) throw new RangeError(`${where}: intervalMs ${t.intervalMs} must be ≥ 1`)
    if (!Number.isFinite(t.timeoutMs) || t.timeoutMs <= 0) throw new RangeError(`${where}: timeoutMs ${t.timeoutMs} must be > 0`)
    if (t.count !== undefined && (!Number.isInteger(t.count) || t.count < 1)) throw new RangeError(`${where}: count ${t.count} must be a positive integer`)
    if (t.outageMisses !== undefined && (!Number.isInteger(t.outageMisses) || t.outageMisses < 1)) {
      throw new RangeError(`${where}: outageMisses ${t.outageMisses} must be a positive integer`)
    }
    if (t.authKey !== undefined && t.authKey.length === 0) throw new RangeError(`${where}: authKey is empty`)
  })
}

/** Two targets describe the same session (same socket, same packets). */
export function sameSession(a: ProbeTarget, b: ProbeTarget): boolean {
  return (
    a.localAddress === b.localAddress &&
    a.remoteAddress === b.remoteAddress &&
    a.port === b.port &&
    a.intervalMs === b.intervalMs &&
    a.timeoutMs === b.timeoutMs &&
    a.count === b.count &&
    a.outageMisses === b.outageMisses &&
    Buffer.compare(a.authKey ?? Buffer.alloc(0), b.authKey ?? Buffer.alloc(0)) === 0 &&
    (a.authKey === undefined) === (b.authKey === undefined)
  )
}
