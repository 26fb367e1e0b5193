// Records the exact HTTP requests ali-oss sends, for the OSS verifier's
// fixed test vectors (tests/unit/api/oss_client_vectors_test.cc).
//
//   cd tests/e2e && node lib/capture_oss_requests.js > /tmp/oss_requests.json
//   cd tests/e2e && node lib/capture_oss_requests.js --cpp > /tmp/vectors.inc
//
// --cpp prints the C++ initializers of kVectors in that test instead.
//
// A tiny local HTTP server answers each call with just enough of a response
// for ali-oss to go on (an UploadId, an ETag) and records method, target and
// headers. Presigned URLs are recorded as ali-oss returns them. AccessKey
// "AK", secret "SK", bucket "bkt".
'use strict';

const http = require('node:http');
const OSS = require('ali-oss');

const captured = [];
let current = '';

function respond(req, res) {
  const url = new URL(req.url, 'http://x');
  const q = url.searchParams;
  const xml = body => {
    res.writeHead(200, { 'Content-Type': 'application/xml', 'x-oss-request-id': 'R1', ETag: '"E"' });
    res.end('<?xml version="1.0" encoding="UTF-8"?>\n' + body);
  };
  if (req.method === 'POST' && q.has('uploads')) {
    return xml('<InitiateMultipartUploadResult><Bucket>bkt</Bucket><Key>k</Key><UploadId>U1</UploadId></InitiateMultipartUploadResult>');
  }
  if (req.method === 'POST' && q.has('uploadId')) {
    return xml('<CompleteMultipartUploadResult><Location>l</Location><Bucket>bkt</Bucket><Key>k</Key><ETag>"E"</ETag></CompleteMultipartUploadResult>');
  }
  if (req.method === 'POST' && q.has('delete')) return xml('<DeleteResult></DeleteResult>');
  if (req.method === 'GET' && q.has('uploadId')) {
    return xml('<ListPartsResult><Bucket>bkt</Bucket><Key>k</Key><UploadId>U1</UploadId><IsTruncated>false</IsTruncated></ListPartsResult>');
  }
  if (req.method === 'GET' && q.has('uploads')) {
    return xml('<ListMultipartUploadsResult><Bucket>bkt</Bucket><IsTruncated>false</IsTruncated></ListMultipartUploadsResult>');
  }
  if (req.method === 'GET' && (url.pathname === '/' || url.pathname === '/bkt/' || url.pathname === '/bkt')) {
    if (current.startsWith('listBuckets')) {
      return xml('<ListAllMyBucketsResult><Owner><ID>1</ID><DisplayName>1</DisplayName></Owner><Buckets></Buckets></ListAllMyBucketsResult>');
    }
    return xml('<ListBucketResult><Name>bkt</Name><IsTruncated>false</IsTruncated><KeyCount>0</KeyCount></ListBucketResult>');
  }
  if (req.method === 'PUT' && req.headers['x-oss-copy-source']) {
    return xml('<CopyObjectResult><ETag>"E"</ETag><LastModified>2026-12-04T20:31:10.000Z</LastModified></CopyObjectResult>');
  }
  if (req.method === 'DELETE') {
    res.writeHead(204, { 'x-oss-request-id': 'R1' });
    return res.end();
  }
  res.writeHead(200, { 'x-oss-request-id': 'R1', ETag: '"E"', 'Content-Length': '5', 'Content-Type': 'application/octet-stream' });
  res.end(req.method === 'HEAD' ? undefined : 'hello');
}

function serve() {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      captured.push({ call: current, method: req.method, target: req.url, headers: req.headers });
      respond(req, res);
    });
  });
  return new Promise(resolve => server.listen(0, '127.0.0.1', () => resolve(server)));
}

async function run(name, fn) {
  current = name;
  try {
    const out = await fn();
    if (typeof out === 'string') captured.push({ call: name, presigned: out });
  } catch (e) {
    captured.push({ call: name, error: String(e && e.message) });
  }
}

async function exercise(label, client) {
  const small = Buffer.from('hello');
  const big = Buffer.alloc(250 * 1024, 7);
  await run(`${label} put`, () => client.put('dir/a b+c.img', small));
  await run(`${label} put unicode`, () => client.put('目录/ü (1).img', small, { headers: { 'x-oss-meta-owner': ' Ann ' } }));
  await run(`${label} multipartUpload`, () => client.multipartUpload('big/disk.raw', big, { partSize: 102400 }));
  await run(`${label} list`, () => client.list({ prefix: 'dir/', delimiter: '/', 'max-keys': 10 }));
  await run(`${label} list marker`, () => client.list({ marker: 'dir/a', 'encoding-type': 'url' }));
  await run(`${label} listV2`, () => client.listV2({ prefix: '', 'max-keys': 10 }));
  await run(`${label} listV2 page2`, () => client.listV2({ 'continuation-token': 'tok', 'start-after': 'a' }));
  await run(`${label} head`, () => client.head('dir/x.img'));
  await run(`${label} get range`, () => client.get('dir/x.img', { headers: { Range: 'bytes=0-9' } }));
  await run(`${label} delete`, () => client.delete('dir/x.img'));
  await run(`${label} deleteMulti`, () => client.deleteMulti(['a', 'b&c'], { quiet: true }));
  await run(`${label} listParts`, () => client.listParts('big/disk.raw', 'U1'));
  await run(`${label} listUploads`, () => client.listUploads({ 'max-uploads': 5 }));
  await run(`${label} abort`, () => client.abortMultipartUpload('big/disk.raw', 'U1'));
  await run(`${label} copy`, () => client.copy('dir/copy.img', 'dir/x.img'));
}

async function main() {
  const server = await serve();
  const port = server.address().port;
  const base = { accessKeyId: 'AK', accessKeySecret: 'SK', bucket: 'bkt' };
  const v4 = { authorizationV4: true, region: 'oss-cn-hangzhou' };
  const configs = {
    'v1 ip': { endpoint: `http://127.0.0.1:${port}` },
    'v1 ip sld': { endpoint: `http://127.0.0.1:${port}`, sldEnable: true },
    'v1 host sld': { endpoint: `http://localhost:${port}`, sldEnable: true },
    'v4 ip': { endpoint: `http://127.0.0.1:${port}`, ...v4 },
    'v4 host sld': { endpoint: `http://localhost:${port}`, sldEnable: true, ...v4 },
  };
  for (const [label, options] of Object.entries(configs)) {
    const client = new OSS({ ...base, ...options });
    await exercise(label, client);
    await run(`listBuckets ${label}`, () => client.listBuckets({ 'max-keys': 10 }));
  }
  const cname = new OSS({ ...base, endpoint: `http://localhost:${port}`, cname: true });
  await run('v1 cname put', () => cname.put('dir/c.img', Buffer.from('hello')));
  const cnameV4 = new OSS({ ...base, endpoint: `http://localhost:${port}`, cname: true, ...v4 });
  await run('v4 cname put', () => cnameV4.put('dir/c.img', Buffer.from('hello')));

  const sld = new OSS({ ...base, endpoint: `http://localhost:${port}`, sldEnable: true, region: 'oss-cn-hangzhou' });
  await run('signatureUrl get', () => sld.signatureUrl('dir/x.img', { expires: 3600 }));
  await run('signatureUrl disposition', () =>
    sld.signatureUrl('dir/a b.img', { expires: 3600, response: { 'content-disposition': 'attachment; filename=a.img' } }));
  await run('signatureUrl put', () =>
    sld.signatureUrl('dir/up.img', { method: 'PUT', expires: 3600, 'Content-Type': 'application/octet-stream' }));
  await run('signatureUrlV4 get', () => sld.signatureUrlV4('GET', 600, undefined, 'dir/a b.img'));
  await run('signatureUrlV4 get queries', () =>
    sld.signatureUrlV4('GET', 600, { queries: { 'response-content-type': 'text/plain' } }, 'dir/x.img'));
  await run('signatureUrlV4 put headers', () =>
    sld.signatureUrlV4('PUT', 600, { headers: { 'Content-Type': 'application/octet-stream', 'x-oss-meta-a': 'b' } }, 'dir/up.img'));
  const ip = new OSS({ ...base, endpoint: `http://127.0.0.1:${port}`, region: 'oss-cn-hangzhou' });
  await run('signatureUrlV4 ip get', () => ip.signatureUrlV4('GET', 600, undefined, 'dir/x.img'));

  server.close();
  if (process.argv.includes('--cpp')) {
    process.stdout.write(toCpp(captured));
  } else {
    process.stdout.write(JSON.stringify(captured, null, 1) + '\n');
  }
}

// Where each call points: [bucket, key, operation].
function expected(call) {
  const table = [
    [/^signatureUrl(V4)? put/, 'bkt', 'dir/up.img', 'PutObject'],
    [/^signatureUrl disposition$|^signatureUrlV4 get$/, 'bkt', 'dir/a b.img', 'GetObject'],
    [/^listBuckets/, '', '', 'GetService'],
    [/put unicode$/, 'bkt', '目录/ü (1).img', 'PutObject'],
    [/cname put$/, 'bkt', 'dir/c.img', 'PutObject'],
    [/ put$/, 'bkt', 'dir/a b+c.img', 'PutObject'],
    [/multipartUpload$/, 'bkt', 'big/disk.raw', null],
    [/list marker$|list$/, 'bkt', '', 'ListObjects'],
    [/listV2( page2)?$/, 'bkt', '', 'ListObjectsV2'],
    [/head$/, 'bkt', 'dir/x.img', 'HeadObject'],
    [/get range$/, 'bkt', 'dir/x.img', 'GetObject'],
    [/ delete$/, 'bkt', 'dir/x.img', 'DeleteObject'],
    [/deleteMulti$/, 'bkt', '', 'DeleteMultipleObjects'],
    [/listParts$/, 'bkt', 'big/disk.raw', 'ListParts'],
    [/listUploads$/, 'bkt', '', 'ListMultipartUploads'],
    [/abort$/, 'bkt', 'big/disk.raw', 'AbortMultipartUpload'],
    [/copy$/, 'bkt', 'dir/copy.img', 'CopyObject'],
    [/^signatureUrl(V4)? (ip )?get$/, 'bkt', 'dir/x.img', 'GetObject'],
    [/^signatureUrlV4 get queries$/, 'bkt', 'dir/x.img', 'GetObject'],
  ];
  for (const [re, bucket, key, op] of table) if (re.test(call)) return [bucket, key, op];
  throw new Error(`no expectation for ${call}`);
}

function multipartOperation(r) {
  if (r.target.includes('uploads=')) return 'InitiateMultipartUpload';
  if (r.target.includes('partNumber=')) return 'UploadPart';
  return 'CompleteMultipartUpload';
}

const cppString = s => JSON.stringify(s).replace(/[\u0080-\uffff]/g, c =>
  [...Buffer.from(c, 'utf8')].map(b => `\\x${b.toString(16)}`).join('') + '""');

function toCpp(records) {
  const signed = new Set(['authorization', 'content-md5', 'content-type', 'date', 'host']);
  let out = '';
  for (const r of records) {
    let method, target, headers, now;
    if (r.presigned) {
      const url = new URL(r.presigned);
      method = r.call.includes('put') ? 'PUT' : 'GET';
      target = url.pathname + url.search;
      headers = { host: url.host };
      if (r.call === 'signatureUrl put') headers['content-type'] = 'application/octet-stream';
      if (r.call === 'signatureUrlV4 put headers') {
        headers['content-type'] = 'application/octet-stream';
        headers['x-oss-meta-a'] = 'b';
      }
      const v4date = url.searchParams.get('x-oss-date');
      now = v4date ? Date.parse(v4date.replace(/(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z/, '$1-$2-$3T$4:$5:$6Z')) / 1000
                   : Number(url.searchParams.get('Expires')) - 3600;
    } else {
      ({ method, target } = r);
      headers = {};
      for (const [k, v] of Object.entries(r.headers)) if (signed.has(k) || k.startsWith('x-oss-')) headers[k] = v;
      const d = r.headers['x-oss-date'];
      now = /^\d{8}T/.test(d)
        ? Date.parse(d.replace(/(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z/, '$1-$2-$3T$4:$5:$6Z')) / 1000
        : Date.parse(d) / 1000;
    }
    const [bucket, key, op] = expected(r.call);
    const operation = op || multipartOperation(r);
    const hs = Object.entries(headers).map(([k, v]) => `{${cppString(k)}, ${cppString(v)}}`).join(', ');
    out += `    {${cppString(r.call)}, ${now}, ${cppString(method)}, ${cppString(target)},\n` +
           `     {${hs}},\n     ${cppString(bucket)}, ${cppString(key)}, ${cppString(operation)}},\n`;
  }
  return out;
}

main().catch(e => {
  console.error(e);
  process.exit(1);
});
