/**
 * A throwaway self-signed certificate for localhost (openssl), for tests of the server speaking
 * https/wss itself. `opensslSkip` is the skip option of tests that need it (a failure under CI).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { skipWithout } from './required-tool.ts';

function opensslProblem(): string | false {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return false;
  } catch {
    return 'not installed (Debian package openssl)';
  }
}

export const opensslSkip = skipWithout('openssl', opensslProblem());

export interface TestCertificate {
  cert: Buffer;
  key: Buffer;
  certFile: string;
  keyFile: string;
}

/** A certificate valid for localhost and 127.0.0.1 for two days, removed after the test. */
export function selfSignedCertificate(t: TestContext): TestCertificate {
  const dir = mkdtempSync(join(tmpdir(), 'infinisst-tls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', keyFile, '-out', certFile,
  ], { stdio: 'ignore' });
  return { cert: readFileSync(certFile), key: readFileSync(keyFile), certFile, keyFile };
}
