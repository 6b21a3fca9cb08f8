// The real probe I/O: the Node-API addon built from native/probe_io.c (`npm ci` builds it with node-gyp,
// into build/Release). One thread for all paths' sockets: it sends queued probes on time and stamps
// T1 and T4 on CLOCK_MONOTONIC, the clock process.hrtime reads (see native/probe_io.c for why).
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { systemClock } from '../clock.js'
import type { IoRecord, ProberDeps, ProbeIo } from './prober.js'

interface Addon {
  create(niceness: number | null): unknown
  open(handle: unknown, localAddress: string, remoteAddress: string, port: number): number
  queue(handle: unknown, channel: number, dueNs: bigint, seq: number, packet: Buffer): boolean
  close(handle: unknown, channel: number): void
  drain(handle: unknown): { records: IoRecord[]; dropped: number }
  stop(handle: unknown): void
}

const ADDON = join('build', 'Release', 'probe_io.node')

/** The addon, from the package root: the first directory above this module that has it (source or dist/). */
function loadAddon(): Addon {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (;;) {
    const candidate = join(dir, ADDON)
    if (existsSync(candidate)) return createRequire(import.meta.url)(candidate) as Addon
    const parent = dirname(dir)
    if (parent === dir) break
    dir = parent
  }
  throw new Error(`the probe I/O addon (${ADDON}) is not built: run \`npm ci\`, or \`npx node-gyp rebuild\` in the package root`)
}

let addon: Addon | null = null

/** A probe I/O thread; `stop` ends it and closes its sockets. */
export function nativeProbeIo(niceness: number | null): ProbeIo & { stop(): void } {
  addon ??= loadAddon()
  const native = addon
  const handle = native.create(niceness)
  return {
    open: (localAddress, remoteAddress, port) => native.open(handle, localAddress, remoteAddress, port),
    queue: (channel, dueNs, seq, packet) => native.queue(handle, channel, dueNs, seq, packet),
    close: channel => native.close(handle, channel),
    drain: () => native.drain(handle),
    stop: () => native.stop(handle),
  }
}

/** The prober's real side effects; `stop` ends the I/O thread. */
export function realProberDeps(niceness: number | null): ProberDeps & { stop(): void } {
  const io = nativeProbeIo(niceness)
  return {
    clock: systemClock(),
    io,
    timers: {
      setInterval: (fn, ms) => setInterval(fn, ms),
      clearInterval: handle => clearInterval(handle as ReturnType<typeof setInterval>),
    },
    stop: () => io.stop(),
  }
}
