// Real UDP sockets for the prober: one per path, bound to the path's local source address on an
// ephemeral port, so source-address policy routing picks the uplink (see target.ts).
import { createSocket } from 'node:dgram'
import { isIPv6 } from 'node:net'
import type { ProbeSocket, ProberDeps } from './prober.js'
import { systemClock } from '../clock.js'

export function openUdpSocket(localAddress: string): Promise<ProbeSocket> {
  const socket = createSocket({ type: isIPv6(localAddress) ? 'udp6' : 'udp4' })
  return new Promise<ProbeSocket>((resolve, reject) => {
    socket.once('error', reject)
    socket.bind(0, localAddress, () => {
      socket.off('error', reject)
      // ICMP errors (port unreachable, net unreachable) surface as socket errors on Linux; they mean the
      // probe is lost, which the window already accounts for, so they must not tear the socket down.
      socket.on('error', () => undefined)
      resolve({
        send: (packet, port, address, done) => socket.send(packet, port, address, err => done(err ?? null)),
        onMessage: handler => socket.on('message', (payload, rinfo) => handler(payload, { address: rinfo.address, port: rinfo.port })),
        close: () => socket.close(),
      })
    })
  })
}

export function realProberDeps(): ProberDeps {
  return {
    clock: systemClock(),
    openSocket: openUdpSocket,
    timers: {
      setInterval: (fn, ms) => setInterval(fn, ms),
      clearInterval: handle => clearInterval(handle as ReturnType<typeof setInterval>),
    },
  }
}
