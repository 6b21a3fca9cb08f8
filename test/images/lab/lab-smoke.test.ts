// The README's main job, non-interactively: `npm run lab -- --smoke` builds the lab branch, checks each
// class's path (POS through IPsec to the data centre), blacks out broadband, checks POS moves to the
// tunnel over LTE, tears down, and says PASS.
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import t from 'tap'
import { parseConsoleLine } from '../../../images/lab/console.js'
import { hostLabSkip } from './helpers/lab-capabilities.js'
import { CHARON } from '../../edge/dataplane/ipsec/helpers/charon-pair.js'
import { missingCapability } from '../../edge/dataplane/ipsec/helpers/netns-pair.js'

const root = join(import.meta.dirname, '../../..')

// The lab's POS tunnels run real charons (kernel-libipsec over TUN).
const charonMissing = await missingCapability(CHARON)
const skip = hostLabSkip() || (charonMissing && process.env['CI'] !== 'true' ? `the lab's tunnels: ${charonMissing}` : false)

t.test('npm run lab -- --smoke passes and cleans up', { skip }, async t => {
  const prefix = `sm${process.pid % 100000}-`
  const r = spawnSync('npm', ['run', '--silent', 'lab', '--', '--smoke', '--prefix', prefix], { cwd: root, encoding: 'utf8', timeout: 240_000 })
  t.equal(r.status, 0, r.stdout + r.stderr)
  t.match(r.stdout, /^lab smoke: PASS \(7 checks\)$/m)
  for (const check of [
    'POS reaches the data centre through IPsec over broadband',
    'VoIP leaves by LTE',
    'guest leaves by broadband',
    'ERP reaches the data centre over MPLS',
    'broadband blackout moves POS to IPsec over LTE',
    "the re-steer reached the orchestrator's broker",
  ]) {
    t.match(r.stdout, new RegExp(`^ok   ${check}`, 'm'))
  }
  const left = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout
  t.notMatch(left, new RegExp(`^${prefix}`, 'm'), 'no lab namespace left behind')
})

t.test('the lab console understands its commands and explains mistakes', async t => {
  t.same(parseConsoleLine('impair bb blackout'), { kind: 'impair', provider: 'bb', impairment: { kind: 'blackout' } })
  t.same(parseConsoleLine('impair lte loss 20'), { kind: 'impair', provider: 'lte', impairment: { kind: 'loss', percent: 20 } })
  t.same(parseConsoleLine('impair mpls delay 80'), { kind: 'impair', provider: 'mpls', impairment: { kind: 'delay', rttMs: 80 } })
  t.same(parseConsoleLine('  restore   bb '), { kind: 'restore', provider: 'bb' })
  t.same(parseConsoleLine('quit'), { kind: 'quit' })
  t.same(parseConsoleLine(''), { kind: 'help' })
  t.match(parseConsoleLine('impair wifi blackout'), { kind: 'error', message: "provider must be one of bb, lte, mpls (got 'wifi')" })
  t.match(parseConsoleLine('impair bb loss 150'), { kind: 'error', message: 'loss takes a percentage above 0, at most 100 (e.g. 0.5)' })
  t.match(parseConsoleLine('impair bb loss 0.3'), { kind: 'impair', impairment: { kind: 'loss', percent: 0.3 } })
  t.match(parseConsoleLine('impair bb melt'), { kind: 'error', message: /impairment must be blackout, carrier-loss, loss, delay or jitter \(got 'melt'\)/ })
  t.match(parseConsoleLine('reboot'), { kind: 'error', message: "unknown command 'reboot'" })
})
