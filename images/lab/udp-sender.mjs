// A steady UDP flow for traffic tests: one datagram "<tag> <seq>" every interval from a fixed source
// port, so conntrack sees one flow for its whole life. Stops by itself after maxSeconds.
import { createSocket } from 'node:dgram'

const [dst, port, srcPort, intervalMs, tag, maxSeconds = '120'] = process.argv.slice(2)
const sock = createSocket('udp4')
let seq = 0
sock.bind(Number(srcPort), () => {
  const timer = setInterval(() => sock.send(`${tag} ${seq++}`, Number(port), dst, () => undefined), Number(intervalMs))
  setTimeout(() => {
    clearInterval(timer)
    sock.close()
  }, Number(maxSeconds) * 1000)
})
process.on('SIGTERM', () => process.exit(0))
