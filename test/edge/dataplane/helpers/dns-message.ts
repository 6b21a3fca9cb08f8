// Builds DNS responses (RFC 1035 wire format, with a compression pointer) and IPv4/UDP packets
// around them, for the snooping tests.
export interface Record_ {
  name: string
  type: 'A' | 'AAAA' | 'CNAME'
  ttl: number
  data: string
}

const encodeName = (name: string): Buffer =>
  Buffer.concat([...name.split('.').map(l => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'latin1')])), Buffer.from([0])])

function rdata(r: Record_): Buffer {
  if (r.type === 'A') return Buffer.from(r.data.split('.').map(Number))
  if (r.type === 'CNAME') return encodeName(r.data)
  const [head = '', tail = ''] = r.data.split('::')
  const h = head ? head.split(':') : []
  const t = tail ? tail.split(':') : []
  const groups = [...h, ...Array(8 - h.length - t.length).fill('0'), ...t]
  const b = Buffer.alloc(16)
  groups.forEach((g, i) => b.writeUInt16BE(parseInt(g, 16), i * 2))
  return b
}

/** A response to `question` (type A) with `answers`; the first answer's owner may point back at the question. */
export function dnsResponse(question: string, answers: Record_[], rcode = 0): Buffer {
  const header = Buffer.alloc(12)
  header.writeUInt16BE(0x1234, 0)
  header.writeUInt16BE(0x8180 | rcode, 2)
  header.writeUInt16BE(1, 4)
  header.writeUInt16BE(answers.length, 6)
  const q = Buffer.concat([encodeName(question), Buffer.from([0, 1, 0, 1])])
  const rrs = answers.map(r => {
    // An answer owned by the question name uses a compression pointer to offset 12.
    const owner = r.name === question ? Buffer.from([0xc0, 12]) : encodeName(r.name)
    const data = rdata(r)
    const fixed = Buffer.alloc(10)
    fixed.writeUInt16BE({ A: 1, CNAME: 5, AAAA: 28 }[r.type], 0)
    fixed.writeUInt16BE(1, 2)
    fixed.writeUInt32BE(r.ttl, 4)
    fixed.writeUInt16BE(data.length, 8)
    return Buffer.concat([owner, fixed, data])
  })
  return Buffer.concat([header, q, ...rrs])
}

/** An IPv4/UDP packet from port 53 carrying `payload` (checksums left zero: only parsed, never sent). */
export function udp4From53(payload: Buffer): Buffer {
  const ip = Buffer.alloc(20)
  ip[0] = 0x45
  ip.writeUInt16BE(28 + payload.length, 2)
  ip[8] = 64
  ip[9] = 17
  const udp = Buffer.alloc(8)
  udp.writeUInt16BE(53, 0)
  udp.writeUInt16BE(5353, 2)
  udp.writeUInt16BE(8 + payload.length, 4)
  return Buffer.concat([ip, udp, payload])
}
