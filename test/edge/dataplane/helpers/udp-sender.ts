// A UDP sender run inside a LAN namespace, driven line by line on stdin so one flow (one socket, one
// 5-tuple, one conntrack entry) can keep sending across steering changes:
//   send SRC SPORT DST DPORT COUNT   →  prints "sent" once COUNT datagrams were handed to the kernel
import { createSocket, type Socket } from 'node:dgram'
import { createInterface } from 'node:readline'

const sockets = new Map<string, Socket>()

async function socketFor(src: string, sport: number): Promise<Socket> {
  const key = `${src}:${sport}`
  const have = sockets.get(key)
  if (have) return have
  const s = createSocket('udp4')
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject)
    s.bind({ address: src, port: sport }, () => resolve())
  })
  s.on('error', () => undefined)
  sockets.set(key, s)
  return s
}

for await (const line of createInterface({ input: process.stdin })) {
  const [verb, src = '', sport = '0', dst = '', dport = '0', count = '1'] = line.trim().split(/\s+/)
  if (verb !== 'send') continue
  const s = await socketFor(src, Number(sport))
  for (let i = 0; i < Number(count); i++)
    await new Promise<void>(resolve => s.send(Buffer.from(`probe ${i}`), Number(dport), dst, () => resolve()))
  process.stdout.write('sent\n')
}
for (const s of sockets.values()) s.close()
