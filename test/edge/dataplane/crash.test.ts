// Crash safety: an apply (the reconciler converging on a policy's desired state) is killed with SIGKILL at random points of an apply (moving the
// kernel between policy variants), and the next start must converge to exactly its desired state —
// no stale rule, route or nft table — or, for stop --flush, to nothing of ours.
import t from 'tap'
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { desired, initialDecisions } from '../../../edge/dataplane/desired.js'
import { uplinkFacts } from '../../../edge/dataplane/facts.js'
import { ownershipOf } from '../../../edge/dataplane/ports.js'
import { openKernelSession } from '../../../edge/dataplane/session.js'
import { ownedText } from './helpers/contract.js'
import { rng } from '../../helpers/random.js'
import { BB_IPV6, enterTestNetns, ipBatch, THREE_UPLINK_LINKS, tsxNodeArgs } from './helpers/netns.js'
import { policyFromYaml, THREE_UPLINKS_YAML } from './helpers/policy.js'

await enterTestNetns(import.meta.url, 'crash')

const KILLS = Number(process.env.DP_KILLS ?? 100)
/** Children started ahead, so Node's start-up overlaps the previous kill and check. */
const POOL = 4
const seed = Number(process.env.DP_SEED ?? Date.now() % 100000)

ipBatch([...THREE_UPLINK_LINKS, BB_IPV6])

// Policy variants that differ in rules (class order of paths), routes (a gateway) and nft (ports).
const variants = [
  THREE_UPLINKS_YAML,
  THREE_UPLINKS_YAML.replace('paths: [mpls, bb]', 'paths: [bb, mpls]').replace('ports: [5060, "10000-20000"]', 'ports: [5060]'),
  THREE_UPLINKS_YAML.replace('paths: [lte, bb]', 'paths: [mpls, lte]').replace('gateway4: 192.0.2.1', 'gateway4: 192.0.2.254'),
]
const dir = mkdtempSync(join(tmpdir(), 'sdwan-crash-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))
const policies = variants.map(v => policyFromYaml(v))
const own = ownershipOf(policies[0]!.dataplane)

interface Child {
  proc: ChildProcessWithoutNullStreams
  ready: Promise<void>
  exited: Promise<number | null>
}
const childScript = fileURLToPath(new URL('./helpers/apply-child.ts', import.meta.url))
function startChild(file: string): Child {
  const proc = spawn(process.execPath, [...tsxNodeArgs(), childScript, file])
  const lines = createInterface({ input: proc.stdout })
  const ready = new Promise<void>(resolve => lines.on('line', l => l === 'ready' && resolve()))
  const exited = new Promise<number | null>(resolve => proc.on('close', code => resolve(code)))
  proc.stderr.resume()
  return { proc, ready, exited }
}

t.test(`${KILLS} applies killed at random points converge on the next start (seed ${seed})`, async t => {
  const random = rng(seed)
  const session = openKernelSession(own, () => undefined)
  t.teardown(() => session.close())
  const facts = uplinkFacts(policies[0]!, await session.kernel.facts())
  const wantOf = (i: number) => desired(policies[i]!, initialDecisions(policies[i]!), facts)
  const files = policies.map((_, i) => {
    const f = join(dir, `variant-${i}.json`)
    writeFileSync(f, JSON.stringify(wantOf(i)))
    return f
  })

  // How long a whole apply takes here (from "go" to exit), so kill points spread over it.
  await session.reconciler.set(null)
  const probe = startChild(files[0]!)
  await probe.ready
  const t0 = performance.now()
  probe.proc.stdin.write('go\n')
  t.equal(await probe.exited, 0, 'an uninterrupted apply succeeds')
  const applyMs = performance.now() - t0
  t.comment(`one apply from an empty kernel: ${applyMs.toFixed(1)} ms`)

  let interrupted = 0
  const pool = Array.from({ length: POOL }, () => startChild(files[Math.floor(random() * files.length)]!))
  for (let k = 0; k < KILLS; k++) {
    const child = pool.shift()!
    pool.push(startChild(files[Math.floor(random() * files.length)]!))
    await child.ready
    child.proc.stdin.write('go\n')
    await new Promise(res => setTimeout(res, random() * applyMs * 1.2))
    child.proc.kill('SIGKILL')
    if ((await child.exited) === null) interrupted++

    // The next start: a fresh reconciler (no memory of the killed one) converges from the dump.
    const restart = openKernelSession(own, () => undefined)
    try {
      if (k % 5 === 4) {
        const r = await restart.reconciler.set(null)
        if (r.failed.length || ownedText(await restart.kernel.dump()) !== '' || r.reached.nftDigest !== null) {
          t.fail(`kill ${k}: stop --flush left objects behind`)
          break
        }
      } else {
        const target = Math.floor(random() * policies.length)
        const want = wantOf(target)
        const r = await restart.reconciler.set(want)
        const held = ownedText(await restart.kernel.dump())
        const again = await restart.reconciler.set(want)
        if (r.failed.length || held !== ownedText(want) || r.reached.nftDigest !== want.nftDigest || again.ops.length) {
          t.fail(`kill ${k}: did not converge to variant ${target}`, { failed: r.failed.map(f => f.error.message), again: again.ops.length })
          break
        }
      }
    } finally {
      restart.close()
    }
  }
  for (const c of pool) c.proc.kill('SIGKILL')
  await Promise.all(pool.map(c => c.exited))
  t.pass(`${KILLS} kill points, ${interrupted} of them mid-apply, all converged`)
  t.ok(interrupted >= KILLS / 2, 'most kills landed inside the apply')
  await session.reconciler.set(null)
})
