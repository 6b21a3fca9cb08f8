// `sdwan-edge apply FILE --netns NAME` and `sdwan-edge stop --flush --netns NAME` end to end: the CLI
// re-executes itself inside the namespace, programs the policy, and removes exactly what it owns.
import t from 'tap'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { main } from '../../../edge/cli/main.js'
import { extraNetns, missingCapability, run, sh } from './helpers/netns.js'
import { THREE_UPLINKS_YAML } from './helpers/policy.js'

const missing = missingCapability()
if (missing) {
  if (process.env.CI === 'true') t.fail(`real-kernel test cannot run: ${missing}`)
  else t.plan(0, `skip: ${missing}`)
} else {
  const ns = extraNetns(t, `sdwt-cli-${process.pid}`)
  const lines = [
    ...['bb', 'lte', 'mpls'].map(p => `link add up-${p} type veth peer name far-${p}`),
    ...['up-bb', 'up-lte', 'up-mpls', 'far-bb', 'far-lte', 'far-mpls'].map(l => `link set ${l} up`),
    'addr add 192.0.2.2/24 dev up-bb',
    'addr add 2001:db8:b::2/64 dev up-bb nodad',
    'addr add 198.51.100.2/24 dev up-lte',
    'addr add 203.0.113.2/24 dev up-mpls',
    'rule add pref 9000 from 10.99.0.0/16 lookup 100',
  ]
  const r = run('ip', ['-n', ns, '-batch', '-'], lines.join('\n') + '\n')
  if (r.status !== 0) throw new Error(r.stderr)
  const dir = mkdtempSync(join(tmpdir(), 'sdwan-cli-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'site.yaml')
  writeFileSync(file, THREE_UPLINKS_YAML)
  const bad = join(dir, 'bad.yaml')
  writeFileSync(bad, THREE_UPLINKS_YAML.replace('version: 1', 'version: 2'))

  const cli = async (...argv: string[]): Promise<{ code: number; out: string; err: string }> => {
    let out = ''
    let err = ''
    const code = await main(argv, { stdout: s => void (out += s), stderr: s => void (err += s), cwd: dir, env: process.env, isTTY: false })
    return { code, out, err }
  }

  t.test('apply programs the policy; again changes nothing', async t => {
    const first = await cli('apply', '--netns', ns, 'site.yaml')
    t.equal(first.code, 0, first.err)
    t.match(first.out, /0 failed; now 20 rules, 16 routes, nft table loaded/)
    t.match(sh('ip', '-n', ns, 'rule'), /10002:\s+from all fwmark 0x10000\/0xf0000 lookup 1003 proto 201/)
    t.match(sh('ip', 'netns', 'exec', ns, 'nft', 'list', 'table', 'inet', 'sdwan'), /comment "sdwan-edge [0-9a-f]{32}"/)
    const again = await cli('apply', '--netns', ns, 'site.yaml')
    t.match(again.out, /: 0 operations, 0 failed/)
  })

  t.test('stop --flush removes what we own and nothing else', async t => {
    const stop = await cli('stop', '--flush', '--netns', ns)
    t.equal(stop.code, 0, stop.err)
    const rules = sh('ip', '-n', ns, 'rule')
    t.notMatch(rules, /proto 201|^100\d\d:/m, 'none of our rules')
    t.match(rules, /9000:\s+from 10\.99\.0\.0\/16 lookup 100/, 'the foreign rule stays')
    t.equal(sh('ip', '-n', ns, 'route', 'show', 'table', 'all', 'proto', '201'), '')
    t.not(run('ip', ['netns', 'exec', ns, 'nft', 'list', 'table', 'inet', 'sdwan']).status, 0, 'our nft table is gone')
  })

  t.test('bad input exits 2 with a located message', async t => {
    const invalid = await cli('apply', '--netns', ns, 'bad.yaml')
    t.equal(invalid.code, 2)
    t.match(invalid.err, /bad\.yaml:\d+:\d+: \/version/)
    t.equal((await cli('stop')).code, 2, 'stop without --flush is a usage error')
    t.equal((await cli('apply')).code, 2, 'apply without a file is a usage error')
  })
}
