#!/usr/bin/env node
// Runs the whole suite with tap and ends with the plain summary line CI reads:
// `N passed, N failed, N skipped`. Extra arguments go to tap (e.g. a file list).
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'

const args = ['tap', '--reporter=tap', ...process.argv.slice(2)]
const child = spawn('npx', args, { stdio: ['ignore', 'pipe', 'inherit'] })
let summary = null
const lines = createInterface({ input: child.stdout })
lines.on('line', line => {
  process.stdout.write(line + '\n')
  const m = /^# \{ (.*) \}$/.exec(line)
  if (m) summary = Object.fromEntries(m[1].split(', ').map(kv => kv.split(': ')).map(([k, v]) => [k, Number(v)]))
})
child.on('close', code => {
  if (!summary) {
    console.log(`0 passed, 1 failed`)
    console.error(`test run ended (exit ${code}) without tap's summary`)
    process.exit(code || 1)
  }
  const failed = summary.fail ?? 0
  const failedFiles = code !== 0 && failed === 0 ? 1 : 0
  console.log(`${summary.pass ?? 0} passed, ${failed + failedFiles} failed, ${(summary.skip ?? 0) + (summary.todo ?? 0)} skipped`)
  process.exit(code ?? 1)
})
