// The pure parts of the VM runner — bzImage payload, modules.dep, cpio, console markers, QEMU argv —
// and runInVm's handling of a guest that passes, crashes or hangs, with QEMU replaced by a script.
import t from 'tap'
import { locatePayload } from '../../../images/lab/vm/bzimage.js'
import { readConsoleVerdict } from '../../../images/lab/vm/console-verdict.js'
import { cpioNewc } from '../../../images/lab/vm/cpio.js'
import { MARKER_ERROR, MARKER_INIT, MARKER_RESULT, MARKER_SCENARIO } from '../../../images/lab/vm/init-script.js'
import { isStaticElf } from '../../../images/lab/vm/initramfs.js'
import { functionAliases, loadOrder, parseModulesDep } from '../../../images/lab/vm/module-deps.js'
import { kernelCommandLine, qemuCommand } from '../../../images/lab/vm/qemu-command.js'
import { runInVm, type RunInVmDeps } from '../../../images/lab/vm/run-in-vm.js'
import { checkReporter, formatCheck, parseChecks } from '../../../images/lab/vm/scenario-checks.js'
import { kernelVersionFromAptDepends, type VmImage } from '../../../images/lab/vm/vm-image-cache.js'
import { lineSplitter, type LongRunningProcess } from '../../../images/lab/long-running-process.js'

function bzImage(options: { signature?: number; version?: number; magic?: number[]; length?: number } = {}): Uint8Array {
  const image = new Uint8Array(4096)
  const view = new DataView(image.buffer)
  view.setUint8(0x1f1, 1) // setup_sects: protected-mode code at (1 + 1) * 512 = 1024
  view.setUint32(0x202, options.signature ?? 0x53726448, true)
  view.setUint16(0x206, options.version ?? 0x020f, true)
  view.setUint32(0x248, 100, true) // payload_offset
  view.setUint32(0x24c, options.length ?? 24, true) // payload_length, incl. the appended size
  image.set(options.magic ?? [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], 1124)
  view.setUint32(1124 + 20, 123456, true)
  return image
}

t.test('locatePayload reads the boot header', async t => {
  t.same(locatePayload(bzImage()), { format: 'xz', start: 1124, end: 1144, uncompressedSize: 123456 })
  t.equal(locatePayload(bzImage({ magic: [0x28, 0xb5, 0x2f, 0xfd] })).format, 'zstd')
  t.throws(() => locatePayload(bzImage({ signature: 0 }), 'vmlinuz-x'), { name: 'BzImageError', message: /vmlinuz-x: no "HdrS"/ })
  t.throws(() => locatePayload(bzImage({ version: 0x0206 })), { message: /predates payload_offset/ })
  t.throws(() => locatePayload(bzImage({ magic: [1, 2, 3, 4, 5, 6] })), { message: /unknown compression magic 01 02 03 04 05 06/ })
  t.throws(() => locatePayload(bzImage({ length: 9000 })), { message: /outside the 4096-byte image/ })
})

t.test('modules.dep gives load order, dependencies first, each once', async t => {
  const index = parseModulesDep(
    [
      '/tmp/root/lib/modules/6.1.0-56-amd64/kernel/fs/9p/9p.ko: /tmp/root/lib/modules/6.1.0-56-amd64/kernel/net/9p/9pnet.ko kernel/fs/netfs/netfs.ko',
      'kernel/net/9p/9pnet_virtio.ko: kernel/drivers/virtio/virtio.ko kernel/net/9p/9pnet.ko',
      'kernel/net/9p/9pnet.ko:',
      'kernel/fs/netfs/netfs.ko:',
      'kernel/drivers/virtio/virtio.ko:',
      'kernel/net/ipv4/esp4-offload.ko:',
    ].join('\n'),
  )
  t.same(loadOrder(index, ['9pnet_virtio', '9p'], '6.1'), [
    'kernel/drivers/virtio/virtio.ko',
    'kernel/net/9p/9pnet.ko',
    'kernel/net/9p/9pnet_virtio.ko',
    'kernel/fs/netfs/netfs.ko',
    'kernel/fs/9p/9p.ko',
  ])
  t.same(loadOrder(index, ['esp4-offload'], '6.1'), ['kernel/net/ipv4/esp4-offload.ko'], 'dashes and underscores are the same name')
  t.throws(() => loadOrder(index, ['ip_gre'], '6.1'), { name: 'ModuleNotFoundError', message: /"ip_gre" is not in modules.dep of kernel 6.1/ })
})

t.test('functionAliases drops device aliases', async t => {
  const text = [
    'alias pci:v00001AF4d00001000sv*sd*bc*sc*i* virtio_pci',
    'alias crypto-rfc4106 gcm',
    'alias acpi*:PNP0501:* 8250',
    'alias nft-expr-numgen nft_numgen',
    '',
  ].join('\n')
  t.equal(functionAliases(text), 'alias crypto-rfc4106 gcm\nalias nft-expr-numgen nft_numgen\n')
})

/** Reads a newc archive back: [name, mode, data]. */
function readNewc(archive: Buffer): Array<[string, number, string]> {
  const entries: Array<[string, number, string]> = []
  let offset = 0
  for (;;) {
    const field = (i: number) => parseInt(archive.toString('ascii', offset + 6 + i * 8, offset + 14 + i * 8), 16)
    if (archive.toString('ascii', offset, offset + 6) !== '070701') throw new Error(`bad magic at ${offset}`)
    const [mode, size, nameSize] = [field(1), field(6), field(11)]
    const name = archive.toString('utf8', offset + 110, offset + 110 + nameSize - 1)
    const dataStart = Math.ceil((offset + 110 + nameSize) / 4) * 4
    if (name === 'TRAILER!!!') return entries
    entries.push([name, mode, archive.toString('utf8', dataStart, dataStart + size)])
    offset = Math.ceil((dataStart + size) / 4) * 4
  }
}

t.test('cpioNewc writes what the kernel unpacks', async t => {
  const archive = cpioNewc([
    { kind: 'dir', path: '/bin' },
    { kind: 'file', path: 'init', data: Buffer.from('#!/bin/sh\n'), mode: 0o755 },
    { kind: 'symlink', path: 'bin/sh', target: '/bin/busybox' },
  ])
  t.equal(archive.length % 4, 0)
  t.same(readNewc(archive), [
    ['bin', 0o040755, ''],
    ['init', 0o100755, '#!/bin/sh\n'],
    ['bin/sh', 0o120777, '/bin/busybox'],
  ])
  t.same(cpioNewc([{ kind: 'dir', path: 'a' }]), cpioNewc([{ kind: 'dir', path: 'a' }]), 'reproducible')
})

t.test('isStaticElf looks for PT_INTERP', async t => {
  const elf = (types: number[]) => {
    const bytes = new Uint8Array(64 + types.length * 56)
    const view = new DataView(bytes.buffer)
    bytes.set([0x7f, 0x45, 0x4c, 0x46, 2])
    view.setBigUint64(0x20, 64n, true)
    view.setUint16(0x36, 56, true)
    view.setUint16(0x38, types.length, true)
    types.forEach((type, i) => view.setUint32(64 + i * 56, type, true))
    return bytes
  }
  t.ok(isStaticElf(elf([1, 1, 4])), 'LOAD, LOAD, NOTE: static')
  t.notOk(isStaticElf(elf([6, 3, 1])), 'PHDR, INTERP, LOAD: dynamic')
  t.notOk(isStaticElf(Buffer.from('#!/bin/sh\n'.padEnd(80))), 'not an ELF')
})

t.test('console verdict', async t => {
  const console = [
    `${MARKER_INIT}1.83@@`,
    `${MARKER_SCENARIO}2.48@@`,
    formatCheck('gre', true, '3/3 pings'),
    formatCheck('esp', false, 'no reply\nat all'),
    `${MARKER_RESULT}1 uptime=18.88@@`,
  ].join('\n')
  t.same(readConsoleVerdict(console), { exitCode: 1, initUptimeS: 1.83, scenarioUptimeS: 2.48, endUptimeS: 18.88 })
  t.same(parseChecks(console), [
    { name: 'gre', ok: true, detail: '3/3 pings' },
    { name: 'esp', ok: false, detail: 'no reply at all' },
  ])
  t.equal(readConsoleVerdict(`${MARKER_INIT}1.8@@\nKernel panic`), undefined)
  t.same(readConsoleVerdict(`${MARKER_ERROR}mount 9p usr on /newroot/usr@@\n${MARKER_RESULT}125@@`), {
    exitCode: 125,
    initError: 'mount 9p usr on /newroot/usr',
  })
})

const IMAGE: VmImage = { kernelVersion: '6.1.0-56-amd64', vmlinux: '/c/vmlinux', moduleTree: '/c/modules', initramfs: '/c/initramfs.cpio' }

t.test('QEMU argv: TCG, no NIC, 9p shares, modules on the command line', async t => {
  const argv = qemuCommand({
    image: IMAGE,
    shares: [{ tag: 'usr', hostPath: '/usr', readonly: true }, { tag: 'lab', hostPath: '/tmp/run', readonly: false }],
    modules: ['ip_gre', 'esp4'],
    repoPath: '/work/main',
    memoryMb: 768,
    cpus: 2,
    guestTimeoutS: 50,
  })
  const after = (flag: string) => argv[argv.indexOf(flag) + 1]
  t.equal(after('-accel'), 'tcg,thread=multi')
  t.equal(after('-machine'), 'q35')
  t.equal(after('-nic'), 'none', 'no network device: nothing leaves the VM')
  t.equal(after('-kernel'), '/c/vmlinux')
  t.equal(after('-m'), '768')
  t.same(argv.filter((_, i) => argv[i - 1] === '-virtfs'), [
    'local,path=/usr,mount_tag=usr,security_model=none,readonly=on',
    'local,path=/tmp/run,mount_tag=lab,security_model=none',
  ])
  t.match(after('-append'), /lab\.repo=\/work\/main lab\.timeout=50 lab\.modules=ip_gre,esp4$/)
  t.notMatch(argv.join(' '), /kvm/)
  t.throws(() => kernelCommandLine(['ip_gre foo'], '/r', 60), { message: /not a kernel module name/ })
  t.throws(() => kernelCommandLine([], '/r', 0.5), { message: /guest timeout 0.5 s/ })
})

t.test('kernel version from apt-cache depends', async t => {
  t.equal(kernelVersionFromAptDepends('linux-image-amd64\n  Depends: linux-image-6.1.0-56-amd64\n'), '6.1.0-56-amd64')
  t.equal(kernelVersionFromAptDepends(''), undefined)
})

/** A QEMU stand-in: prints `output` on the serial line, then exits — or never, if `hang`. */
function fakeDeps(output: string, options: { hang?: boolean; stderr?: string } = {}) {
  const calls = { argv: [] as string[], killed: [] as string[], disposed: 0, script: '' }
  let fireTimer: (() => void) | undefined
  const deps: RunInVmDeps = {
    prepareImage: async () => IMAGE,
    makeRunDir: async script => {
      calls.script = script
      return {
        path: '/tmp/run-1',
        read: async name => (name === 'result.json' ? '{"moved":true}' : undefined),
        dispose: async () => void calls.disposed++,
      }
    },
    repoPath: '/work/main',
    now: (() => {
      let ms = 0
      return () => (ms += 1500)
    })(),
    setTimer: callback => {
      fireTimer = callback
      return () => (fireTimer = undefined)
    },
    spawnQemu: argv => {
      calls.argv = [...argv]
      let exit: (code: number | null) => void = () => {}
      const process: LongRunningProcess = {
        onStdout: listener => queueMicrotask(() => listener(output)),
        onStderr: listener => queueMicrotask(() => listener(options.stderr ?? '')),
        exited: new Promise(resolve => (exit = resolve)),
        kill: signal => {
          calls.killed.push(signal ?? 'default')
          exit(null)
        },
      }
      setTimeout(() => (options.hang ? fireTimer?.() : exit(0)), 5)
      return process
    },
  }
  return { deps, calls }
}

t.test('runInVm reads the verdict from the marker', async t => {
  const { deps, calls } = fakeDeps(`${MARKER_INIT}1.8@@\r\n${MARKER_SCENARIO}2.3@@\r\nhello\r\n${MARKER_RESULT}0 uptime=4.5@@\r\n`)
  const result = await runInVm({ script: 'echo hello\n', modules: ['sch_netem'], collect: ['result.json', 'absent.log'] }, deps)
  t.same(result.files, { 'result.json': '{"moved":true}' }, 'collected files handed back; missing ones left out')
  t.match(result, { ok: true, exitCode: 0, bootS: 1.8, setupS: 0.5, scenarioS: 2.2, wallMs: 1500, kernelVersion: '6.1.0-56-amd64' })
  t.notMatch(result.console, /\r/, 'carriage returns of the serial line removed')
  t.equal(calls.script, 'echo hello\n')
  t.match(calls.argv.join(' '), /lab\.timeout=170 lab\.modules=sch_netem/, 'guest limit: the host default 180 s less 10 s')
  t.match(calls.argv.join(' '), /path=\/tmp\/run-1,mount_tag=lab/)
  t.equal(calls.disposed, 1, 'run directory removed')
})

t.test('runInVm: a failing scenario is not ok, with its exit code', async t => {
  const { deps } = fakeDeps(`${MARKER_RESULT}3 uptime=4.5@@\n`)
  t.match(await runInVm({ script: 'exit 3' }, deps), { ok: false, exitCode: 3 })
})

t.test('runInVm: what /init failed at is handed back', async t => {
  const { deps } = fakeDeps(`${MARKER_ERROR}modprobe -a no_such_module@@\n${MARKER_RESULT}125@@\n`)
  t.match(await runInVm({ script: 'true', modules: ['no_such_module'] }, deps), { ok: false, exitCode: 125, initError: 'modprobe -a no_such_module' })
})

t.test('runInVm: no marker is an error with the console tail and QEMU stderr', async t => {
  const { deps, calls } = fakeDeps('Kernel panic - not syncing: Attempted to kill init!\n', { stderr: 'qemu: warning' })
  await t.rejects(runInVm({ script: 'true' }, deps), { name: 'VmMarkerMissingError', message: /qemu: warning[\s\S]*Kernel panic/ })
  t.equal(calls.disposed, 1)
})

t.test('runInVm: the hard timeout kills QEMU', async t => {
  const { deps, calls } = fakeDeps('booting...\n', { hang: true })
  await t.rejects(runInVm({ script: 'sleep 999', timeoutMs: 1000 }, deps), { name: 'VmTimeoutError', message: /within 1000 ms[\s\S]*booting/ })
  t.same(calls.killed, ['SIGKILL'])
  t.equal(calls.disposed, 1)
})

t.test('runInVm: behind the VM lock, the time limit starts once the lock is held', async t => {
  const lockHeldLine = 'holding the lock'
  let timerSetAt: string | undefined
  let stderrListener: (text: string) => void = () => {}
  let exit: (code: number | null) => void = () => {}
  const { deps } = fakeDeps(`${MARKER_RESULT}0 uptime=4.5@@\n`)
  const waiting: RunInVmDeps = {
    ...deps,
    lockHeldLine,
    setTimer: () => {
      timerSetAt = stderrSoFar
      return () => undefined
    },
    spawnQemu: () => ({
      onStdout: listener => queueMicrotask(() => listener(`${MARKER_RESULT}0 uptime=4.5@@\n`)),
      onStderr: listener => (stderrListener = listener),
      exited: new Promise(resolve => (exit = resolve)),
      kill: () => exit(null),
    }),
  }
  let stderrSoFar = ''
  const say = (text: string) => {
    stderrSoFar += text
    stderrListener(text)
  }
  const running = runInVm({ script: 'true' }, waiting)
  await new Promise(resolve => setTimeout(resolve, 5))
  t.equal(timerSetAt, undefined, 'no limit runs while another VM holds the lock')
  say('qemu: early warning\n')
  t.equal(timerSetAt, undefined, 'other stderr does not start it')
  say(`${lockHeldLine}\n`)
  t.equal(timerSetAt, `qemu: early warning\n${lockHeldLine}\n`, 'the limit starts with the lock line')
  exit(0)
  t.match(await running, { ok: true })
})

t.test('checkReporter prints each check and remembers a failure', async t => {
  const printed: string[] = []
  const checks = checkReporter(line => printed.push(line))
  checks.report('gre', true, '3/3')
  t.notOk(checks.failed)
  checks.report('esp', false, 'none')
  checks.report('netem', true, 'ok')
  t.ok(checks.failed, 'a later pass does not clear an earlier failure')
  t.same(parseChecks(printed.join('\n')).map(c => [c.name, c.ok]), [['gre', true], ['esp', false], ['netem', true]])
})

t.test('lineSplitter hands on whole lines, joining a line cut across chunks', async t => {
  const lines: string[] = []
  const feed = lineSplitter(line => lines.push(line))
  feed('one\ntw')
  t.same(lines, ['one'])
  feed('o\nthree\n')
  t.same(lines, ['one', 'two', 'three'])
  feed('')
  t.same(lines, ['one', 'two', 'three'])
})
