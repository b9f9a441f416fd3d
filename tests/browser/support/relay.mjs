// The real relay for the browser tests: a supervisor (master + workers) on
// free ports of 127.0.0.1, and a NATS server for cluster tests, each started
// as a child process, read for its ready line and stopped by pid.
//
// Paths come from ctest (tests/CMakeLists.txt sets them); run by hand, they
// default to this checkout's deploy/ and build/.
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const SUPERVISOR = process.env.SPRITES_SUPERVISOR || path.join(repo, 'deploy/sprites-supervisor');
const BIN_DIR = process.env.SPRITES_BIN_DIR || path.join(repo, 'build');
const NATS_SERVER = process.env.SPRITES_NATS_SERVER || '/usr/sbin/nats-server';
const START_GUARD_MS = 30000;
const STOP_GUARD_MS = 10000;

// Starts `argv` and resolves with the first match of `pattern` in what it
// prints on `stream` ('stdout' or 'stderr'), or rejects with all it printed.
// (The supervisor's ready line is on stdout; its logs, which quote that line,
// are on stderr.)
function startChild(argv, pattern, what, stream) {
  const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let watched = '';
  return new Promise((resolve, reject) => {
    const guard = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${what} was not ready within ${START_GUARD_MS} ms:\n${output}`));
    }, START_GUARD_MS);
    const read = (name) => (chunk) => {
      output += chunk;
      if (name !== stream) return;
      watched += chunk;
      const m = watched.match(pattern);
      if (m) {
        clearTimeout(guard);
        resolve({ child, match: m, output: () => output });
      }
    };
    child.stdout.setEncoding('utf8').on('data', read('stdout'));
    child.stderr.setEncoding('utf8').on('data', read('stderr'));
    child.on('exit', (code, signal) => {
      clearTimeout(guard);
      reject(new Error(`${what} exited (${code ?? signal}) before it was ready:\n${output}`));
    });
  });
}

async function stopChild(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const guard = setTimeout(() => child.kill('SIGKILL'), STOP_GUARD_MS);
  await exited;
  clearTimeout(guard);
}

// A relay with `args` added to the supervisor's; resolves once it printed its
// ready line. {master, worker, admin (with --admin-port): base URLs, relayId,
// pid, stop()}; the URLs are https:// when `args` give --tls-cert.
export async function startRelay(args = []) {
  const scheme = args.includes('--tls-cert') ? 'https' : 'http';
  const argv = [SUPERVISOR, '--bin-dir', BIN_DIR, '--host', '127.0.0.1', '--master-port', '0', '--worker-port', '0',
                '--workers', '1', ...args];
  const { child, match } = await startChild(
    argv, /^ready master=(\S+) worker=(\S+) workers=\d+(?: relay=(\S+))?(?: admin=(\S+))?\n/m, 'the relay', 'stdout');
  return {
    master: `${scheme}://${match[1]}`,
    worker: `${scheme}://${match[2]}`,
    relayId: match[3],
    admin: match[4] && `${scheme}://${match[4]}`,
    pid: child.pid,
    stop: () => stopChild(child),
  };
}

// A CA and a certificate for 127.0.0.1 and localhost, made with the openssl
// command in a fresh private folder: {cert, key, ca, dir}.
export function makeCertificate() {
  const dir = mkdtempSync(path.join(tmpdir(), 'sprites-browser-tls-'));
  const run = (...args) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const file = (name) => path.join(dir, name);
  run('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
      '-subj', '/CN=sprites browser test CA', '-keyout', file('ca.key'), '-out', file('ca.pem'));
  run('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=127.0.0.1',
      '-keyout', file('relay.key'), '-out', file('relay.csr'));
  writeFileSync(file('ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  run('x509', '-req', '-in', file('relay.csr'), '-CA', file('ca.pem'), '-CAkey', file('ca.key'), '-CAcreateserial',
      '-days', '1', '-extfile', file('ext'), '-out', file('relay.pem'));
  chmodSync(file('relay.key'), 0o600);
  return { cert: file('relay.pem'), key: file('relay.key'), ca: file('ca.pem'), dir };
}

// A NATS server on a free port of 127.0.0.1: {url, stop()}.
export async function startNats() {
  const { child, match } = await startChild(
    [NATS_SERVER, '-a', '127.0.0.1', '-p', '-1'], /Listening for client connections on 127\.0\.0\.1:(\d+)/,
    'nats-server', 'stderr');
  return { url: `nats://127.0.0.1:${match[1]}`, stop: () => stopChild(child) };
}

// Pids of the processes named `name` whose parent is `parent` (from /proc).
export function childrenNamed(parent, name) {
  const pids = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid ...: comm may hold spaces, so split after the last ')'.
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === parent && comm === name.slice(0, 15)) pids.push(Number(entry));
    } catch { /* gone meanwhile */ }
  }
  return pids;
}

// JSON of GET `url`.
export async function getJson(url) {
  const res = await fetch(url);
  if (res.status !== 200) throw new Error(`GET ${url}: ${res.status} ${await res.text()}`);
  return res.json();
}
