// `sdwan-edge probe` and `sdwan-edge reflect` run in-process through the CLI's main(): ping-like and
// JSON output against a loopback reflector, authenticated mode with key files, and clear exit-2 errors.
import { mkdtempSync, writeFileSync } from 'node:fs'
import { networkInterfaces, tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { main } from '../../edge/cli/main.js'
import type { CliIo } from '../../edge/cli/command.js'
import { startReflector } from '../../probes/stamp/reflector-server.js'

async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = ''
  let err = ''
  const io: CliIo = { stdout: s => void (out += s), stderr: s => void (err += s), cwd: process.cwd(), env: {}, isTTY: false }
  const code = await main(argv, io)
  return { code, out, err }
}

const dir = mkdtempSync(join(tmpdir(), 'probe-cli-'))
const keyFile = join(dir, 'key')
writeFileSync(keyFile, 'a1'.repeat(32) + '\n')
const otherKeyFile = join(dir, 'other')
writeFileSync(otherKeyFile, 'b2'.repeat(16))
const badKeyFile = join(dir, 'bad')
writeFileSync(badKeyFile, 'not hex at all')

t.test('probe prints like ping', async t => {
  const server = await startReflector({ address: '127.0.0.1', port: 0 })
  t.teardown(() => server.close())
  const r = await cli(['probe', '127.0.0.1', '--port', String(server.port), '--count', '4', '--interval', '10', '--timeout', '10000'])
  t.equal(r.code, 0, r.err)
  t.match(r.out, /^STAMP 127\.0\.0\.1 port \d+ from 0\.0\.0\.0: 4 probes, interval 10 ms\n/)
  t.equal(r.out.match(/^44 bytes from 127\.0\.0\.1 port \d+: seq=\d rtt=\d+\.\d{3} ms$/gm)?.length, 4, 'one line per reply')
  t.match(r.out, /4 probes transmitted, 4 received, 0\.0% loss, 0 late, 0 duplicates, 0 reordered/)
  t.match(r.out, /rtt min\/avg\/max\/p50\/p95\/p99 = [\d.]+\/[\d.]+\/[\d.]+\/[\d.]+\/[\d.]+\/[\d.]+ ms/)
  t.match(r.out, /jitter [\d.]+ ms \(RFC 3550\), ipdv mean [\d.]+ ms max [\d.]+ ms, MOS \d\.\d\d/)
})

t.test('probe --json, authenticated, and a wrong key', async t => {
  const server = await startReflector({ address: '127.0.0.1', port: 0, authKey: Buffer.from('a1'.repeat(32), 'hex') })
  t.teardown(() => server.close())
  const port = String(server.port)
  const ok = await cli(['probe', '127.0.0.1', '--port', port, '--count', '3', '--interval', '10', '--timeout', '10000', '--auth-key-file', keyFile, '--json'])
  t.equal(ok.code, 0, ok.err)
  const j = JSON.parse(ok.out)
  t.match(j, { host: '127.0.0.1', authenticated: true, sent: 3, received: 3, lossPct: 0 })
  t.equal(j.replies.length, 3)
  t.type(j.rtt.p99Ms, 'number')
  const wrong = await cli(['probe', '127.0.0.1', '--port', port, '--count', '2', '--interval', '10', '--timeout', '100', '--auth-key-file', otherKeyFile, '--json'])
  t.equal(wrong.code, 1, 'no replies → exit 1')
  t.match(JSON.parse(wrong.out), { sent: 2, received: 0, lossPct: 100 })
  t.equal(server.counters['bad-hmac'], 2, 'the reflector refused both')
})

t.test('bad arguments exit 2 with a clear message', async t => {
  const cases: [string[], RegExp][] = [
    [['probe'], /missing HOST/],
    [['probe', 'a', 'b'], /expected one HOST, got 2/],
    [['probe', '127.0.0.1', '--count', '0'], /--count must be an integer from 1 to 1000000 \(got '0'\)/],
    [['probe', '127.0.0.1', '--port', '70000'], /--port must be an integer from 1 to 65535/],
    [['probe', '127.0.0.1', '--interval', '1.5'], /--interval must be an integer/],
    [['probe', '127.0.0.1', '--uplink', 'lo', '--source', '127.0.0.1'], /--uplink or --source, not both/],
    [['probe', '127.0.0.1', '--uplink', 'no-such-if0'], /--uplink: no interface named 'no-such-if0'/],
    [['probe', '127.0.0.1', '--source', '::1'], /--source '::1' is not an IPv4 address like HOST/],
    [['probe', '127.0.0.1', '--auth-key-file', badKeyFile], /expected one line of hex digits/],
    [['probe', '127.0.0.1', '--auth-key-file', join(dir, 'missing')], /cannot read the auth key file \(ENOENT\)/],
    [['reflect', 'extra'], /unexpected argument 'extra'/],
    [['reflect', '--address', 'nowhere'], /--address 'nowhere' is not an IP address/],
    [['reflect', '--rate=-1'], /--rate must be an integer from 1 to 1000000 \(got '-1'\)/],
    [['probe', '127.0.0.1', '--bogus'], /Unknown option '--bogus'/],
  ]
  for (const [argv, message] of cases) {
    const r = await cli(argv)
    t.equal(r.code, 2, `${argv.join(' ')} → exit 2`)
    t.match(r.err, message, `${argv.join(' ')}: ${r.err.split('\n')[0]}`)
  }
  writeFileSync(join(dir, 'tiny'), 'abcd')
  const tiny = await cli(['probe', '127.0.0.1', '--auth-key-file', join(dir, 'tiny')])
  t.match(tiny.err, /key is 2 octets; use at least 16/)
})

t.test('lost probes are reported as ping reports them', async t => {
  const server = await startReflector({ address: '127.0.0.1', port: 0, authKey: Buffer.alloc(16, 1) })
  t.teardown(() => server.close())
  const r = await cli(['probe', '127.0.0.1', '--port', String(server.port), '--count', '2', '--interval', '10', '--timeout', '50'])
  t.equal(r.code, 1)
  t.match(r.out, /^no reply for seq=0 within 50 ms$/m)
  t.match(r.out, /2 probes transmitted, 0 received, 100\.0% loss/)
})

// Under CI=true nothing may skip: without ::1 this then fails instead.
const noIpv6 = !networkInterfaces().lo?.some(a => a.address === '::1') && process.env.CI !== 'true'
t.test('IPv6', { skip: noIpv6 ? 'no ::1 on loopback' : false }, async t => {
  const server = await startReflector({ address: '::1', port: 0 })
  t.teardown(() => server.close())
  const r = await cli(['probe', '::1', '--port', String(server.port), '--count', '3', '--interval', '10', '--timeout', '10000', '--json'])
  t.equal(r.code, 0, r.err)
  t.match(JSON.parse(r.out), { host: '::1', localAddress: '::', received: 3 })
})

t.test('probe from an address this host does not have: exit 1 with the reason', async t => {
  const r = await cli(['probe', '127.0.0.1', '--source', '192.0.2.123', '--count', '1'])
  t.equal(r.code, 1)
  t.match(r.err, /sdwan-edge probe: path probe: .*EADDRNOTAVAIL/)
})

t.test('--help', async t => {
  for (const name of ['probe', 'reflect']) {
    const r = await cli([name, '--help'])
    t.equal(r.code, 0)
    t.match(r.out, new RegExp(`^usage: sdwan-edge ${name}`))
  }
})
