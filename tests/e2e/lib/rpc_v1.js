'use strict';
// Hand-made ECS RPC requests signed with signature V1 (HMAC-SHA1), for the
// cases no SDK will produce: an old timestamp, a nonce sent twice.

const crypto = require('node:crypto');
const http = require('node:http');

// RFC 3986 percent-encoding as the SDKs do it: space -> %20, '*' -> %2A, '~' kept.
function percentEncode(value) {
  return encodeURIComponent(String(value))
    .replace(/!/g, '%21').replace(/'/g, '%27').replace(/\(/g, '%28')
    .replace(/\)/g, '%29').replace(/\*/g, '%2A');
}

// UTC yyyy-MM-ddTHH:mm:ssZ, no milliseconds.
function v1Timestamp(date) {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function canonicalize(params) {
  return Object.keys(params)
    .map((key) => [percentEncode(key), percentEncode(params[key])])
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, value]) => `${key}=${value}`)
    .join('&');
}

// Returns the full parameter set, Signature included, for a POST to "/".
function signV1({ action, params = {}, accessKeyId, accessKeySecret, timestamp = new Date(), nonce }) {
  const all = {
    Action: action,
    Format: 'JSON',
    Version: '2014-05-26',
    AccessKeyId: accessKeyId,
    SignatureMethod: 'HMAC-SHA1',
    SignatureVersion: '1.0',
    SignatureNonce: nonce || crypto.randomBytes(16).toString('hex'),
    Timestamp: v1Timestamp(timestamp),
    ...params,
  };
  const stringToSign = `POST&${percentEncode('/')}&${percentEncode(canonicalize(all))}`;
  all.Signature = crypto.createHmac('sha1', `${accessKeySecret}&`).update(stringToSign).digest('base64');
  return all;
}

// POSTs the parameters as a form body; resolves {statusCode, body} with the body parsed as JSON.
function postForm(endpoint, params, { timeoutMs = 10_000 } = {}) {
  const payload = canonicalize(params);
  const url = new URL('/', endpoint);
  return new Promise((resolve, reject) => {
    const req = http.request(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'content-length': Buffer.byteLength(payload),
      },
      timeout: timeoutMs,
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (part) => { text += part; });
      res.on('end', () => {
        try {
          resolve({ statusCode: res.statusCode, body: JSON.parse(text) });
        } catch (err) {
          reject(new Error(`HTTP ${res.statusCode}: body is not JSON: ${text}`));
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${endpoint} in ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}

module.exports = { percentEncode, v1Timestamp, signV1, postForm };
