#!/usr/bin/env node
// The installed `sdwan-edge` executable: real process I/O around `main`.
import { favourMemory } from '../daemon/v8-footprint.js'

const argv = process.argv.slice(2)
// Set before the CLI's and the daemon's modules load, so that their loading already runs under it.
favourMemory(argv[0])
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
