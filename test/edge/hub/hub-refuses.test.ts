// On a kernel without kernel ESP and xfrm interfaces (this machine kind's host kernel) the hub mode
// refuses to start, says which kernel features it lacks, exits 1 and leaves nothing behind: no
// interfaces, rules, routes, nft table or charon. Run for real: `sdwan-edge run` in a throwaway namespace.
import { execFile, spawn } from 'node:child_process'
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { hostLabSkip } from '../../images/lab/helpers/lab-capabilities.js'

const run = promisify(execFile)
const root = join(import.meta.dirname, '../../..')

function runCli(ns: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise(resolve => {
    const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '--import', 'tsx', join(root, 'edge/cli/bin.ts'), ...args], { cwd: root })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', c => (stdout += c))
    child.stderr.on('data', c => (stderr += c))
    child.on('exit', code => resolve({ code, stdout, stderr }))
  })
}

t.test('the hub refuses to start without kernel ESP and names what is missing', { skip: hostLabSkip() }, async t => {
  const ns = `swhr${process.pid}`
  const dir = await mkdtemp(join(tmpdir(), 'hub-refuses-'))
  await run('ip', ['netns', 'add', ns])
  t.teardown(async () => {
    await run('ip', ['netns', 'del', ns])
    await rm(dir, { recursive: true, force: true })
  })
  await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up'])
  await writeFile(join(dir, 'psk'), 'not-a-real-secret\n')
  const policy = join(dir, 'hub.yaml')
  await writeFile(
    policy,
    `version: 1
serial: 1
device: { id: hub-t, role: hub }
ikeId: hub.test
underlay: { addresses: [192.0.2.1] }
dcPrefixes: [10.20.0.0/16]
spokes:
  - device: edge-t
    tunnels:
      - { name: bb, id: 1, ikeId: edge-t.bb, auth: { pskFile: ${join(dir, 'psk')} }, inner: { local: 10.255.0.1/30, remote: 10.255.0.2 }, lanPrefixes: [10.42.0.0/24] }
`,
  )
  const xfrm = await run('ip', ['-n', ns, 'link', 'add', 'swhprobe', 'type', 'xfrm', 'if_id', '9']).then(
    () => true,
    () => false,
  )
  const { release } = await run('uname', ['-r']).then(r => ({ release: r.stdout.trim() }))
  const r = await runCli(ns, ['run', '--policy', policy, '--socket', join(dir, 'hub.sock'), '--state-dir', join(dir, 'state')])
  if (xfrm) {
    // A kernel with xfrm interfaces (the VM lab's) is not refused; test/images/lab/vm/hub.test.ts runs the hub there.
    t.notMatch(r.stderr, /cannot start the hub/, `kernel ${release} has xfrm interfaces: not refused for the kernel`)
    return
  }
  t.equal(r.code, 1, 'exit status 1: could not start')
  t.match(r.stderr, /^sdwan-edge run: cannot start the hub: the hub mode needs kernel ESP with xfrm interfaces \(CONFIG_XFRM_INTERFACE and CONFIG_INET_ESP; modules xfrm_interface and esp4\): the kernel cannot create an xfrm interface \((EOPNOTSUPP|ENOTSUP)\); the kernel has no ESP transform \(adding an ESP SA: EPROTONOSUPPORT\)\./m, `kernel ${release}: the missing features, named`)
  t.equal(r.stderr.trim().split('\n').length, 1, 'one line')
  const { stdout: links } = await run('ip', ['-n', ns, '-o', 'link'])
  t.same(links.trim().split('\n').map(l => l.split(': ')[1]), ['lo'], 'no interface left behind')
  const { stdout: rules } = await run('ip', ['-n', ns, 'rule'])
  t.notMatch(rules, /^1100[01]:/m, 'no hub rule')
  const { stdout: nft } = await run('ip', ['netns', 'exec', ns, 'nft', 'list', 'tables'])
  t.notMatch(nft, /sdwan_hub/, 'no nft table')
  const { stdout: sas } = await run('ip', ['-n', ns, 'xfrm', 'state'])
  t.equal(sas.trim(), '', 'no SA left by the ESP probe')
  t.same(await readdir(dir).then(f => f.sort()), ['hub.yaml', 'psk'], 'no charon config, VICI socket or control socket')
})
