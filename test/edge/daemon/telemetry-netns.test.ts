// The daemon reporting to a real Mosquitto in the lab's data centre: the retained birth, metrics per
// path every report interval, and a re-steer event plus the new decisions when broadband blacks out.
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { startBranch } from '../../../images/lab/branch.js'
import { spawnCommandRunner } from '../../../images/lab/command-runner.js'
import { spawnLongRunning } from '../../../images/lab/long-running-process.js'
import { startBroker } from '../../../images/lab/mosquitto-broker.js'
import { retailBranch } from '../../../images/lab/topology.js'
import { brokerSkip } from '../../images/lab/helpers/lab-capabilities.js'

const sleep = (ms: number) => new Promise<void>(r => setTimeout(r, ms))
const PORT = 18830

t.test('the daemon reports to the orchestrator broker', { skip: brokerSkip() }, async t => {
  const prefix = `tm${process.pid % 100000}-`
  const hubService = retailBranch(prefix).addresses.hubService
  const workDir = await mkdtemp(join(tmpdir(), 'sdwan-telemetry-'))
  const branch = await startBranch(
    { prefix, workDir, policy: { telemetry: { broker: `mqtt://${hubService}:${PORT}`, reportIntervalS: 1 }, failover: { brownoutConfirmMs: 500 } } },
    { run: spawnCommandRunner(), spawn: spawnLongRunning, sleep, now: Date.now },
  )
  t.teardown(async () => {
    await branch.stop()
    await rm(workDir, { recursive: true, force: true })
  })
  const hub = branch.lab.topology.namespaces.hub
  const broker = await startBroker({ namespace: hub, address: hubService, port: PORT })
  t.teardown(() => broker.stop())
  const messages: Array<{ topic: string; body: Record<string, unknown> }> = []
  const sub = spawn('ip', ['netns', 'exec', hub, 'mosquitto_sub', '-h', hubService, '-p', String(PORT), '-v', '-t', 'sdwan/lab-store/#'], { stdio: ['ignore', 'pipe', 'inherit'] })
  t.teardown(() => void sub.kill())
  let buf = ''
  sub.stdout.on('data', (chunk: Buffer) => {
    const lines = (buf + chunk.toString('utf8')).split('\n')
    buf = lines.pop() ?? ''
    for (const line of lines) {
      const space = line.indexOf(' ')
      try {
        messages.push({ topic: line.slice(0, space), body: JSON.parse(line.slice(space + 1)) as Record<string, unknown> })
      } catch {
        // a non-JSON payload is not ours to judge here
      }
    }
  })
  const waitFor = async (pred: (m: { topic: string; body: Record<string, unknown> }) => boolean, what: string, from = 0) => {
    for (let i = 0; i < 600; i++) {
      const hit = messages.slice(from).find(pred)
      if (hit) return hit
      await sleep(50)
    }
    throw new Error(`no ${what} on the broker; got topics: ${[...new Set(messages.map(m => m.topic))].join(', ')}`)
  }

  await branch.waitForStatus(s => !s.warmingUp && ['bb', 'lte', 'mpls'].every(n => s.paths.find(p => p.name === n)?.state === 'up'), 30_000, 'direct paths up')
  const birth = await waitFor(m => m.topic.endsWith('/state'), 'state (birth)')
  t.match(birth.body, { online: true }, 'a birth message says the edge is online')
  for (const path of ['bb', 'lte', 'mpls']) {
    const m = await waitFor(m => m.topic.includes('/metrics') && JSON.stringify(m.body).includes(`"${path}"`), `metrics for ${path}`)
    t.ok(m, `metrics for ${path} arrive`)
  }

  const mark = messages.length
  await branch.lab.impair('bb', { kind: 'blackout' })
  // The event of store-web leaving bb: under load a start-up re-steer of store-web (a path judged late,
  // 'dropped → bb') can still be on its way to the broker when the mark is taken.
  const event = await waitFor(m => m.topic.includes('/events') && JSON.stringify(m.body).includes('re-steer') && String(m.body.message).startsWith('store-web: bb →'), 're-steer event of store-web off bb', mark)
  t.match(String(event.body.message), /^store-web: bb → lte: bb failed: blackout/)
  const decisions = await waitFor(m => m.topic.endsWith('/decisions') && /"class":"store-web","active":\[\{"path":"lte"/.test(JSON.stringify(m.body)), 'decisions with store-web on lte', mark)
  t.match(decisions.body, { decisions: [{ class: 'pos' }, { class: 'voip' }, { class: 'erp' }, { class: 'guest' }, { class: 'store-web', active: [{ path: 'lte' }] }] })
})
