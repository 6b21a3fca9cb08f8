// Interoperability on real sockets between two network namespaces:
//  - our STAMP sender (`sdwan-edge probe`) against a TWAMP-Light reflector (RFC 5357 §4.2.1) that answers
//    with the shorter 41-octet packet and its own sequence numbers;
//  - a TWAMP-Light sender (RFC 5357 §4.1.2) against our reflector (`sdwan-edge reflect`): 14..40-octet
//    requests get no reply (a reply would be larger), ≥ 41-octet ones get a reply of their own size;
//  - authenticated STAMP (HMAC-SHA-256, RFC 8762 §4.4) between our two commands, and what a mismatch does.
// The TWAMP-Light peers are small independent fixtures written from RFC 5357's offsets (test/probes/
// fixtures), not our codecs: no third-party TWAMP/STAMP implementation is packaged for this machine.
import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { NetnsLab, netnsTestOptions } from './helpers/netns.js'
import { startReflectorProcess } from './helpers/reflector-process.js'

const repo = join(import.meta.dirname, '../..')
const bin = join(repo, 'edge/cli/bin.ts')
const fixtures = join(import.meta.dirname, 'fixtures')
const A = '10.30.0.1'
const B = '10.30.0.2'

function nodeIn(ns: string, script: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('ip', ['netns', 'exec', ns, process.execPath, '--import', 'tsx', script, ...args], { cwd: repo, encoding: 'utf8' })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}

t.test('STAMP ⇄ TWAMP-Light and authenticated STAMP between namespaces', netnsTestOptions(), async t => {
  const lab = new NetnsLab('prio')
  t.teardown(() => lab.destroy())
  const a = lab.ns('a')
  const b = lab.ns('b')
  lab.veth(a, 'va', `${A}/24`, b, 'vb', `${B}/24`)

  t.test('our sender → TWAMP-Light reflector (41-octet replies, own sequence numbers)', async t => {
    const child = spawn('ip', ['netns', 'exec', b, process.execPath, '--import', 'tsx', join(fixtures, 'twamp-light-reflector.ts'), B, '862', '61'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    t.teardown(() => {
      if (child.exitCode === null) child.kill('SIGTERM')
    })
    await once(child.stdout!, 'data')
    const r = nodeIn(a, bin, ['probe', B, '--uplink', 'va', '--count', '5', '--interval', '20', '--timeout', '10000', '--json'])
    t.equal(r.status, 0, r.stderr)
    const j = JSON.parse(r.stdout)
    t.equal(j.localAddress, A, '--uplink va sends from the interface address')
    t.match(j, { sent: 5, received: 5, lossPct: 0, late: 0 }, 'every probe answered and matched by the echoed sender sequence')
    t.ok(j.rtt.minMs > 0, 'RTT measured')
  })

  t.test('TWAMP-Light sender → our reflector: shorter packets', async t => {
    const reflector = await startReflectorProcess(['--address', B, '--port', '8620'], b)
    const r = nodeIn(a, join(fixtures, 'twamp-light-sender.ts'), [B, '8620', '14', '27', '40', '41', '44', '128'])
    t.equal(r.status, 0, r.stderr)
    const results = JSON.parse(r.stdout) as { length: number; replied: boolean; replyLength: number; [k: string]: unknown }[]
    for (const res of results.slice(0, 3)) t.match(res, { replied: false }, `${res.length}-octet request: no reply, it would be larger`)
    for (const res of results.slice(3)) {
      t.match(res, { replied: true, replyLength: res.length, senderTimestampEchoed: true, senderErrorEstimate: 0x8001, receiveTimestampSet: true }, `${res.length}-octet request: ${res.length}-octet reply with the sender fields echoed`)
      t.equal(res.senderSequence, res.sentSeq)
    }
    const out = await reflector.stop()
    t.match(out.stdout, /"would-amplify":3/, 'the reflector counted the three it could not answer')
  })

  t.test('authenticated STAMP, and mismatches', async t => {
    const dir = mkdtempSync(join(tmpdir(), 'prio-'))
    writeFileSync(join(dir, 'key'), 'c3'.repeat(32) + '\n')
    writeFileSync(join(dir, 'other'), 'd4'.repeat(32) + '\n')
    const reflector = await startReflectorProcess(['--address', B, '--port', '8621', '--auth-key-file', join(dir, 'key')], b)
    const ok = nodeIn(a, bin, ['probe', B, '--port', '8621', '--count', '4', '--interval', '20', '--timeout', '10000', '--auth-key-file', join(dir, 'key'), '--json'])
    t.equal(ok.status, 0, ok.stderr)
    t.match(JSON.parse(ok.stdout), { authenticated: true, sent: 4, received: 4 })
    const wrong = nodeIn(a, bin, ['probe', B, '--port', '8621', '--count', '2', '--interval', '20', '--timeout', '200', '--auth-key-file', join(dir, 'other'), '--json'])
    t.equal(wrong.status, 1)
    t.match(JSON.parse(wrong.stdout), { received: 0 })
    const plain = nodeIn(a, bin, ['probe', B, '--port', '8621', '--count', '2', '--interval', '20', '--timeout', '200', '--json'])
    t.equal(plain.status, 1, 'an unauthenticated probe gets nothing from an authenticated reflector')
    const out = await reflector.stop()
    t.match(out.stdout, /"replied":4,.*"too-short":2,.*"bad-hmac":2/)
  })
})
