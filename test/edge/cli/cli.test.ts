// The command-line surface: help on every command, strict options, exit statuses, and the validate and
// plan commands on the example and broken policies.
import { spawnSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { commands } from '../../../edge/cli/commands/index.js'
import { runCli } from '../../helpers/cli.js'

const root = join(import.meta.dirname, '../../..')
const examples = readdirSync(join(root, 'policies/examples')).filter(f => f.endsWith('.yaml')).map(f => `policies/examples/${f}`)

t.test('top-level help lists every command; no command is a usage error', async t => {
  const help = await runCli(['--help'], root)
  t.equal(help.code, 0)
  for (const c of commands) t.match(help.stdout, new RegExp(`^  ${c.name} `, 'm'), `lists ${c.name}`)
  const none = await runCli([], root)
  t.equal(none.code, 2)
  t.match(none.stderr, /^usage: sdwan-edge COMMAND/)
  const unknown = await runCli(['frobnicate'], root)
  t.equal(unknown.code, 2)
  t.match(unknown.stderr, /unknown command 'frobnicate'/)
})

t.test('every command answers --help with its usage and exit 0', async t => {
  for (const c of commands) {
    const r = await runCli([c.name, '--help'], root)
    t.equal(r.code, 0, `${c.name} --help exits 0`)
    t.match(r.stdout, new RegExp(`^usage: sdwan-edge ${c.name}`), `${c.name} --help starts with its usage line`)
  }
})

t.test('an unknown option is a usage error naming the option', async t => {
  const r = await runCli(['validate', '--frobnicate', 'x.yaml'], root)
  t.equal(r.code, 2)
  t.match(r.stderr, /sdwan-edge validate: Unknown option '--frobnicate'/)
  t.match(r.stderr, /usage: sdwan-edge validate/)
})

t.test('validate accepts every example policy', async t => {
  t.ok(examples.length >= 3, 'at least three example sites')
  const r = await runCli(['validate', ...examples], root)
  t.equal(r.code, 0, r.stderr)
  for (const f of examples) t.match(r.stdout, `${f}: ok`)
})

t.test('validate reports every problem of every bad file, located, and exits 2', async t => {
  const broken = 'test/fixtures/policies/broken/53-three-problems-at-once.yaml'
  const r = await runCli(['validate', examples[0]!, broken, 'no/such/policy.yaml'], root)
  t.equal(r.code, 2)
  t.match(r.stdout, `${examples[0]}: ok`)
  t.match(r.stderr, `${broken}:10:11: /uplinks/0/kind: must be one of 'broadband', 'lte', 'mpls' (got 'cable')`)
  t.match(r.stderr, `${broken}:22:10: /tunnels/0/hub: unknown hub 'dc9'`)
  t.match(r.stderr, `${broken}:33:13: /classes/1/paths/0: unknown path 'wifi'`)
  t.match(r.stderr, `${broken}: 3 problems`)
  t.match(r.stderr, 'no/such/policy.yaml:1:1: /: cannot read policy: no such file')
  const none = await runCli(['validate'], root)
  t.equal(none.code, 2)
  t.match(none.stderr, 'no policy file given')
})

t.test('plan prints the retail store as a network engineer reads it', async t => {
  const r = await runCli(['plan', 'policies/examples/retail-store.yaml'], root)
  t.equal(r.code, 0, r.stderr)
  t.match(r.stdout, /^Plan for site store-0042 \(device edge-0042-a\), policy serial 2026112301$/m)
  t.match(r.stdout, /^  pos +0x00010000 +dc1-bb +dc1-lte, dc1-mpls, then drop +rtt ≤ 150 ms, loss ≤ 1 %$/m)
  t.match(r.stdout, /^  voip +0x00020000 +lte +bb, then drop/m)
  t.match(r.stdout, /^  drop +drop +1015 +0x00f00000 +nowhere \(blackhole\): fail closed$/m)
  t.match(r.stdout, /^  sw-dc1-mpls +gre +172\.16\.42\.2 → 172\.16\.0\.10 /m)
  t.match(r.stdout, /-4 +priority 10000 from 198\.51\.100\.2\/32 lookup 1001 +# traffic from bb's address stays on bb/)
  t.match(r.stdout, /-4 +priority 10002 fwmark 0x00010000\/0x000f0000 lookup 1004 +# new pos flows take dc1-bb/)
  t.match(r.stdout, /-4 +default via 198\.51\.100\.1 dev eth1 table 1001 metric 100/)
  t.match(r.stdout, /^  table inet sdwan \{$/m)
})

t.test('plan of a hub policy shows its spoke tunnels, the sticky rules and the connmark table', async t => {
  const r = await runCli(['plan', 'policies/examples/hub-dc1.yaml'], root)
  t.equal(r.code, 0, r.stderr)
  t.match(r.stdout, /^Plan for hub hub-dc1-a \(IKE id hub\.dc1\.example\.net\), policy serial 2026112301$/m)
  t.match(r.stdout, /^  edge-0042-a\.dc1-lte +edge-0042-a\.lte +psk +swh2 +0x5e000002 +1400 /m)
  t.match(r.stdout, /-4 +priority 11000 fwmark 0x00000002\/0x00000fff lookup 2002 +# replies of connections that came in on edge-0042-a\.dc1-lte/)
  t.match(r.stdout, /-4 +priority 11001 from all lookup 2000 +# new connections from the data centre/, 'a rule without selector is from all')
  t.match(r.stdout, /-4 +10\.42\.0\.0\/24 dev swh1 table 2000 metric 0/)
  t.match(r.stdout, /^STAMP reflector on UDP 862 at 10\.255\.42\.1, 10\.255\.42\.5, 203\.0\.113\.10$/m)
  t.match(r.stdout, /^  table inet sdwan_hub \{$/m)
  const json = JSON.parse((await runCli(['plan', '--json', 'policies/examples/hub-dc1.yaml'], root)).stdout) as { interfaces: Array<{ name: string }> }
  t.same(json.interfaces.map(i => i.name), ['swh1', 'swh2'])
})

t.test('plan --json gives the reconciler input; plan of a bad policy exits 2', async t => {
  const r = await runCli(['plan', '--json', 'policies/examples/small-office-dual-broadband.yaml'], root)
  t.equal(r.code, 0, r.stderr)
  const parsed = JSON.parse(r.stdout) as { decisions: Array<{ class: string; active: unknown[] }>; desired: { paths: Array<{ name: string }>; nft: string } }
  t.same(parsed.desired.paths.map(p => p.name), ['fibre', 'cable', 'drop'])
  t.same(parsed.decisions.find(d => d.class === 'bulk')?.active, [{ path: 'fibre', weight: 3 }, { path: 'cable', weight: 1 }])
  t.match(parsed.desired.nft, 'numgen random mod 4')
  const bad = await runCli(['plan', 'test/fixtures/policies/broken/07-uplink-kind-not-allowed.yaml'], root)
  t.equal(bad.code, 2)
  t.match(bad.stderr, '07-uplink-kind-not-allowed.yaml:10:11: /uplinks/0/kind:')
  t.equal((await runCli(['plan', 'a.yaml', 'b.yaml'], root)).code, 2)
})

t.test('the installed executable runs from the source tree', async t => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'edge/cli/bin.ts', 'validate', '--quiet', ...examples], { cwd: root, encoding: 'utf8' })
  t.equal(r.status, 0, r.stderr)
  const bad = spawnSync(process.execPath, ['--import', 'tsx', 'edge/cli/bin.ts', 'validate', 'test/fixtures/policies/broken/05-wrong-version.yaml'], { cwd: root, encoding: 'utf8' })
  t.equal(bad.status, 2)
  t.match(bad.stderr, '05-wrong-version.yaml:1:10: /version: must be 1 (got 2)')
})
