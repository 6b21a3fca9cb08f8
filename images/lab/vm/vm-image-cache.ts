// Obtains what a lab VM boots — Debian's kernel as an ELF vmlinux, its unpacked module tree, and the
// initramfs — and caches them outside the repo, so a second run downloads and builds nothing.
//
// Layout of the cache directory (default /var/cache/sdwan-edge/vm, env SDWAN_LAB_CACHE):
//   <version>/root/...          `dpkg -x` of linux-image-<version>, with modules.dep from busybox depmod
//   <version>/vmlinux           the bzImage's payload, decompressed
//   <version>/ready             written last, names the layout; without it (or with an older layout) the
//                               directory is incomplete and is rebuilt
//   initramfs-<version>-<hash>.cpio   <hash> covers /init, the boot modules and busybox
// Concurrent runs build into a private temporary directory and rename it into place; the loser of the
// race discards its copy, so readers only ever see complete entries.
import { createHash } from 'node:crypto'
import { spawn } from 'node:child_process'
import * as fsp from 'node:fs/promises'
import { join } from 'node:path'
import { runChecked, type CommandRunner } from '../command-runner.js'
import { isElf64, locatePayload, type PayloadFormat } from './bzimage.js'
import { cpioNewc } from './cpio.js'
import { initScript } from './init-script.js'
import { BOOT_MODULES, initramfsEntries } from './initramfs.js'
import { functionAliases, loadOrder, parseModulesDep } from './module-deps.js'

export const DEFAULT_CACHE_DIR = '/var/cache/sdwan-edge/vm'
/** Written into `ready`; a kernel directory unpacked by an older layout is rebuilt. */
export const CACHE_LAYOUT = 'layout 2: function-only modules.alias'
const META_PACKAGE = 'linux-image-amd64'

export interface VmImage {
  readonly kernelVersion: string
  readonly vmlinux: string
  /** Directory holding `<kernelVersion>/modules.dep`, shared to the guest's /lib/modules. */
  readonly moduleTree: string
  readonly initramfs: string
}

export class KernelUnavailableError extends Error {
  override readonly name = 'KernelUnavailableError'
}

/** Writes `input` to the stdin of `argv` and its stdout to `outputPath`. */
export type Decompressor = (argv: readonly string[], input: Uint8Array, outputPath: string) => Promise<void>

export interface VmImageDeps {
  readonly run: CommandRunner
  readonly decompress: Decompressor
  readonly cacheDir: string
  readonly busyboxPath: string
  readonly log: (line: string) => void
}

const DECOMPRESSORS: Record<PayloadFormat, readonly string[]> = {
  xz: ['xz', '-dc', '--single-stream'],
  zstd: ['zstd', '-dc'],
  gzip: ['gzip', '-dc'],
  lzma: ['xz', '--format=lzma', '-dc'],
  bzip2: ['bzip2', '-dc'],
  lz4: ['lz4', '-dc'],
  lzo: ['lzop', '-dc'],
}

export function defaultVmImageDeps(run: CommandRunner, log: (line: string) => void = () => {}): VmImageDeps {
  return {
    run,
    decompress: spawnDecompressor,
    cacheDir: process.env.SDWAN_LAB_CACHE ?? DEFAULT_CACHE_DIR,
    busyboxPath: '/bin/busybox',
    log,
  }
}

async function exists(path: string): Promise<boolean> {
  return fsp.access(path).then(() => true, () => false)
}

async function isReady(kernelDir: string): Promise<boolean> {
  const ready = await fsp.readFile(join(kernelDir, 'ready'), 'utf8').catch(() => '')
  return ready.includes(CACHE_LAYOUT)
}

/** The newest kernel already complete in the cache, so cached runs never ask apt. */
async function cachedKernelVersion(cacheDir: string): Promise<string | undefined> {
  const names = await fsp.readdir(cacheDir).catch(() => [] as string[])
  const ready: string[] = []
  for (const name of names) {
    if (/^\d+\.\d+\.\d+-\d+-amd64$/.test(name) && (await isReady(join(cacheDir, name)))) ready.push(name)
  }
  return ready.sort((a, b) => a.localeCompare(b, 'en', { numeric: true })).at(-1)
}

/** `apt-cache depends linux-image-amd64` → `6.1.0-56-amd64`; undefined when apt's lists do not know it. */
export function kernelVersionFromAptDepends(text: string): string | undefined {
  return /Depends:\s*linux-image-(\d+\.\d+\.\d+-\d+-amd64)\b/.exec(text)?.[1]
}

async function aptKernelVersion(run: CommandRunner, log: (line: string) => void): Promise<string> {
  const ask = async () => kernelVersionFromAptDepends((await run({ argv: ['apt-cache', 'depends', META_PACKAGE] })).stdout)
  const known = await ask()
  if (known !== undefined) return known
  log(`apt does not know ${META_PACKAGE} yet: running apt-get update`)
  const update = await run({ argv: ['apt-get', 'update', '-q'] })
  const after = await ask()
  if (after !== undefined) return after
  throw new KernelUnavailableError(
    `cannot resolve ${META_PACKAGE} to a kernel version: apt-cache depends found nothing ` +
      `(apt-get update exited ${update.code}: ${update.stderr.trim().split('\n').at(-1) ?? ''}). ` +
      `Set SDWAN_LAB_KERNEL=<version> to a cached kernel or fix the apt sources.`,
  )
}

async function unpackKernel(version: string, deps: VmImageDeps): Promise<void> {
  const { run, cacheDir, log } = deps
  const final = join(cacheDir, version)
  const work = `${final}.tmp-${process.pid}-${Date.now()}`
  await fsp.rm(final, { recursive: true, force: true }) // incomplete, or of an older layout
  await fsp.mkdir(work, { recursive: true })
  try {
    const pkg = `linux-image-${version}`
    log(`downloading ${pkg} into ${work}`)
    const download = await run({ argv: ['apt-get', 'download', '-q', pkg], cwd: work })
    const deb = (await fsp.readdir(work)).find(name => name.endsWith('.deb'))
    if (download.code !== 0 || deb === undefined) {
      throw new KernelUnavailableError(`apt-get download ${pkg} failed (exit ${download.code}): ${download.stderr.trim()}`)
    }
    await runChecked(run, { argv: ['dpkg', '-x', join(work, deb), join(work, 'root')] })
    await fsp.rm(join(work, deb))
    // Debian ships no modules.dep (its postinst runs depmod); busybox's depmod writes dep, alias, symbols.
    await runChecked(run, { argv: [deps.busyboxPath, 'depmod', '-b', join(work, 'root'), version] })
    const aliases = join(work, 'root', 'lib', 'modules', version, 'modules.alias')
    await fsp.writeFile(aliases, functionAliases(await fsp.readFile(aliases, 'utf8')))
    const bzImage = await fsp.readFile(join(work, 'root', 'boot', `vmlinuz-${version}`))
    const payload = locatePayload(bzImage, `vmlinuz-${version}`)
    const vmlinux = join(work, 'vmlinux')
    await deps.decompress(DECOMPRESSORS[payload.format], bzImage.subarray(payload.start, payload.end), vmlinux)
    const head = Buffer.alloc(5)
    const file = await fsp.open(vmlinux)
    const { size } = await file.stat()
    await file.read(head, 0, 5, 0).finally(() => file.close())
    if (!isElf64(head) || size !== payload.uncompressedSize) {
      throw new KernelUnavailableError(
        `vmlinuz-${version}: decompressed ${payload.format} payload is ${size} bytes, ` +
          `expected an ELF of ${payload.uncompressedSize} bytes`,
      )
    }
    await fsp.writeFile(join(work, 'ready'), `${version} ${CACHE_LAYOUT}\n`)
    await fsp.rename(work, final).catch(async (error: NodeJS.ErrnoException) => {
      // Another run finished first (rename onto a non-empty directory fails): keep theirs.
      if (!(await isReady(final))) throw error
    })
  } finally {
    await fsp.rm(work, { recursive: true, force: true })
  }
}

async function buildInitramfs(version: string, moduleDir: string, deps: VmImageDeps): Promise<string> {
  const index = parseModulesDep(await fsp.readFile(join(moduleDir, 'modules.dep'), 'utf8'))
  const order = loadOrder(index, BOOT_MODULES, version)
  const modules = await Promise.all(order.map(async path => ({ path, data: await fsp.readFile(join(moduleDir, path)) })))
  const busybox = await fsp.readFile(deps.busyboxPath)
  const init = initScript()
  const hash = createHash('sha256')
  hash.update(init).update(order.join('\n')).update(busybox)
  const path = join(deps.cacheDir, `initramfs-${version}-${hash.digest('hex').slice(0, 16)}.cpio`)
  if (await exists(path)) return path
  deps.log(`building ${path}`)
  const temporary = `${path}.tmp-${process.pid}`
  await fsp.writeFile(temporary, cpioNewc(initramfsEntries(busybox, init, modules)))
  await fsp.rename(temporary, path)
  return path
}

/** Everything a boot needs, from the cache when present; downloads and builds what is missing. */
export async function prepareVmImage(deps: VmImageDeps, kernelVersion = process.env.SDWAN_LAB_KERNEL): Promise<VmImage> {
  await fsp.mkdir(deps.cacheDir, { recursive: true })
  const version =
    kernelVersion ?? (await cachedKernelVersion(deps.cacheDir)) ?? (await aptKernelVersion(deps.run, deps.log))
  const kernelDir = join(deps.cacheDir, version)
  if (!(await isReady(kernelDir))) await unpackKernel(version, deps)
  const moduleTree = join(kernelDir, 'root', 'lib', 'modules')
  const initramfs = await buildInitramfs(version, join(moduleTree, version), deps)
  return { kernelVersion: version, vmlinux: join(kernelDir, 'vmlinux'), moduleTree, initramfs }
}

/** The real Decompressor: pipes the payload through the program into the output file. */
export function spawnDecompressor(argv: readonly string[], input: Uint8Array, outputPath: string): Promise<void> {
  return fsp.open(outputPath, 'w').then(
    out =>
      new Promise<void>((resolve, reject) => {
        const [file, ...args] = argv
        const child = spawn(file ?? 'false', args, { stdio: ['pipe', out.fd, 'pipe'] })
        const { stdin, stderr: errors } = child
        if (stdin === null || errors === null) throw new Error('spawn gave no stdin/stderr pipe')
        let stderr = ''
        errors.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
        child.on('error', error => reject(new KernelUnavailableError(`cannot run ${argv.join(' ')}: ${error.message}`)))
        child.on('close', code =>
          code === 0 ? resolve() : reject(new KernelUnavailableError(`${argv.join(' ')} exited ${code}: ${stderr.trim()}`)),
        )
        stdin.on('error', () => {})
        stdin.end(input)
      }).finally(() => out.close()),
  )
}
