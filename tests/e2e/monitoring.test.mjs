// Browser test of the monitoring pages: Leitstand probes a local web server
// (a tenant's) and a TCP port (the platform's) and scrapes its /metrics;
// the probe, target and rule pages pass axe-core (WCAG 2.1 A/AA) with the
// target up and down; stopping the web server turns its probe down and
// fires ProbeDown; a tenant viewer sees only its tenant's probe.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, axe, launchChromium, newPage as openPage, login as signIn, startLeitstand } from './browser.mjs';
const ADMIN_PASSWORD = 'ein gutes Betriebspasswort 7';

let server, base, browser, dataDir, portal, portalPort, token;

function listen(srv) {
  return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve(srv.address().port)));
}

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'leitstand-e2e-mon-'));
  portal = createServer((req, res) => {
    if (req.url === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end('# TYPE queue_depth gauge\nqueue_depth{queue="orders"} 42\n');
    } else {
      res.end('portal ready');
    }
  });
  portalPort = await listen(portal);
  const config = join(dataDir, 'leitstand.toml');
  writeFileSync(config, `
[server]
data_dir = "${join(dataDir, 'data')}"

[monitoring]
probe_down_for = "1s"
probe_down_interval = "1s"

[[monitoring.probes]]
id = "portal-web"
name = "Portal (Bank A)"
kind = "http"
target = "http://127.0.0.1:${portalPort}/"
body_contains = "ready"
interval = "1s"
timeout = "1s"
retries = 0
tenant = "bank-a"
service = "portal"

[[monitoring.probes]]
id = "platform-tcp"
kind = "tcp"
target = "127.0.0.1:${portalPort}"
interval = "1s"
timeout = "1s"

[[monitoring.targets]]
id = "portal"
url = "http://127.0.0.1:${portalPort}/metrics"
interval = "1s"
tenant = "bank-a"
`);
  const env = { ...process.env, LEITSTAND_ADMIN_PASSWORD: ADMIN_PASSWORD };
  const args = ['--config', config];
  ({ server, base } = await startLeitstand([...args, 'serve', '--listen', '127.0.0.1:0'], { env, cwd: dataDir }));
  const created = spawnSync(BIN, [...args, 'token', 'create', '--user', 'admin', '--scope', 'write'], { cwd: dataDir, encoding: 'utf8' });
  token = created.stdout.trim().split('\n').pop();
  assert.match(token, /^lst_/, `token: ${created.stderr}`);
  const api = async (path, body) => {
    const res = await fetch(`${base}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    assert.equal(res.status, 201, `${path}: ${await res.text()}`);
  };
  await api('/api/v1/tenants', { slug: 'bank-a', name: 'Bank A' });
  await api('/api/v1/users', { username: 'viewer-a', role: 'tenant_viewer', password: 'Anfangspasswort 123', tenants: ['bank-a'] });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  server?.kill('SIGTERM');
  portal?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

function newPage() {
  return openPage(browser);
}

function login(page, user, password) {
  return signIn(page, base, user, password);
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

test('probes, targets and rules: up, then down with ProbeDown firing — every page accessible', async () => {
  const page = await newPage();
  await login(page, 'admin', ADMIN_PASSWORD);
  await until(page, '/probes', /Portal \(Bank A\)\s+erreichbar/);
  await axe(page, 'probes-up');
  await until(page, '/probes/portal-web', /Antwortzeiten/);
  assert.equal(await page.locator('svg[role="img"] desc').count(), 1, 'the chart has a text alternative');
  assert.ok(await page.getByRole('table', { name: /letzten Ergebnisse/ }).count(), 'results as a table');
  await axe(page, 'probe-detail-up');
  await until(page, '/targets', /portal\s+erreichbar/);
  await axe(page, 'targets');
  await page.goto(`${base}/rules`);
  assert.match(await page.locator('main').innerText(), /Kann nicht auslösen – es fehlen die Metriken|noch nicht ausgewertet/);
  await axe(page, 'rules');

  await new Promise((resolve) => { portal.close(resolve); portal.closeAllConnections?.(); });
  await until(page, '/probes', /Portal \(Bank A\)\s+ausgefallen/);
  await axe(page, 'probes-down');
  await until(page, '/probes/portal-web', /Ausfälle in diesem Monat/);
  await axe(page, 'probe-detail-down');
  const rules = await until(page, '/rules', /ProbeDown\s+ausgelöst/);
  assert.match(rules, /127\.0\.0\.1:\d+\/? ist nicht erreichbar/);
  await axe(page, 'rules-firing');
  await page.goto(`${base}/`);
  const overview = await page.locator('main').innerText();
  // Under its severity, "Kritisch", with what the rule says.
  assert.match(overview, /Kritisch: \d+\nProbeDown – .*ist nicht erreichbar/);
  assert.match(overview, /2 Prüfungen, davon 1 ausgefallen|2 Prüfungen, davon 2 ausgefallen/);
  await axe(page, 'dashboard-alerts');
});

test('a tenant viewer sees only its tenant’s probes', async () => {
  const page = await newPage();
  await login(page, 'viewer-a', 'Anfangspasswort 123');
  await page.getByLabel(/Aktuelles Passwort/).fill('Anfangspasswort 123');
  await page.getByLabel(/Neues Passwort/).fill('ein neues Passwort 99');
  await page.getByRole('button', { name: /Passwort ändern/ }).click();
  await page.goto(`${base}/probes`);
  const text = await page.locator('main').innerText();
  assert.match(text, /Portal \(Bank A\)/);
  assert.doesNotMatch(text, /platform-tcp/);
  const other = await page.goto(`${base}/probes/platform-tcp`);
  assert.equal(other.status(), 404);
  await axe(page, 'probes-viewer');
});
