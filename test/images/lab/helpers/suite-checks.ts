// One VM-lab suite's report as tap assertions: every check the suite expects (a missing one fails with
// "never reported"), any extra check the guest reported, the guest's exit status, and on failure the
// console's tail for whoever reads the log.
import type { Test } from 'tap'
import { suiteVerdictLine, type ScenarioSuite, type SuiteReport } from '../../../../images/lab/vm/vm-suite.js'

export function assertSuite(t: Test, suite: ScenarioSuite, report: SuiteReport, consoleTailLines = 80): void {
  t.comment(suiteVerdictLine(suite, report))
  for (const name of suite.checks) {
    const check = report.checks.find(c => c.name === name)
    t.ok(check?.ok, `${name}: ${check?.detail ?? 'never reported by the guest'}`)
  }
  for (const check of report.checks.filter(c => !suite.checks.includes(c.name))) t.ok(check.ok, `${check.name}: ${check.detail}`)
  t.equal(report.run.exitCode, 0, 'the guest scenario script exited 0')
  if (!report.ok) t.comment(report.run.console.split('\n').slice(-consoleTailLines).join('\n'))
}
