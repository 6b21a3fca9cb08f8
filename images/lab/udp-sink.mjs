// A UDP sink for traffic tests: prints one line per datagram, "<wall ms> <source address>:<port> <payload>".
import { createSocket } from 'node:dgram'

const [address, port] = process.argv.slice(2)
const sock = createSocket('udp4')
sock.on('message', (msg, rinfo) => process.stdout.write(`${Date.now()} ${rinfo.address}:${rinfo.port} ${msg.toString('utf8')}\n`))
sock.bind(Number(port), address, () => process.stdout.write(`listening ${address}:${port}\n`))
process.on('SIGTERM', () => process.exit(0))
