// `npm run lab:vm`: runs one VM scenario suite alone (one boot of Debian's kernel under QEMU TCG) and
// prints a one-line verdict. Exit 0 on PASS, 1 on FAIL, 2 on bad arguments.
import { parseArgs } from 'node:util'
import { daemonVerdictLine, runDaemonSuite } from './daemon-suite.js'
import { GRE_SUITE } from './gre-suite.js'
import { HUB_SUITE } from './hub-suite.js'
import { IPSEC_SUITE } from './ipsec-suite.js'
import { defaultRunInVmDeps } from './run-in-vm.js'
import { KERNEL_SUITE, runSuite, suiteVerdictLine, type ScenarioSuite } from './vm-suite.js'

const SUITES: Readonly<Record<string, ScenarioSuite>> = { kernel: KERNEL_SUITE, gre: GRE_SUITE, ipsec: IPSEC_SUITE, hub: HUB_SUITE }

const HELP = `usage: npm run lab:vm -- [--suite NAME | --daemon] [--quiet] [--timeout SECONDS]

Boots Debian's linux-image-amd64 kernel under QEMU TCG (no KVM) with a busybox initramfs, the host's /usr
and /etc and this repo shared read-only over 9p, and runs the VM scenario suite inside:
GRE, kernel ESP (rfc4106(gcm(aes)) over an xfrm interface), netem delay, and the retail-branch lab
topology with its provider profiles (broadband 15 ms, LTE 45 ms ± 8 ms, MPLS 8 ms).
The kernel, its modules and the initramfs are cached in /var/cache/sdwan-edge/vm (SDWAN_LAB_CACHE);
the first run downloads the kernel with apt-get (run as root; needs images/setup-host.sh done).

  --suite NAME       kernel (the default: the above), or
                     gre    the real KernelPort on GRE/ip6gre links, the real daemon with ERP over GRE
                     ipsec  the daemon on kernel ESP with xfrm interfaces, GRE over IPsec
                     hub    the hub mode terminating an edge's two tunnels, replies on their own tunnel
  --daemon           run the real daemon's scenarios instead: VoIP through LTE jitter and loss brownouts
                     (netem), failback, guest never in a tunnel, every step in the decision log
  --quiet            print only the check lines and the verdict, not the guest console
  --timeout SECONDS  kill the VM after this long (default: the suite's own, 420-600)
  -h, --help         this text
`

async function main(argv: string[]): Promise<number> {
  let values
  try {
    ;({ values } = parseArgs({
      args: argv,
      options: {
        quiet: { type: 'boolean' },
        daemon: { type: 'boolean' },
        suite: { type: 'string' },
        timeout: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }))
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${HELP}`)
    return 2
  }
  if (values.help) {
    process.stdout.write(HELP)
    return 0
  }
  const suite = SUITES[values.suite ?? 'kernel']
  if (suite === undefined) {
    process.stderr.write(`--suite ${values.suite}: expected one of ${Object.keys(SUITES).join(', ')}\n`)
    return 2
  }
  if (values.daemon && values.suite !== undefined) {
    process.stderr.write('--daemon and --suite: give one\n')
    return 2
  }
  const timeoutS = values.timeout === undefined ? undefined : Number(values.timeout)
  if (timeoutS !== undefined && !(timeoutS > 0)) {
    process.stderr.write(`--timeout ${values.timeout}: expected a positive number of seconds\n`)
    return 2
  }
  const timeout = timeoutS === undefined ? {} : { timeoutMs: timeoutS * 1000 }
  const deps = defaultRunInVmDeps(line => process.stderr.write(`lab:vm: ${line}\n`))
  if (values.daemon) {
    const daemonReport = await runDaemonSuite({ ...timeout, onConsole: values.quiet ? undefined : text => process.stdout.write(text) }, deps)
    if (values.quiet) for (const check of daemonReport.checks) process.stdout.write(`${check.ok ? 'ok  ' : 'FAIL'} ${check.name}: ${check.detail}\n`)
    process.stdout.write(`${daemonVerdictLine(daemonReport)}\n`)
    return daemonReport.ok ? 0 : 1
  }
  const report = await runSuite(suite, { ...timeout, ...(values.quiet ? {} : { onConsole: (text: string) => process.stdout.write(text) }) }, deps)
  if (values.quiet) for (const check of report.checks) process.stdout.write(`${check.ok ? 'ok  ' : 'FAIL'} ${check.name}: ${check.detail}\n`)
  process.stdout.write(`${suiteVerdictLine(suite, report)}\n`)
  return report.ok ? 0 : 1
}

main(process.argv.slice(2)).then(
  code => process.exit(code),
  (error: Error) => {
    process.stdout.write(`lab:vm FAIL ${error.name}: ${error.message}\n`)
    process.exit(1)
  },
)
