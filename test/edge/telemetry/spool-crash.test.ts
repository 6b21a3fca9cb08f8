// Crash safety for real: a child process appends to the spool flat out and is SIGKILLed mid-stream;
// reopening replays every record whose append had returned, in order, with nothing invented.
import { spawn } from 'node:child_process'
import * as fsp from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { nodeSpoolFs } from '../../../edge/telemetry/spool/spool-fs.js'
import { Spool } from '../../../edge/telemetry/spool/spool.js'

t.test('records appended before a SIGKILL are all replayed, in order', async t => {
  const dir = await fsp.mkdtemp(join(tmpdir(), 'sdwan-spool-crash-'))
  t.teardown(() => fsp.rm(dir, { recursive: true, force: true }))
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'helpers/spool-writer.ts'), dir], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.setEncoding('utf8')
  // 'close' comes after stdout is drained, so every line the child printed before dying is counted.
  const exited = new Promise<void>(resolve => child.on('close', () => resolve()))
  await new Promise<void>(resolve =>
    child.stdout.on('data', (chunk: string) => {
      out += chunk
      // Kill once a few segments' worth is written, wherever the writer happens to be.
      if (out.split('\n').length > 3000) resolve()
    }),
  )
  child.kill('SIGKILL')
  await exited
  const confirmed = out.split('\n').filter(line => /^\d+$/.test(line)).map(Number)
  const spool = await Spool.open({ dir, maxBytes: 64 << 20, fs: nodeSpoolFs, now: () => 0 })
  const replayed = (await spool.peek(1_000_000)).map(r => Number(r.payload.split('-')[1]))
  t.ok(confirmed.length >= 3000, `${confirmed.length} appends returned before the kill`)
  t.same(replayed.slice(0, confirmed.length), confirmed, 'every returned append is replayed, in order')
  t.ok(replayed.length - confirmed.length <= 1, `at most the one append in progress at the kill is extra (${replayed.length} replayed, ${confirmed.length} confirmed)`)
  t.same(replayed, Array.from({ length: replayed.length }, (_, i) => i), 'no gaps, nothing invented')
  await spool.append('metric', 'sdwan/s/d/metrics/fibre', 'after-the-crash')
  t.equal((await spool.peek(1_000_000)).at(-1)!.payload, 'after-the-crash', 'appending resumes after the replayed tail')
  await spool.close()
})
