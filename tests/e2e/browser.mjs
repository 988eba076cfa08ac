// What the browser tests share: starting Leitstand and waiting for its
// "ready" line, headless Chromium with this machine's flags, axe-core
// (WCAG 2.1 A/AA and best practice, 0 violations) and the sign-in form.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join, dirname, resolve as resolvePath } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const AXE = require.resolve('axe-core/axe.min.js');
export const BIN = resolvePath(process.env.LEITSTAND_BIN ?? join(here, '../../target/debug/leitstand'));
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

/** Starts `leitstand ARGS`; resolves with the process, its base URL and a getter for stderr. */
export async function startLeitstand(args, options) {
  const server = spawn(BIN, args, options);
  let stderr = '';
  server.stderr.on('data', (d) => { stderr += d; });
  const base = await new Promise((resolve, reject) => {
    let out = '';
    server.on('error', reject);
    server.on('exit', (code) => reject(new Error(`leitstand exited with ${code}: ${stderr}`)));
    const timer = setTimeout(() => reject(new Error(`no ready line; stderr: ${stderr}`)), 30000);
    server.stdout.on('data', (d) => {
      out += d;
      for (const line of out.split('\n')) {
        try {
          const event = JSON.parse(line);
          if (event.message === 'ready') { clearTimeout(timer); resolve(`http://${event.listen}`); }
        } catch { /* partial line */ }
      }
    });
  });
  return { server, base, stderr: () => stderr };
}

/** Headless Chromium with the flags this closed network needs. */
export function launchChromium() {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
}

/** A new page; the CSP forbids scripts, and axe-core is injected, so CSP is bypassed. */
export async function newPage(browser, locale = 'de-DE') {
  const context = await browser.newContext({ locale, bypassCSP: true, javaScriptEnabled: true });
  return context.newPage();
}

/** Runs axe-core on the page; fails the test on any violation. */
export async function axe(page, label) {
  await page.addScriptTag({ path: AXE });
  const result = await page.evaluate(async () =>
    // eslint-disable-next-line no-undef
    axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } }));
  const summary = result.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`);
  assert.deepEqual(summary, [], `axe violations on ${label} (${page.url()})`);
}

/** Fills and sends the sign-in form. */
export async function login(page, base, user, password, code) {
  await page.goto(`${base}/login`);
  await page.getByLabel(/Benutzername|User name/).fill(user);
  await page.getByLabel(/^(Passwort|Password)$/).fill(password);
  if (code) await page.getByLabel(/Einmalcode|One-time code/).fill(code);
  await page.getByRole('button', { name: /Anmelden|Sign in/ }).click();
}
