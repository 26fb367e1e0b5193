'use strict';
// The web console in a real browser (Debian's chromium, playwright-core),
// through the seed's Procedure: sign in, pick a region, Images, Copy Image to
// two regions, switch to a target region and watch the progress bar reach
// 100 % and the status become Available, start another copy and cancel it,
// share an image and find it under the other account's Shared tab; a wrong
// key, an expired session, names the API refuses, markup in a description,
// the keyboard, and 390 px. Elements are found by role and visible text.
// Screenshots of each step go to FERRY_E2E_ARTIFACTS.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { startFerry, freeLoopbackPort, clusterKeys } = require('./lib/ferry_server');
const { popCoreClient } = require('./lib/clients');
const { putRawImage, importAvailableImage, MiB } = require('./lib/images');
const { pollUntil } = require('./lib/wait');
const { launchBrowser, openPage, assertClean, screenshot, signIn } = require('./lib/browser');

const BUCKET = 'e2e-console';
// Two processes: the console is served by A (cn-hangzhou), which forwards
// the requests for B's regions (cn-beijing, cn-shanghai). B pulls copies one
// chunk at a time at 2 MiB/s (charged after each 4 MiB chunk): the six data
// chunks of the test image take ~10 s, long enough to watch the progress
// move and to cancel one.
const COPY_RATE = String(2 << 20);

let server;
let serverB;
let browser;
let root;
let sourceId;
let secondId;  // other bytes: its copy has to move them, and is cancelled
let largeId;   // 2 GiB: over A's --max-copy-size-gib 1
let other;

before(async () => {
  const keys = clusterKeys();
  const [portA, portB] = [await freeLoopbackPort(), await freeLoopbackPort()];
  const peersOfA = { 'cn-beijing': `http://127.0.0.1:${portB}`, 'cn-shanghai': `http://127.0.0.1:${portB}` };
  [server, serverB] = await Promise.all([
    startFerry({ regions: ['cn-hangzhou'], port: portA, peers: peersOfA, keys, extraArgs: ['--max-copy-size-gib', '1'] }),
    startFerry({ regions: ['cn-beijing', 'cn-shanghai'], port: portB, peers: { 'cn-hangzhou': `http://127.0.0.1:${portA}` },
      keys, extraArgs: ['--copy-rate-limit', COPY_RATE, '--copy-in-flight', '1'] }),
  ]);
  root = popCoreClient(server);
  await putRawImage(server, BUCKET, 'disk.raw');
  sourceId = await importAvailableImage(root, { region: 'cn-hangzhou', bucket: BUCKET, object: 'disk.raw', name: 'console-source' });
  // 48 MiB of data, 12 chunks: its copy runs ~20 s, ample time to cancel it.
  fs.writeFileSync(path.join(server.bucketDir(BUCKET), 'second.raw'), crypto.randomBytes(48 * MiB));
  secondId = await importAvailableImage(root, { region: 'cn-hangzhou', bucket: BUCKET, object: 'second.raw', name: 'console-second' });
  await putRawImage(server, BUCKET, 'large.raw', 2048 * MiB);
  largeId = await importAvailableImage(root, { region: 'cn-hangzhou', bucket: BUCKET, object: 'large.raw', name: 'console-large' });
  other = await server.createAccount('console-other');
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  await Promise.all([server?.stop(), serverB?.stop()]);
});

// Signed in as root, cn-hangzhou picked in the top bar.
async function signedIn(width) {
  const opened = await openPage(browser, { width });
  await signIn(opened.page, server.endpoint, server.accessKeyId, server.accessKeySecret);
  await opened.page.getByRole('heading', { name: 'Images', exact: true }).waitFor();
  await opened.page.getByLabel('Region').selectOption('cn-hangzhou');
  return opened;
}

function row(page, text) {
  return page.getByRole('row').filter({ hasText: text });
}

test('a wrong key is refused at sign-in with the reason', async () => {
  const { page, record, context } = await openPage(browser);
  await signIn(page, server.endpoint, server.accessKeyId, 'not-the-secret');
  const alert = page.getByRole('alert');
  await alert.waitFor();
  assert.match(await alert.innerText(), /SignatureDoesNotMatch/);
  await screenshot(page, 'wrong-key');
  await signIn(page, server.endpoint, 'LTAInobodyhas', 'whatever');
  await pollUntil(async () => (/InvalidAccessKeyId\.NotFound/.test(await alert.innerText()) ? true : undefined),
    { what: 'the unknown key error' });
  assert.equal(await page.getByRole('heading', { name: 'Images', exact: true }).count(), 0);
  assertClean(record, ['SignatureDoesNotMatch', 'InvalidAccessKeyId.NotFound']);
  await context.close();
});

test('copy to two regions, watch it finish, then start and cancel another', async () => {
  const { page, record, context } = await signedIn(1280);
  const regions = await page.getByLabel('Region').locator('option').allInnerTexts();
  assert.deepEqual(regions.map((r) => /\((cn-[a-z]+)\)$/.exec(r)?.[1]).sort(), ['cn-beijing', 'cn-hangzhou', 'cn-shanghai']);
  await row(page, sourceId).waitFor();
  await screenshot(page, 'images-hangzhou');

  // The seed's dialog: the image id for checking, target regions, name.
  await page.getByRole('button', { name: `Copy Image ${sourceId}` }).click();
  const dialog = page.getByRole('dialog', { name: 'Copy image' });
  await dialog.waitFor();
  assert.match(await dialog.innerText(), new RegExp(sourceId));
  await dialog.getByRole('checkbox', { name: /cn-beijing/ }).check();
  await dialog.getByRole('checkbox', { name: /cn-shanghai/ }).check();
  await dialog.getByLabel('Name of the copy').fill('console-copy');
  await dialog.getByLabel('Description').fill('Copied from the console');
  await screenshot(page, 'copy-dialog');
  await dialog.getByRole('button', { name: 'OK' }).click();

  const started = page.getByRole('dialog', { name: 'Copy started' });
  await started.waitFor();
  const text = await started.innerText();
  const copyId = /copying into (m-[a-z0-9]+)/.exec(text)?.[1];
  assert.ok(copyId, text);
  assert.match(text, /cn-shanghai.*starts when the copy before it has finished/s);
  await screenshot(page, 'copy-started');
  await started.getByRole('link', { name: 'View Images in cn-beijing' }).click();
  assert.equal(await page.getByLabel('Region').inputValue(), 'cn-beijing');

  // The progress bar moves up to 100 % and the status becomes Available,
  // without a reload.
  const copyRow = row(page, copyId);
  await copyRow.waitFor();
  const seen = new Set();
  await pollUntil(async () => {
    const bar = copyRow.getByRole('progressbar');
    if (await bar.count()) seen.add(Number(await bar.getAttribute('aria-valuenow')));
    return (await copyRow.innerText()).includes('Available') ? true : undefined;
  }, { timeoutMs: 120_000, intervalMs: 250, what: `copy ${copyId} Available`, describe: () => [...seen] });
  assert.ok([...seen].some((v) => v > 0 && v < 100), `progress seen: ${[...seen]}`);
  assert.equal(await copyRow.getByRole('progressbar').count(), 0);
  await screenshot(page, 'copy-available');
  const navigations = record.calls.length;
  assert.ok(navigations > 0);

  // The second region's copy starts by itself once the first has finished.
  await page.getByLabel('Region').selectOption('cn-shanghai');
  const shanghaiRow = row(page, 'console-copy');
  await shanghaiRow.waitFor({ timeout: 60_000 });
  await pollUntil(async () => ((await shanghaiRow.innerText()).includes('Available') ? true : undefined),
    { timeoutMs: 120_000, what: 'the cn-shanghai copy Available' });
  await screenshot(page, 'copy-shanghai-available');

  // Another copy, cancelled while it runs: it vanishes from the list.
  await page.getByLabel('Region').selectOption('cn-hangzhou');
  await page.getByRole('button', { name: `Copy Image ${secondId}` }).click();
  await dialog.getByRole('checkbox', { name: /cn-beijing/ }).check();
  await dialog.getByLabel('Name of the copy').fill('console-cancel');
  await dialog.getByRole('button', { name: 'OK' }).click();
  const cancelId = /copying into (m-[a-z0-9]+)/.exec(await started.innerText())?.[1];
  assert.ok(cancelId);
  await started.getByRole('link', { name: 'View Images in cn-beijing' }).click();
  await row(page, cancelId).waitFor();
  await page.getByRole('button', { name: `Cancel Copy ${cancelId}` }).click();
  const confirm = page.getByRole('dialog', { name: 'Cancel copy' });
  assert.match(await confirm.innerText(), new RegExp(cancelId));
  await screenshot(page, 'cancel-confirm');
  await confirm.getByRole('button', { name: 'Cancel Copy', exact: true }).click();
  await pollUntil(async () => ((await row(page, cancelId).count()) === 0 ? true : undefined),
    { timeoutMs: 30_000, what: `cancelled copy ${cancelId} gone from the list` });
  await screenshot(page, 'cancelled');
  const left = await root.request('DescribeImages', { RegionId: 'cn-beijing', ImageId: cancelId, Status: 'Creating,Waiting,Available,CreateFailed' });
  assert.equal(left.Images.Image.length, 0);
  assertClean(record);
  await context.close();
});

test('an image shared with another account shows under its Shared tab', async () => {
  const { page, record, context } = await signedIn(1280);
  await page.getByRole('button', { name: `Share ${sourceId}` }).click();
  const dialog = page.getByRole('dialog', { name: 'Share image' });
  await dialog.getByLabel('Share with accounts').fill(other.AccountId);
  await dialog.getByRole('button', { name: 'Share', exact: true }).click();
  await dialog.getByText(other.AccountId, { exact: true }).waitFor();
  await screenshot(page, 'shared');
  await dialog.getByRole('button', { name: 'Close', exact: true }).first().click();
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByLabel('AccessKey ID').waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.length), 0, 'signing out forgets the key');
  assertClean(record);
  await context.close();

  const second = await openPage(browser);
  await signIn(second.page, server.endpoint, other.AccessKeyId, other.AccessKeySecret);
  await second.page.getByLabel('Region').selectOption('cn-hangzhou');
  // The top bar names the account the key belongs to (STS GetCallerIdentity).
  await second.page.getByRole('banner').getByText(`console-other · ${other.AccountId}`, { exact: true }).waitFor();
  await second.page.getByRole('tab', { name: 'Shared images' }).click();
  const sharedRow = row(second.page, sourceId);
  await sharedRow.waitFor();
  assert.match(await sharedRow.innerText(), /Shared/);
  // A recipient may launch it, not copy, share, export or delete it.
  assert.equal(await sharedRow.getByRole('button', { name: `Create Instance ${sourceId}` }).count(), 1);
  for (const action of ['Copy Image', 'Share', 'Export', 'Delete']) {
    assert.equal(await sharedRow.getByRole('button', { name: `${action} ${sourceId}` }).count(), 0, action);
  }
  await screenshot(second.page, 'shared-tab-other-account');
  assertClean(second.record);
  await second.context.close();
});

test('the form refuses what the API refuses, with the same rule, and sends nothing', async () => {
  const { page, record, context } = await signedIn(1280);
  await page.getByRole('button', { name: `Copy Image ${sourceId}` }).click();
  const dialog = page.getByRole('dialog', { name: 'Copy image' });
  await dialog.getByRole('checkbox', { name: /cn-beijing/ }).check();
  await dialog.getByLabel('Name of the copy').fill('9lives');
  await dialog.getByText('The name must start with a letter or a Chinese character.').waitFor();
  await dialog.getByLabel('Description').fill('http://example.invalid');
  await dialog.getByText('The description must not start with http:// or https://.').waitFor();
  await dialog.getByRole('button', { name: 'OK' }).click();
  await screenshot(page, 'form-refused');
  assert.equal(await dialog.count(), 1);
  assert.deepEqual(record.calls.filter((c) => c.action === 'CopyImage' && !c.dryRun), []);
  // The API's own rule agrees.
  await assert.rejects(root.request('CopyImage', {
    RegionId: 'cn-hangzhou', ImageId: sourceId, DestinationRegionId: 'cn-beijing', DestinationImageName: '9lives',
  }), /InvalidImageName\.Malformed/);
  assertClean(record);
  await context.close();
});

test('markup in a description is shown as text', async () => {
  const markup = '<img src=x onerror="window.__pwned=1"><b>bold</b>';
  await root.request('ModifyImageAttribute', { RegionId: 'cn-hangzhou', ImageId: sourceId, Description: markup });
  const { page, record, context } = await signedIn(1280);
  const sourceRow = row(page, sourceId);
  await sourceRow.getByText(markup, { exact: true }).waitFor();
  assert.equal(await sourceRow.locator('img, b').count(), 0);
  assert.equal(await page.evaluate(() => window.__pwned), undefined);
  await screenshot(page, 'markup-as-text');
  assertClean(record);
  await context.close();
});

test('dialogs work from the keyboard: focus moves in, Escape closes, focus returns', async () => {
  const { page, record, context } = await signedIn(1280);
  const opener = page.getByRole('button', { name: `Copy Image ${sourceId}` });
  await opener.focus();
  await page.keyboard.press('Enter');
  const dialog = page.getByRole('dialog', { name: 'Copy image' });
  await dialog.waitFor();
  assert.equal(await page.evaluate(() => !!document.activeElement.closest('[role=dialog]')), true);
  for (let i = 0; i < 12; i++) await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => !!document.activeElement.closest('[role=dialog]')), true, 'Tab stays inside');
  await page.keyboard.press('Escape');
  await pollUntil(async () => ((await dialog.count()) === 0 ? true : undefined), { what: 'the dialog closed' });
  assert.equal(await opener.evaluate((el) => el === document.activeElement), true);

  // The image-type tabs: arrows move the selection and the focus along.
  const custom = page.getByRole('tab', { name: 'Custom images' });
  await custom.focus();
  await page.keyboard.press('ArrowRight');
  const publicTab = page.getByRole('tab', { name: 'Public images' });
  await pollUntil(async () => ((await publicTab.getAttribute('aria-selected')) === 'true' ? true : undefined),
    { what: 'ArrowRight selects the next tab' });
  await pollUntil(async () => (await publicTab.evaluate((el) => el === document.activeElement) ? true : undefined),
    { what: 'the focus follows the selected tab' });
  await page.keyboard.press('Home');
  await pollUntil(async () => ((await custom.getAttribute('aria-selected')) === 'true' ? true : undefined),
    { what: 'Home selects the first tab' });
  assertClean(record);
  await context.close();
});

test('readable at 390 px: no sideways scrolling, every page reachable', async () => {
  const { page, record, context } = await signedIn(390);
  await row(page, sourceId).waitFor();
  await screenshot(page, 'images-390');
  for (const name of ['Snapshots', 'Instances', 'Tasks', 'Images']) {
    await page.getByRole('link', { name, exact: true }).click();
    await page.getByRole('heading', { name, exact: true }).waitFor();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `${name} is ${overflow} px wider than the screen`);
    await screenshot(page, `${name.toLowerCase()}-390`);
  }
  assertClean(record);
  await context.close();
});

test('a key that stops working sends the user back to sign-in with the reason', async () => {
  const { page, record, context } = await signedIn(1280);
  await page.evaluate(() => {
    const key = JSON.parse(sessionStorage.getItem('ferry.console.key'));
    key.secret = 'rotated-away';
    sessionStorage.setItem('ferry.console.key', JSON.stringify(key));
  });
  await page.reload();
  // Requests of the page before the reload are aborted by it: not failures.
  record.failedRequests = record.failedRequests.filter((f) => !f.endsWith('net::ERR_ABORTED'));
  await page.getByText('You were signed out').waitFor();
  assert.match(await page.getByRole('status').innerText(), /SignatureDoesNotMatch/);
  assert.equal(await page.evaluate(() => sessionStorage.getItem('ferry.console.key')), null);
  await screenshot(page, 'signed-out');
  assertClean(record, ['SignatureDoesNotMatch']);
  await context.close();
});

test('the copy dialog warns before OK when an image is over the large-copy limit', async () => {
  const { page, record, context } = await signedIn(1280);
  await page.getByRole('button', { name: `Copy Image ${largeId}` }).click();
  const dialog = page.getByRole('dialog', { name: 'Copy image' });
  const note = dialog.getByRole('note');
  await note.waitFor();
  assert.match(await note.innerText(), /operator must allow the copy/);
  assert.match(await note.innerText(), /ferry admin allow-large-copy/);
  await screenshot(page, 'large-copy-notice');
  // An image within the limit gets no such note.
  await page.keyboard.press('Escape');
  await page.getByRole('button', { name: `Copy Image ${sourceId}` }).click();
  await dialog.getByLabel('Name of the copy').waitFor();
  await pollUntil(async () => (record.calls.filter((c) => c.dryRun).length >= 2 ? true : undefined), { what: 'the second DryRun' });
  await page.waitForLoadState('networkidle');
  assert.equal(await dialog.getByRole('note').count(), 0);
  assertClean(record, ['SizeExceed.Image']);
  await context.close();
});

test('create an instance from an image, see it Running, stop it; tasks list the imports', async () => {
  const { page, record, context } = await signedIn(1280);
  await page.getByRole('button', { name: `Create Instance ${sourceId}` }).click();
  const dialog = page.getByRole('dialog', { name: 'Create instance' });
  await dialog.getByLabel('Instance name').fill('console-vm');
  await dialog.getByRole('button', { name: 'Create' }).click();
  const made = page.getByRole('dialog', { name: 'Instances created' });
  const instanceId = /(i-[a-z0-9]+)/.exec(await made.innerText())?.[1];
  assert.ok(instanceId);
  await made.getByRole('link', { name: 'Open Instances' }).click();
  const vm = row(page, instanceId);
  await pollUntil(async () => ((await vm.innerText()).includes('Running') ? true : undefined), { what: `${instanceId} Running` });
  await screenshot(page, 'instance-running');
  await vm.getByRole('button', { name: `Stop ${instanceId}` }).click();
  await pollUntil(async () => ((await vm.innerText()).includes('Stopped') ? true : undefined), { what: `${instanceId} Stopped` });
  await page.getByRole('link', { name: 'Tasks', exact: true }).click();
  await page.getByRole('heading', { name: 'Tasks', exact: true }).waitFor();
  await row(page, 'ImportImage').first().waitFor();
  assert.ok((await row(page, 'ImportImage').count()) >= 3);
  assert.equal(await row(page, 'ImportImage').filter({ hasText: sourceId }).count(), 1, 'each task names its image');
  await screenshot(page, 'tasks');
  assertClean(record);
  await context.close();
});

test('a page with nothing in progress does not keep asking', async () => {
  const { page, record, context } = await signedIn(1280);
  await row(page, sourceId).waitFor();
  const describes = () => record.calls.filter((c) => c.action === 'DescribeImages').length;
  const before = describes();
  // Nothing is Waiting or Creating: the next look is 30 s away. A fixed
  // wait is the point here (counting what is sent in it).
  await page.waitForTimeout(3000);
  assert.equal(describes(), before, 'DescribeImages calls while idle');
  assertClean(record);
  await context.close();
});
