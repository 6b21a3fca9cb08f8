// The production ViciConnect: charon's vici plugin listens on a Unix stream socket
// (charon.plugins.vici.socket, default unix:///var/run/charon.vici).
import { createConnection } from 'node:net'
import type { Duplex } from 'node:stream'
import type { ViciConnect } from './session.js'

export function unixSocketConnect(path: string): ViciConnect {
  return () =>
    new Promise<Duplex>((resolve, reject) => {
      const socket = createConnection({ path })
      socket.once('connect', () => {
        socket.off('error', reject)
        resolve(socket)
      })
      socket.once('error', reject)
    })
}
