#!/usr/bin/env node
// The installed `sdwan-edge` executable: real process I/O around `main`.
import { keepYoungGenerationSmall } from '../daemon/young-generation.js'

const argv = process.argv.slice(2)
// The long-running daemon keeps a small V8 nursery (edge/daemon/young-generation.ts); the flag works only
// if set before the burst of loading the CLI's and the daemon's modules, so before `main` is imported.
keepYoungGenerationSmall(argv[0])
const { main } = await import('./main.js')

main(argv, {
  stdout: text => void process.stdout.write(text),
  stderr: text => void process.stderr.write(text),
  cwd: process.cwd(),
  env: process.env,
  isTTY: Boolean(process.stdout.isTTY),
}).then(
  code => {
    process.exitCode = code
  },
  (err: unknown) => {
    process.stderr.write(`sdwan-edge: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
    process.exitCode = 1
  },
)
