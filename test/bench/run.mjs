#!/usr/bin/env node
// `npm run bench NAME [args…]` runs test/bench/NAME.ts. Each benchmark prints its figures as it goes
// and ends with exactly one JSON line holding them (see README "Benchmarks").
import { spawnSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const names = readdirSync(here).filter(f => f.endsWith('.ts')).map(f => f.slice(0, -3)).sort()
const [name, ...rest] = process.argv.slice(2)
if (!name || name === '--help' || name === '-h') {
  console.log(`usage: npm run bench NAME [-- args]\nbenchmarks: ${names.join(', ') || '(none yet)'}`)
  process.exit(name ? 0 : 2)
}
if (!names.includes(name)) {
  console.error(`bench: no benchmark named '${name}'; known: ${names.join(', ') || '(none yet)'}`)
  process.exit(2)
}
const r = spawnSync(process.execPath, ['--import', 'tsx', join(here, `${name}.ts`), ...rest], { stdio: 'inherit' })
process.exit(r.status ?? 1)
