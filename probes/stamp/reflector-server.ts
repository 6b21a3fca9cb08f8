// The Session-Reflector's socket shell: reads datagrams, asks the pure `reflect` for the reply, sends it
// back to the datagram's source. Counts every outcome so operators (and the fuzz tests) can see what was
// dropped and why. The socket is injected through `createSocket` so tests can use any dgram-like thing.
import { createSocket as createDgramSocket, type Socket } from 'node:dgram'
import { isIPv6 } from 'node:net'
import { monotonicMs, systemClock, type ProbeClock } from '../clock.js'
import { reflect, type DropReason, type ReflectorConfig } from './reflector.js'
import { SourceRateLimiter, DEFAULT_RATE_LIMIT, type RateLimit } from './rate-limit.js'
import { STAMP_PORT } from './packet.js'

export interface ReflectorServerOptions {
  readonly address?: string
  readonly port?: number
  readonly authKey?: Buffer | undefined
  readonly rateLimit?: RateLimit
  readonly senderTtl?: number
  readonly clock?: ProbeClock
  readonly createSocket?: (type: 'udp4' | 'udp6') => Socket
}

export type ReflectorCounters = { received: number; replied: number; sendErrors: number } & Record<DropReason, number>

export interface ReflectorServer {
  readonly address: string
  readonly port: number
  readonly counters: Readonly<ReflectorCounters>
  close(): Promise<void>
}

export async function startReflector(options: ReflectorServerOptions = {}): Promise<ReflectorServer> {
  const address = options.address ?? '0.0.0.0'
  const clock = options.clock ?? systemClock()
  const config: ReflectorConfig = { authKey: options.authKey, senderTtl: options.senderTtl ?? 255 }
  const limiter = new SourceRateLimiter(options.rateLimit ?? DEFAULT_RATE_LIMIT)
  const counters: ReflectorCounters = {
    received: 0, replied: 0, sendErrors: 0, 'too-short': 0, 'would-amplify': 0, 'rate-limited': 0, 'bad-hmac': 0,
  }
  const socket = (options.createSocket ?? (type => createDgramSocket({ type })))(isIPv6(address) ? 'udp6' : 'udp4')
  socket.on('message', (payload, rinfo) => {
    const receivedAt = clock.ntpNow()
    counters.received++
    const outcome = reflect({ payload, source: rinfo.address, receivedAt, nowMs: monotonicMs() }, config, limiter, clock.ntpNow)
    if (outcome.kind === 'drop') {
      counters[outcome.reason]++
      return
    }
    socket.send(outcome.reply, rinfo.port, rinfo.address, err => {
      if (err) counters.sendErrors++
      else counters.replied++
    })
  })
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject)
    socket.bind(options.port ?? STAMP_PORT, address, () => {
      socket.off('error', reject)
      resolve()
    })
  })
  // A send to an unreachable source can surface as an asynchronous socket error; it must not kill the
  // reflector (the reply is simply lost, as on the wire).
  socket.on('error', () => {
    counters.sendErrors++
  })
  const bound = socket.address()
  return {
    address: bound.address,
    port: bound.port,
    counters,
    close: () => new Promise<void>(resolve => socket.close(() => resolve())),
  }
}
