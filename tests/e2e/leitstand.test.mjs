// Browser end-to-end test of the README's promise: start Leitstand, sign in
// with the printed one-time password, create a tenant, a tenant viewer and
// an API token, and the tenant viewer sees only its tenant. axe-core checks
// every page visited (WCAG 2.1 A/AA): 0 violations.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHmac } from 'node:crypto';
import * as browsers from './browser.mjs';

const NEW_PASSWORD = 'ein sehr gutes Passwort 42';

let server, base, oneTimePassword, browser, dataDir;
const checked = new Set();

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'leitstand-e2e-'));
  const env = { ...process.env };
  delete env.LEITSTAND_ADMIN_PASSWORD;
  let stderr;
  ({ server, base, stderr } = await browsers.startLeitstand(
    ['serve', '--listen', '127.0.0.1:0', '--data-dir', join(dataDir, 'data')], { env, cwd: dataDir }));
  oneTimePassword = /one-time password: (\S+)/.exec(stderr())?.[1];
  assert.ok(oneTimePassword, `one-time password printed on stderr: ${stderr()}`);
  browser = await browsers.launchChromium();
});

after(async () => {
  await browser?.close();
  server?.kill('SIGTERM');
  rmSync(dataDir, { recursive: true, force: true });
  assert.ok(checked.size >= 8, `axe ran on ${checked.size} pages`);
});

function newPage(locale = 'de-DE') {
  return browsers.newPage(browser, locale);
}

async function axe(page, label) {
  await browsers.axe(page, label);
  checked.add(label);
}

// RFC 6238 TOTP (SHA-1, 6 digits, 30 s), as an authenticator app computes it.
function totp(secret, at = Date.now()) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of secret.replace(/=+$/, '')) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(at / 1000 / 30)));
  const h = createHmac('sha1', key).update(counter).digest();
  const o = h[19] & 15;
  return ((h.readUInt32BE(o) & 0x7fffffff) % 1e6).toString().padStart(6, '0');
}

function login(page, user, password, code) {
  return browsers.login(page, base, user, password, code);
}

async function changePassword(page, current, next) {
  await page.getByLabel(/Aktuelles Passwort|Current password/).fill(current);
  await page.getByLabel(/Neues Passwort|New password/).fill(next);
  await page.getByRole('button', { name: /Passwort ändern|Change password/ }).click();
}

test('admin: first login, tenants, tenant viewer, API token — every page accessible', async () => {
  const page = await newPage();
  await page.goto(`${base}/`);
  assert.match(page.url(), /\/login$/);
  await axe(page, 'login');

  // Keyboard: the first Tab reaches the skip link.
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('href')), '#main');

  await login(page, 'admin', 'falsch-falsch-falsch');
  assert.equal(await page.getByRole('alert').innerText().then((t) => t.includes('Benutzername oder Passwort ist falsch')), true);
  await axe(page, 'login-error');

  await login(page, 'admin', oneTimePassword);
  assert.match(page.url(), /\/profile$/, 'a one-time password must be changed first');
  await axe(page, 'profile');
  await changePassword(page, oneTimePassword, NEW_PASSWORD);
  assert.match(await page.getByRole('status').innerText(), /Passwort geändert/);

  await page.goto(`${base}/`);
  await axe(page, 'dashboard');

  await page.goto(`${base}/tenants`);
  await axe(page, 'tenants-empty');
  for (const [slug, name] of [['bank-a', 'Bank A'], ['bank-b', 'Bank B']]) {
    await page.getByLabel('Kürzel').fill(slug);
    await page.getByLabel(/^Name$/).fill(name);
    await page.getByRole('button', { name: 'Mandant anlegen' }).click();
    assert.match(await page.getByRole('status').innerText(), new RegExp(`Mandant ${slug}`));
  }
  await axe(page, 'tenants');

  await page.goto(`${base}/users`);
  await page.getByLabel('Benutzername', { exact: true }).fill('viewer');
  await page.getByLabel('Rolle', { exact: true }).selectOption('tenant_viewer');
  await page.getByLabel(/Mandanten \(für/).fill('bank-a');
  await page.getByLabel('Anfangspasswort').fill('Anfangspasswort 123');
  await page.getByRole('button', { name: 'Benutzer anlegen' }).click();
  assert.match(await page.getByRole('status').innerText(), /viewer/);
  await axe(page, 'users');

  await page.goto(`${base}/tokens`);
  await axe(page, 'tokens-empty');
  await page.getByLabel('Name', { exact: true }).fill('automation');
  await page.getByRole('button', { name: 'Token erstellen' }).click();
  const token = (await page.locator('code.token').innerText()).trim();
  assert.match(token, /^lst_[0-9a-f]{64}$/);
  await axe(page, 'tokens-created');
  const me = await fetch(`${base}/api/v1/me`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(me.status, 200);
  assert.equal((await me.json()).username, 'admin');

  // The audit trail holds what was just done, searchable without JavaScript.
  await page.getByRole('link', { name: 'Audit-Trail' }).click();
  await axe(page, 'audit');
  await page.getByLabel('Aktion', { exact: true }).fill('tenant.');
  await page.getByRole('button', { name: 'Suchen', exact: true }).click();
  const rows = await page.locator('tbody tr').allInnerTexts();
  assert.equal(rows.length, 2, rows.join('\n'));
  assert.ok(rows.every((r) => r.includes('tenant.create')), rows.join('\n'));
  await axe(page, 'audit-filtered');
  const invalid = await page.goto(`${base}/audit?from=gestern`);
  assert.equal(invalid.status(), 422);
  assert.match(await page.getByRole('alert').innerText(), /from: "gestern" is not a date/);
  await axe(page, 'audit-error');

  // The effective policy: each section in force or not yet, as configured.
  await page.getByRole('link', { name: 'Richtlinie', exact: true }).click();
  await page.getByRole('heading', { name: 'Grundrichtlinie der Plattform' }).waitFor();
  assert.match(await page.locator('tbody').innerText(), /Incidents.*noch nicht in Kraft/);
  await axe(page, 'policy');

  await page.goto(`${base}/barrierefreiheit`);
  await axe(page, 'accessibility-statement');
  await page.goto(`${base}/gibt-es-nicht`);
  await axe(page, 'not-found');

  // English through the language switch in the footer.
  await page.goto(`${base}/tenants`);
  await page.getByLabel('Sprache').selectOption('en');
  await page.getByRole('button', { name: 'Sprache wechseln' }).click();
  await page.goto(`${base}/tenants`);
  assert.equal(await page.getAttribute('html', 'lang'), 'en');
  await axe(page, 'tenants-en');

  await page.getByRole('button', { name: 'Sign out' }).click();
  assert.match(page.url(), /\/login$/);
});

test('tenant viewer sees only its own tenant', async () => {
  const page = await newPage();
  await login(page, 'viewer', 'Anfangspasswort 123');
  assert.match(page.url(), /\/profile$/);
  await changePassword(page, 'Anfangspasswort 123', NEW_PASSWORD);
  await page.goto(`${base}/tenants`);
  const body = await page.locator('main').innerText();
  assert.match(body, /bank-a/);
  assert.doesNotMatch(body, /bank-b/);
  assert.equal(await page.getByRole('button', { name: 'Mandant anlegen' }).count(), 0);
  await axe(page, 'tenants-viewer');
  const res = await page.goto(`${base}/users`);
  assert.equal(res.status(), 403);
  await axe(page, 'forbidden');
});

test('two-factor sign-in with an authenticator code (admin chose English earlier)', async () => {
  const page = await newPage();
  await login(page, 'admin', NEW_PASSWORD);
  await page.goto(`${base}/profile`);
  const secret = (await page.locator('#totp-secret').innerText()).trim();
  await page.getByLabel(/Code aus der App|Code from the app/).fill(totp(secret));
  await page.getByRole('button', { name: /Zwei-Faktor-Anmeldung einschalten|Turn on two-factor sign-in/ }).click();
  assert.match(await page.getByRole('status').innerText(), /Zwei-Faktor-Anmeldung geändert|Two-factor sign-in changed/);
  await axe(page, 'profile-totp-on');
  await page.getByRole('button', { name: /Abmelden|Sign out/ }).click();

  await login(page, 'admin', NEW_PASSWORD);
  assert.match(await page.getByRole('alert').innerText(), /Einmalcode fehlt oder ist falsch|one-time code is missing or wrong/);
  // The code of the next time step: the enabling code's step is used up.
  await login(page, 'admin', NEW_PASSWORD, totp(secret, Date.now() + 30000));
  assert.equal(new URL(page.url()).pathname, '/');
});
