'use strict';
// Debian's chromium driven by playwright-core, for the console tests. Every
// page records uncaught errors, failed requests and API error answers, so a
// test can fail on anything the page did not expect; screenshots go to
// FERRY_E2E_ARTIFACTS (default: <tmp>/ferry-e2e-artifacts).

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { chromium } = require('playwright-core');

const CHROMIUM = process.env.FERRY_CHROMIUM || '/usr/bin/chromium';
const ARTIFACTS = process.env.FERRY_E2E_ARTIFACTS || path.join(os.tmpdir(), 'ferry-e2e-artifacts');

async function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
}

// A fresh browser context (its own sessionStorage) and page at `width` px,
// with the record of what happened on it: { pageErrors, failedRequests,
// badResponses, apiErrors: [{action, code, status}], calls: [{action,
// dryRun, params}] }.
async function openPage(browser, { width = 1280, height = 860 } = {}) {
  const context = await browser.newContext({ viewport: { width, height } });
  const page = await context.newPage();
  const record = { pageErrors: [], failedRequests: [], apiErrors: [], badResponses: [], calls: [] };
  page.on('request', (r) => {
    if (r.method() !== 'POST' || new URL(r.url()).pathname !== '/') return;
    const form = new URLSearchParams(r.postData() || '');
    record.calls.push({ action: form.get('Action'), dryRun: form.get('DryRun') === 'true', params: form });
  });
  page.on('pageerror', (e) => record.pageErrors.push(e.message));
  page.on('requestfailed', (r) => record.failedRequests.push(`${r.method()} ${r.url()}: ${r.failure()?.errorText}`));
  page.on('response', async (r) => {
    if (r.status() < 400) return;
    const req = r.request();
    const isApi = req.method() === 'POST' && new URL(r.url()).pathname === '/';
    if (!isApi) {
      record.badResponses.push(`${req.method()} ${r.url()}: ${r.status()}`);
      return;
    }
    const action = new URLSearchParams(req.postData() || '').get('Action');
    let code = '';
    try { code = (await r.json()).Code; } catch { /* not JSON */ }
    record.apiErrors.push({ action, code, status: r.status() });
  });
  return { context, page, record };
}

// Fails unless the page had no uncaught error, no failed request, no error
// answer for a non-API request, and only API errors whose code is in
// `expectedCodes` (DryRunOperation is the answer to every DryRun call).
function assertClean(record, expectedCodes = []) {
  const allowed = new Set(['DryRunOperation', ...expectedCodes]);
  const unexpected = record.apiErrors.filter((e) => !allowed.has(e.code));
  const problems = [
    ...record.pageErrors.map((m) => `page error: ${m}`),
    ...record.failedRequests.map((m) => `failed request: ${m}`),
    ...record.badResponses.map((m) => `error response: ${m}`),
    ...unexpected.map((e) => `unexpected API error: ${e.action} -> ${e.status} ${e.code}`),
  ];
  if (problems.length) throw new Error(problems.join('\n'));
}

let shots = 0;
async function screenshot(page, name) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `console-${String(++shots).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

async function signIn(page, endpoint, keyId, secret) {
  await page.goto(endpoint + '/');
  await page.getByLabel('AccessKey ID').fill(keyId);
  await page.getByLabel('AccessKey secret').fill(secret);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

module.exports = { launchBrowser, openPage, assertClean, screenshot, signIn, ARTIFACTS };
