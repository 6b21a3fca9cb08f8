// Child process for the spool crash test: appends records to the spool in argv[2] as fast as it can and
// prints the payload of each append that resolved, until it is killed. The print is a blocking write to
// fd 1: once it returns the line sits in the pipe and survives the SIGKILL, whereas process.stdout may
// queue it in the process and lose it, making the spool look as if it held appends nobody confirmed.
import { writeSync } from 'node:fs'
import { nodeSpoolFs } from '../../../../edge/telemetry/spool/spool-fs.js'
import { Spool } from '../../../../edge/telemetry/spool/spool.js'

const dir = process.argv[2]
if (!dir) throw new Error('usage: spool-writer DIR')
const spool = await Spool.open({ dir, maxBytes: 64 << 20, fs: nodeSpoolFs, now: () => Date.now(), segmentBytes: 64 << 10 })
for (let i = 0; ; i++) {
  const payload = `${i % 10 === 0 ? 'event' : 'metric'}-${i}-${'x'.repeat(200)}`
  await spool.append(i % 10 === 0 ? 'event' : 'metric', 'sdwan/s/d/metrics/fibre', payload)
  writeSync(1, `${i}\n`)
}
