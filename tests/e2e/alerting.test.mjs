// Browser test of the alerting pages: Prometheus-style alerts come in
// through POST /api/v2/alerts with an ingest token; the alert list, an
// alert's page, silences (with the maintenance windows), on-call schedules
// and channels pass axe-core (WCAG 2.1 A/AA) as they are, after acting and
// with form errors shown; the signed link from the webhook message shows a
// button, acknowledges without a session, and a bad link gets a 400 page.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, axe, launchChromium, newPage as openPage, login as signIn, startLeitstand } from './browser.mjs';
const ADMIN_PASSWORD = 'ein gutes Betriebspasswort 7';

let server, base, browser, dataDir, hook, ingest, write;
const messages = [];

function listen(srv) {
  return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve(srv.address().port)));
}

function createToken(args, scope) {
  const created = spawnSync(BIN, [...args, 'token', 'create', '--user', 'admin', '--scope', scope], { cwd: dataDir, encoding: 'utf8' });
  const token = created.stdout.trim().split('\n').pop();
  assert.match(token, /^lst_/, `token: ${created.stderr}`);
  return token;
}

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'leitstand-e2e-alerting-'));
  hook = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      try { messages.push(JSON.parse(body)); } catch { /* not JSON */ }
      res.writeHead(204);
      res.end();
    });
  });
  const hookPort = await listen(hook);
  const config = join(dataDir, 'leitstand.toml');
  writeFileSync(config, `
[server]
data_dir = "${join(dataDir, 'data')}"

[alerting]
group_wait = "0s"

[[alerting.channels]]
id = "ops-hook"
name = "Ops-Webhook"
kind = "webhook"
url = "http://127.0.0.1:${hookPort}/hook"

[alerting.audiences.devops]
channels = ["ops-hook"]
[alerting.audiences.on_call]
channels = ["ops-hook"]
schedule = "primary"

[alerting.people.anna]
name = "Anna Beispiel"
[alerting.people.ben]
name = "Ben Muster"

[[alerting.schedules]]
id = "primary"
name = "Rufbereitschaft Plattform"
time_zone = "Europe/Berlin"
[[alerting.schedules.rotations]]
name = "Woche"
participants = ["anna", "ben"]
start = "2026-01-05T09:00"
length = "7d"

[[maintenance.windows]]
name = "Patch-Sonntag"
start = "0 2 * * 0"
duration = "2h"
services = ["portal"]
`);
  const env = { ...process.env, LEITSTAND_ADMIN_PASSWORD: ADMIN_PASSWORD };
  const args = ['--config', config];
  ({ server, base } = await startLeitstand([...args, 'serve', '--listen', '127.0.0.1:0'], { env, cwd: dataDir }));
  ingest = createToken(args, 'ingest');
  write = createToken(args, 'write');
  const res = await fetch(`${base}/api/v1/tenants`, {
    method: 'POST',
    headers: { authorization: `Bearer ${write}`, 'content-type': 'application/json' },
    body: JSON.stringify({ slug: 'bank-a', name: 'Bank A' }),
  });
  assert.equal(res.status, 201, await res.text());
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  server?.kill('SIGTERM');
  hook?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

async function send(alerts) {
  const res = await fetch(`${base}/api/v2/alerts`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ingest}`, 'content-type': 'application/json' },
    body: JSON.stringify(alerts),
  });
  assert.equal(res.status, 200, await res.text());
}

/** Reloads `path` until `pattern` appears in the main landmark (at most `ms`). */
async function until(page, path, pattern, ms = 20000) {
  const end = Date.now() + ms;
  for (;;) {
    await page.goto(`${base}${path}`);
    const text = await page.locator('main').innerText();
    if (pattern.test(text)) return text;
    if (Date.now() > end) assert.fail(`${path} never showed ${pattern}: ${text}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Waits until the webhook received a message about `alertname` with an acknowledgement link. */
async function ackLink(alertname, ms = 20000) {
  const end = Date.now() + ms;
  for (;;) {
    const link = messages
      .filter((m) => m?.alerts?.some((a) => a.labels?.alertname === alertname))
      .map((m) => m?.leitstand?.links?.ack)
      .find(Boolean);
    if (link) return new URL(link).pathname;
    if (Date.now() > end) assert.fail(`no message with an ack link: ${JSON.stringify(messages)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

test('alerts, an alert, silences, schedules and channels — every page accessible', async () => {
  await send([
    { labels: { alertname: 'ProbeDown', severity: 'critical', service: 'portal', tenant: 'bank-a' }, annotations: { summary: 'Portal antwortet nicht' } },
    { labels: { alertname: 'DiskFull', severity: 'warning', service: 'db' }, annotations: { summary: 'Platte fast voll' } },
  ]);
  const page = await openPage(browser);
  await signIn(page, base, 'admin', ADMIN_PASSWORD);
  await until(page, '/alerts', /ProbeDown[\s\S]*DiskFull|DiskFull[\s\S]*ProbeDown/);
  assert.ok(await page.getByRole('table', { name: /Alarme, neueste zuerst/ }).count(), 'the list is a captioned table');
  await axe(page, 'alerts');
  await page.getByLabel(/Zustand/).selectOption('firing');
  await page.getByRole('button', { name: 'Filtern' }).click();
  await axe(page, 'alerts-filtered');

  await page.getByRole('link', { name: 'ProbeDown' }).click();
  assert.match(await page.locator('main').innerText(), /Kritisch/);
  await axe(page, 'alert');
  await page.getByRole('button', { name: 'Bestätigen' }).click();
  assert.match(await page.getByRole('status').first().innerText(), /bestätigt/);
  assert.match(await page.getByRole('table', { name: /Verlauf/ }).innerText(), /bestätigt/);
  await axe(page, 'alert-acknowledged');
  await page.getByRole('button', { name: 'Notiz hinzufügen' }).click(); // empty: the browser's own check stops it
  await page.getByLabel('Notiz').fill('Neustart läuft');
  await page.getByRole('button', { name: 'Notiz hinzufügen' }).click();
  assert.match(await page.locator('main').innerText(), /Neustart läuft/);
  await axe(page, 'alert-note');

  await page.goto(`${base}/alerts/silences`);
  assert.match(await page.locator('main').innerText(), /Patch-Sonntag/);
  await axe(page, 'silences');
  await page.getByLabel(/Matcher/).fill('alertname="DiskFull"');
  await page.getByLabel(/Dauer ab jetzt/).fill('zwei Stunden');
  await page.getByLabel(/^Grund/).fill('Platte wird getauscht');
  await page.getByRole('button', { name: 'Stummschaltung anlegen' }).click();
  assert.match(await page.getByRole('alert').innerText(), /invalid duration/);
  await axe(page, 'silences-error');
  await page.getByLabel(/Dauer ab jetzt/).fill('2h');
  await page.getByRole('button', { name: 'Stummschaltung anlegen' }).click();
  assert.match(await page.getByRole('table', { name: /Stummschaltungen/ }).innerText(), /DiskFull[\s\S]*aktiv/);
  await axe(page, 'silences-created');
  await page.getByRole('button', { name: /Beenden/ }).first().click();
  assert.match(await page.getByRole('table', { name: /Stummschaltungen/ }).innerText(), /beendet/);

  await page.goto(`${base}/alerts/schedules`);
  assert.match(await page.locator('main').innerText(), /Jetzt in Rufbereitschaft: (Anna Beispiel|Ben Muster)/);
  await axe(page, 'schedules');
  const tomorrow = new Date(Date.now() + 86400000).toISOString().slice(0, 10);
  await page.getByLabel(/^Person/).selectOption('anna');
  await page.getByLabel(/^Beginn/).fill(`${tomorrow}T08:00`);
  await page.getByLabel(/^Ende/).fill(`${tomorrow}T18:00`);
  await page.getByLabel(/^Grund/).fill('Tausch');
  await page.getByRole('button', { name: /Vertretung eintragen/ }).click();
  assert.match(await page.getByRole('status').first().innerText(), /Vertretung ist eingetragen/);
  assert.match(await page.getByRole('table', { name: /Vertretungen/ }).innerText(), /Anna Beispiel[\s\S]*Tausch/);
  await axe(page, 'schedules-override');
  await page.getByRole('button', { name: /Entfernen/ }).click();
  assert.match(await page.getByRole('status').first().innerText(), /Vertretung ist entfernt/);
  const ics = await page.request.get(`${base}/api/v1/schedules/primary/calendar.ics`);
  assert.equal(ics.headers()['content-type'], 'text/calendar; charset=utf-8');

  await page.goto(`${base}/alerts/channels`);
  await axe(page, 'channels');
  await page.getByRole('button', { name: /Test senden/ }).click();
  assert.match(await page.getByRole('status').first().innerText(), /Testnachricht über Ops-Webhook zugestellt/);
  await axe(page, 'channels-tested');

  await page.goto(`${base}/alerts`);
  await page.locator('#language-select').selectOption('en');
  await page.getByRole('button', { name: /Sprache wechseln/ }).click();
  await page.goto(`${base}/alerts`);
  assert.equal(await page.locator('h1').innerText(), 'Alerts');
  await axe(page, 'alerts-en');
});

test('the signed link in a message: a button on GET, acknowledged on POST, no session', async () => {
  await send([{ labels: { alertname: 'QueueStuck', severity: 'critical', service: 'orders' }, annotations: { summary: 'Warteschlange steht' } }]);
  const path = await ackLink('QueueStuck');
  const page = await openPage(browser);
  const res = await page.goto(`${base}${path}`);
  assert.equal(res.status(), 200);
  assert.match(await page.locator('main').innerText(), /Aktion/);
  await axe(page, 'link-confirm');
  await page.getByRole('button', { name: 'Bestätigen' }).click();
  assert.match(await page.getByRole('status').innerText(), /Der Alarm ist bestätigt|Vorgemerkt/);
  await axe(page, 'link-done');
  const bad = await page.goto(`${base}/alerts/act/AAAA`);
  assert.equal(bad.status(), 400);
  assert.match(await page.locator('main').innerText(), /ungültig oder abgelaufen/);
  await axe(page, 'link-invalid');
});
