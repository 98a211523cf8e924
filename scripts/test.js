#!/usr/bin/env node
/**
 * `npm test`: make sure the foreign oracles are present (installing them with apt-get when we are
 * root on Debian and not in CI), say plainly which tests cannot run here, build, then run vitest.
 * Extra arguments go to vitest (`npm test -- test/oracle`).
 *
 * In CI (.ci/run) the oracles are installed beforehand and a missing one makes its tests fail;
 * outside CI they are skipped, each with a printed reason.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Debian packages and the commands the tests use from each. */
const ORACLE_PACKAGES = [
  { pkg: 'squashfs-tools', tools: ['mksquashfs', 'unsquashfs'] },
  { pkg: 'squashfs-tools-ng', tools: ['sqfsdiff', 'rdsquashfs', 'gensquashfs'] },
  { pkg: 'attr', tools: ['getfattr', 'setfattr'] },
  { pkg: 'nix-bin', tools: ['nix-store', 'nix-build'] },
  { pkg: 'systemd-container', tools: ['systemd-dissect', 'systemd-nspawn'] },
  { pkg: 'busybox-static', tools: ['busybox'] },
  // Builds the Debian root that test/layout/portable-attach.test.ts boots (cached afterwards).
  { pkg: 'debootstrap', tools: ['debootstrap'] },
];

const ci = isCI();
const root = process.getuid?.() === 0;

function isCI() {
  const value = process.env.CI;
  return value !== undefined && value !== '' && value !== 'false' && value !== '0';
}

function say(message) {
  console.log(`[npm test] ${message}`);
}

function findExecutable(cmd) {
  const dirs = (process.env.PATH ?? '').split(delimiter).concat(['/usr/sbin', '/sbin']);
  for (const dir of dirs) {
    if (!dir) continue;
    try {
      accessSync(join(dir, cmd), constants.X_OK);
      return true;
    } catch {
      // keep looking
    }
  }
  return false;
}

function missingPackages() {
  return ORACLE_PACKAGES.filter(({ tools }) => tools.some((tool) => !findExecutable(tool)));
}

/** Runs a command with the terminal attached; returns its exit status (1 if killed). */
function runInherited(cmd, args, env = process.env) {
  say(`$ ${cmd} ${args.join(' ')}`);
  const result = spawnSync(cmd, args, { stdio: 'inherit', env });
  if (result.error) {
    say(`could not run ${cmd}: ${result.error.message}`);
    return 1;
  }
  return result.status ?? 1;
}

function installOracles(packages) {
  const debianLike = existsSync('/etc/debian_version') && findExecutable('apt-get');
  const names = packages.map((p) => p.pkg);
  if (ci) {
    say(`CI: not installing ${names.join(', ')} here (.ci/run does that); their tests will FAIL.`);
    return;
  }
  if (process.env.TSQUASHFS_NO_APT) {
    say(`TSQUASHFS_NO_APT is set: not installing ${names.join(', ')}.`);
    return;
  }
  if (!root || !debianLike) {
    say(
      `cannot install ${names.join(', ')} automatically (${root ? 'not a Debian-like system' : 'not root'}).`,
    );
    return;
  }
  say(`installing missing oracle packages: ${names.join(', ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  if (runInherited('apt-get', ['update'], env) !== 0) {
    say('apt-get update failed; continuing without the missing oracles.');
    return;
  }
  if (runInherited('apt-get', ['install', '-y', '--no-install-recommends', ...names], env) !== 0) {
    say('apt-get install failed; continuing without the missing oracles.');
  }
}

function explainPrivileges() {
  const outcome = ci ? 'FAIL' : 'be SKIPPED';
  if (!root) {
    say(
      `not running as root: kernel-mount tests (mount -o loop,ro), the booted-container ` +
        `portablectl attach test, trees with device nodes or ` +
        `arbitrary owners, trusted.* xattrs, and owner restoration by unsquashfs need root, so ` +
        `those tests will ${outcome}, each printing its reason.`,
    );
  } else if (!existsSync('/dev/loop-control')) {
    say(`no /dev/loop-control: kernel-mount tests will ${outcome}.`);
  }
}

function main() {
  let missing = missingPackages();
  if (missing.length > 0) {
    installOracles(missing);
    missing = missingPackages();
  }
  if (missing.length > 0) {
    const tools = missing.flatMap((p) => p.tools).join(', ');
    const pkgs = missing.map((p) => p.pkg).join(' ');
    say(
      `ORACLES ABSENT: ${tools} (apt-get install ${pkgs}). ` +
        `Tests that need them will ${ci ? 'FAIL (CI=true)' : 'be SKIPPED with a printed reason'}.`,
    );
  } else {
    say(`oracles present: ${ORACLE_PACKAGES.map((p) => p.pkg).join(', ')}.`);
  }
  explainPrivileges();

  const build = runInherited('npm', ['run', 'build']);
  if (build !== 0) {
    say(`build failed (exit ${build}).`);
    process.exit(build);
  }
  const report = join('.tmp', 'vitest-report.json');
  const status = runInherited('npx', [
    'vitest',
    'run',
    '--reporter=default',
    '--reporter=json',
    `--outputFile.json=${report}`,
    ...process.argv.slice(2),
  ]);
  printClosingLine(report);
  process.exit(status);
}

/**
 * vitest's own summary is not a format CI recognises, so end with the plain
 * "N passed, N failed, N skipped" line, counted from vitest's JSON report.
 */
function printClosingLine(reportPath) {
  try {
    const r = JSON.parse(readFileSync(reportPath, 'utf8'));
    const skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
    console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed, ${skipped} skipped`);
  } catch (err) {
    say(`no test report at ${reportPath}: ${err.message}`);
  }
}

main();
