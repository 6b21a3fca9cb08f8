// `sdwan-edge reflect`: the hub role, a STAMP Session-Reflector (RFC 8762 §4.3, stateless) that also
// answers TWAMP-Light senders whose packets are ≥ 41 octets. Never sends a reply longer than the
// request, rate-limits per source address, and drops (and counts) anything malformed. Runs until
// SIGINT/SIGTERM, then prints what it did.
import { isIP } from 'node:net'
import { setPriority } from 'node:os'
import { UsageError, type CliIo, type Command, type ParsedArgs } from '../command.js'
import { integerOption } from './probe.js'
import { startReflector } from '../../../probes/stamp/reflector-server.js'
import { DEFAULT_RATE_LIMIT } from '../../../probes/stamp/rate-limit.js'
import { readAuthKeyFile } from '../../../probes/stamp/key-file.js'
import { STAMP_PORT } from '../../../probes/stamp/packet.js'

const REFLECTOR_NICENESS = -10

const HELP = `usage: sdwan-edge reflect [--port N] [--address ADDR] [--auth-key-file FILE] [--rate PPS] [--burst N]

Answers STAMP (RFC 8762) and TWAMP-Light test packets until SIGINT/SIGTERM.

options:
  --port N             UDP port (default ${STAMP_PORT})
  --address ADDR       local address to listen on (default 0.0.0.0; '::' for IPv6). On a host with
                       several addresses give the one the edges probe: on 0.0.0.0 a reply leaves
                       from the route's source address, and an edge ignores replies from any other
  --auth-key-file FILE authenticated mode only (HMAC-SHA-256); FILE holds the key as one line of hex
  --rate PPS           replies per second per source address (default ${DEFAULT_RATE_LIMIT.ratePerSecond})
  --burst N            replies a source may get at once above the rate (default ${DEFAULT_RATE_LIMIT.burst})
`

export const reflectCommand: Command = {
  name: 'reflect',
  summary: 'run a STAMP/TWAMP-Light reflector (the hub side of probing)',
  help: HELP,
  options: {
    port: { type: 'string' },
    address: { type: 'string' },
    'auth-key-file': { type: 'string' },
    rate: { type: 'string' },
    burst: { type: 'string' },
  },
  async run(args: ParsedArgs, io: CliIo): Promise<number> {
    const { values, positionals } = args
    if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`)
    const port = integerOption(values, 'port', STAMP_PORT, 1, 65535)
    const ratePerSecond = integerOption(values, 'rate', DEFAULT_RATE_LIMIT.ratePerSecond, 1, 1_000_000)
    const burst = integerOption(values, 'burst', DEFAULT_RATE_LIMIT.burst, 1, 1_000_000)
    const address = values.address === undefined ? '0.0.0.0' : String(values.address)
    if (isIP(address) === 0) throw new UsageError(`--address '${address}' is not an IP address`)
    let authKey: Buffer | undefined
    if (values['auth-key-file'] !== undefined) {
      try {
        authKey = await readAuthKeyFile(String(values['auth-key-file']))
      } catch (err) {
        throw new UsageError(`--auth-key-file ${(err as Error).message}`)
      }
    }
    let server
    try {
      server = await startReflector({ address, port, authKey, rateLimit: { ...DEFAULT_RATE_LIMIT, ratePerSecond, burst } })
    } catch (err) {
      io.stderr(`sdwan-edge reflect: cannot listen on ${address} port ${port}: ${(err as Error).message}\n`)
      return 1
    }
    // The reflector's wake-up delay before T2 is not in its hold time (T3 − T2), so it lands in the
    // sender's RTT; running ahead of bulk work keeps it small. Best effort (needs CAP_SYS_NICE).
    try {
      setPriority(0, REFLECTOR_NICENESS)
    } catch {
      // Not permitted: reflect at normal priority.
    }
    const mode = authKey ? 'authenticated (HMAC-SHA-256)' : 'unauthenticated'
    io.stdout(`reflecting STAMP on ${server.address} port ${server.port}, ${mode}, ${ratePerSecond}/s burst ${burst} per source\n`)
    await new Promise<void>(resolve => {
      const stop = (): void => {
        process.off('SIGINT', stop)
        process.off('SIGTERM', stop)
        resolve()
      }
      process.on('SIGINT', stop)
      process.on('SIGTERM', stop)
    })
    await server.close()
    io.stdout(`reflector stopped: ${JSON.stringify(server.counters)}\n`)
    return 0
  },
}
