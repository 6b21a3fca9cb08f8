#!/usr/bin/env node
// The installed `sdwan-edge` executable: real process I/O around `main`.
import { main } from './main.js'

main(process.argv.slice(2), {
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
