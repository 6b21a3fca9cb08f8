// `sdwan-edge probe HOST`: a one-shot STAMP measurement against any STAMP (or TWAMP-Light) reflector,
// printed the way ping prints, or as one JSON object with --json. Runs the same probe engine the
// daemon uses, with one target that stops after --count probes.
import { lookup } from 'node:dns/promises'
import { isIP } from 'node:net'
import { networkInterfaces } from 'node:os'
import { UsageError, type CliIo, type Command, type ParsedArgs } from '../command.js'
import { ProbeEngine } from '../../../probes/engine/engine.js'
import type { ProbeEvent } from '../../../probes/engine/events.js'
import type { PathMetrics } from '../../../probes/metrics/path-metrics.js'
import { readAuthKeyFile } from '../../../probes/stamp/key-file.js'
import { STAMP_PORT } from '../../../probes/stamp/packet.js'

const HELP = `usage: sdwan-edge probe HOST [--port N] [--count N] [--interval MS] [--timeout MS]
                        [--uplink NAME | --source ADDR] [--auth-key-file FILE] [--json]

Measures round-trip time, jitter and loss to a STAMP (RFC 8762) or TWAMP-Light reflector.

options:
  --port N             reflector UDP port (default ${STAMP_PORT})
  --count N            probes to send (default 10)
  --interval MS        time between probes (default 100)
  --timeout MS         a reply later than this counts as lost (default 1000)
  --uplink NAME        send from this interface's address (with per-uplink source routing, out of it)
  --source ADDR        send from this local address
  --auth-key-file FILE authenticated mode; FILE holds the shared key as one line of hex
  --json               print one JSON object instead of ping-like lines

exit status: 0 if any reply came back, 1 if none, 2 on bad arguments.
`

/** Parses an integer option within [min, max], or throws a UsageError naming the option. */
export function integerOption(values: ParsedArgs['values'], name: string, fallback: number, min: number, max: number): number {
  const raw = values[name]
  if (raw === undefined) return fallback
  const text = String(raw)
  const n = Number(text)
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`--${name} must be an integer from ${min} to ${max} (got '${text}')`)
  }
  return n
}

function uplinkAddress(name: string, family: 4 | 6): string {
  const ifaces = networkInterfaces()
  const addrs = ifaces[name]
  if (!addrs) throw new UsageError(`--uplink: no interface named '${name}' (have: ${Object.keys(ifaces).join(', ')})`)
  const addr = addrs.find(a => (family === 4 ? a.family === 'IPv4' : a.family === 'IPv6' && a.scopeid === 0))
  if (!addr) throw new UsageError(`--uplink: interface '${name}' has no IPv${family} address`)
  return addr.address
}

async function resolveHost(host: string): Promise<string> {
  if (isIP(host)) return host
  try {
    return (await lookup(host)).address
  } catch {
    throw new UsageError(`cannot resolve host '${host}'`)
  }
}

const fmt = (ms: number): string => ms.toFixed(3)

function summaryLines(host: string, port: number, auth: boolean, m: PathMetrics | undefined, count: number, elapsedMs: number): string {
  const sent = m?.totalSent ?? 0
  const lines = [
    `--- ${host} STAMP statistics (port ${port}, ${auth ? 'authenticated' : 'unauthenticated'}) ---`,
    `${sent} probes transmitted, ${m?.received ?? 0} received, ${(m?.lossPct ?? (sent ? 100 : 0)).toFixed(1)}% loss, ` +
      `${m?.late ?? 0} late, ${m?.duplicates ?? 0} duplicates, ${m?.reordered ?? 0} reordered, time ${Math.round(elapsedMs)} ms`,
  ]
  if (m?.rtt) {
    const r = m.rtt
    lines.push(`rtt min/avg/max/p50/p95/p99 = ${[r.minMs, r.avgMs, r.maxMs, r.p50Ms, r.p95Ms, r.p99Ms].map(fmt).join('/')} ms`)
    const ipdv = m.ipdv ? `ipdv mean ${fmt(m.ipdv.meanAbsMs)} ms max ${fmt(m.ipdv.maxAbsMs)} ms, ` : ''
    lines.push(`jitter ${fmt(m.jitterMs)} ms (RFC 3550), ${ipdv}MOS ${m.mos!.toFixed(2)} (G.107 E-model, G.711)`)
  }
  if (sent < count) lines.push(`(interrupted after ${sent} of ${count} probes)`)
  return lines.join('\n') + '\n'
}

function eventLine(e: ProbeEvent, host: string, port: number, timeoutMs: number): string | null {
  switch (e.kind) {
    case 'reply':
      return `${e.bytes} bytes from ${host} port ${port}: seq=${e.seq} rtt=${fmt(e.rttMs!)} ms`
    case 'late':
      return `${e.bytes} bytes from ${host} port ${port}: seq=${e.seq} rtt=${fmt(e.rttMs!)} ms (late, counted as lost)`
    case 'duplicate':
      return `${e.bytes} bytes from ${host} port ${port}: seq=${e.seq} rtt=${fmt(e.rttMs!)} ms (DUP!)`
    case 'lost':
      return `no reply for seq=${e.seq} within ${timeoutMs} ms`
    case 'send-error':
      return `seq=${e.seq}: send failed: ${e.detail}`
    case 'invalid':
      return `ignored a datagram: ${e.detail}`
  }
}

export const probeCommand: Command = {
  name: 'probe',
  summary: 'measure RTT, jitter and loss to a STAMP/TWAMP-Light reflector, like ping',
  help: HELP,
  options: {
    port: { type: 'string' },
    count: { type: 'string' },
    interval: { type: 'string' },
    timeout: { type: 'string' },
    uplink: { type: 'string' },
    source: { type: 'string' },
    'auth-key-file': { type: 'string' },
    json: { type: 'boolean' },
  },
  async run(args: ParsedArgs, io: CliIo): Promise<number> {
    const { values, positionals } = args
    if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? 'missing HOST' : `expected one HOST, got ${positionals.length}`)
    const port = integerOption(values, 'port', STAMP_PORT, 1, 65535)
    const count = integerOption(values, 'count', 10, 1, 1_000_000)
    const intervalMs = integerOption(values, 'interval', 100, 1, 3_600_000)
    const timeoutMs = integerOption(values, 'timeout', 1000, 1, 3_600_000)
    if (values.uplink !== undefined && values.source !== undefined) throw new UsageError('use --uplink or --source, not both')
    const host = await resolveHost(positionals[0]!)
    const family = isIP(host) === 6 ? 6 : 4
    let localAddress = family === 4 ? '0.0.0.0' : '::'
    if (values.uplink !== undefined) localAddress = uplinkAddress(String(values.uplink), family)
    if (values.source !== undefined) {
      localAddress = String(values.source)
      if (isIP(localAddress) !== family) throw new UsageError(`--source '${localAddress}' is not an IPv${family} address like HOST`)
    }
    let authKey: Buffer | undefined
    if (values['auth-key-file'] !== undefined) {
      try {
        authKey = await readAuthKeyFile(String(values['auth-key-file']))
      } catch (err) {
        throw new UsageError(`--auth-key-file ${(err as Error).message}`)
      }
    }
    const json = values.json === true
    const started = Date.now()
    const engine = ProbeEngine.start(
      [{ pathId: 'probe', localAddress, remoteAddress: host, port, intervalMs, timeoutMs, authKey, count }],
      // The engine hands over what the I/O thread saw once per snapshot interval: 100 ms keeps the ping-like
      // lines prompt without waking this thread per probe (timestamps are the I/O thread's either way).
      { windowSize: count, snapshotIntervalMs: 100 },
    )
    if (!json) io.stdout(`STAMP ${host} port ${port} from ${localAddress}: ${count} probes, interval ${intervalMs} ms\n`)
    const settled = new Set<number>()
    const replies: { seq: number; rttMs: number }[] = []
    let failure: Error | null = null
    let onSignal: () => void = () => undefined
    await new Promise<void>(resolve => {
      // Ctrl-C ends the run early with the summary, as ping does.
      onSignal = resolve
      process.once('SIGINT', onSignal)
      engine.on('error', err => {
        failure = err
        resolve()
      })
      engine.on('probe', e => {
        if (!json) {
          const line = eventLine(e, host, port, timeoutMs)
          if (line) io.stdout(line + '\n')
        }
        if (e.kind === 'reply') replies.push({ seq: e.seq!, rttMs: e.rttMs! })
        if ((e.kind === 'reply' || e.kind === 'lost') && e.seq !== null) settled.add(e.seq)
        if (settled.size >= count) resolve()
      })
    })
    process.off('SIGINT', onSignal)
    await engine.stop()
    if (failure !== null) {
      io.stderr(`sdwan-edge probe: ${(failure as Error).message}\n`)
      return 1
    }
    const m = engine.latest('probe')
    const elapsedMs = Date.now() - started
    if (json) {
      io.stdout(
        JSON.stringify({
          host, port, localAddress, authenticated: authKey !== undefined, count, intervalMs, timeoutMs,
          sent: m?.totalSent ?? 0, received: m?.received ?? 0, lossPct: m?.lossPct ?? 100, late: m?.late ?? 0,
          duplicates: m?.duplicates ?? 0, reordered: m?.reordered ?? 0, rtt: m?.rtt ?? null, jitterMs: m?.jitterMs ?? null,
          ipdv: m?.ipdv ?? null, mos: m?.mos ?? null, replies,
        }) + '\n',
      )
    } else {
      io.stdout(summaryLines(host, port, authKey !== undefined, m, count, elapsedMs))
    }
    return (m?.received ?? 0) > 0 ? 0 : 1
  },
}
