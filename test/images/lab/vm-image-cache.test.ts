// The VM image cache: a complete cached kernel is used without asking apt, the initramfs is built once
// per (kernel, init, boot modules, busybox), and an unknown kernel package is a clear error.
import t from 'tap'
import * as fsp from 'node:fs/promises'
import { join } from 'node:path'
import type { CommandRequest, CommandRunner } from '../../../images/lab/command-runner.js'
import { CACHE_LAYOUT, prepareVmImage, type VmImageDeps } from '../../../images/lab/vm/vm-image-cache.js'

const VERSION = '6.1.0-99-amd64'

/** A static x86-64 ELF header with no program headers: enough for the initramfs's busybox check. */
function staticElf(): Buffer {
  const bytes = Buffer.alloc(64)
  bytes.set([0x7f, 0x45, 0x4c, 0x46, 2])
  return bytes
}

async function cacheWithKernel(dir: string): Promise<void> {
  const modules = join(dir, VERSION, 'root', 'lib', 'modules', VERSION)
  const files = ['kernel/drivers/virtio/virtio_pci.ko', 'kernel/net/9p/9pnet.ko', 'kernel/net/9p/9pnet_virtio.ko', 'kernel/fs/9p/9p.ko']
  for (const file of files) {
    await fsp.mkdir(join(modules, file, '..'), { recursive: true })
    await fsp.writeFile(join(modules, file), `module ${file}`)
  }
  await fsp.writeFile(
    join(modules, 'modules.dep'),
    ['kernel/drivers/virtio/virtio_pci.ko:', 'kernel/net/9p/9pnet.ko:', 'kernel/net/9p/9pnet_virtio.ko: kernel/net/9p/9pnet.ko', 'kernel/fs/9p/9p.ko: kernel/net/9p/9pnet.ko', ''].join('\n'),
  )
  await fsp.writeFile(join(dir, VERSION, 'vmlinux'), staticElf())
  await fsp.writeFile(join(dir, VERSION, 'ready'), `${VERSION} ${CACHE_LAYOUT}\n`)
  await fsp.writeFile(join(dir, 'busybox'), staticElf())
}

function deps(dir: string, run: CommandRunner): VmImageDeps {
  return {
    run,
    decompress: async () => {
      throw new Error('nothing to decompress in these tests')
    },
    cacheDir: dir,
    busyboxPath: join(dir, 'busybox'),
    log: () => {},
  }
}

t.test('a cached kernel is used without apt, and the initramfs is built once', async t => {
  const dir = t.testdir()
  await cacheWithKernel(dir)
  const requests: CommandRequest[] = []
  const run: CommandRunner = async request => {
    requests.push(request)
    return { code: 1, stdout: '', stderr: 'must not be called' }
  }
  const first = await prepareVmImage(deps(dir, run), undefined)
  t.equal(first.kernelVersion, VERSION)
  t.equal(first.vmlinux, join(dir, VERSION, 'vmlinux'))
  t.equal(first.moduleTree, join(dir, VERSION, 'root', 'lib', 'modules'))
  t.match(first.initramfs, new RegExp(`initramfs-${VERSION}-[0-9a-f]{16}\\.cpio$`))
  const built = await fsp.stat(first.initramfs)
  const second = await prepareVmImage(deps(dir, run), undefined)
  t.equal(second.initramfs, first.initramfs, 'same key')
  t.equal((await fsp.stat(second.initramfs)).mtimeMs, built.mtimeMs, 'not rebuilt')
  t.same(requests, [], 'no command run: no apt, no download')
})

t.test('a kernel cached by an older layout is not used', async t => {
  const dir = t.testdir()
  await cacheWithKernel(dir)
  await fsp.writeFile(join(dir, VERSION, 'ready'), `${VERSION}\n`)
  const argvs: string[] = []
  const run: CommandRunner = async request => {
    argvs.push(request.argv.join(' '))
    return { code: 0, stdout: '', stderr: '' }
  }
  await t.rejects(prepareVmImage(deps(dir, run), undefined), { name: 'KernelUnavailableError' })
  t.equal(argvs[0], 'apt-cache depends linux-image-amd64', 'resolves afresh instead of using it')
})

t.test('no cached kernel and apt does not know linux-image-amd64', async t => {
  const dir = t.testdir()
  const argvs: string[] = []
  const run: CommandRunner = async request => {
    argvs.push(request.argv.join(' '))
    return { code: request.argv[0] === 'apt-get' ? 100 : 0, stdout: '', stderr: 'E: Could not get lock' }
  }
  await t.rejects(prepareVmImage(deps(dir, run), undefined), {
    name: 'KernelUnavailableError',
    message: /cannot resolve linux-image-amd64.*apt-get update exited 100: E: Could not get lock/,
  })
  t.same(argvs, ['apt-cache depends linux-image-amd64', 'apt-get update -q', 'apt-cache depends linux-image-amd64'])
})
