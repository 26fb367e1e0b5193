// The ECS API as the browser speaks it: every call is an RPC request signed
// with the signed-in AccessKey (signature V1, HMAC-SHA1), POSTed as a form to
// the server that served this page — exactly what an SDK sends, so the
// console can do what the API lets that key do and nothing more.
//
// HMAC comes from Web Crypto where the page is a secure context (https, or
// http on 127.0.0.1/localhost); elsewhere (plain http on a LAN address,
// where browsers hide crypto.subtle) from @noble/hashes.
import { hmac } from '@noble/hashes/hmac.js';
import { sha1 } from '@noble/hashes/legacy.js';

export const API_VERSION = '2014-05-26';
// STS, for GetCallerIdentity (which account the signed-in key belongs to).
export const STS_VERSION = '2015-04-01';

// An error the API answered with: its ECS code, message and request id.
export class ApiError extends Error {
  constructor({ code, message, requestId, httpStatus }) {
    super(message || code);
    this.code = code;
    this.requestId = requestId || '';
    this.httpStatus = httpStatus || 0;
  }
}

// Codes after which the key is not usable: back to sign-in.
const KEY_ERRORS = new Set([
  'InvalidAccessKeyId.NotFound',
  'InvalidAccessKeyId.Inactive',
  'SignatureDoesNotMatch',
  'IncompleteSignature',
  'InvalidTimeStamp.Expired',
  'Forbidden.AccessKeyDisabled',
]);
export function isKeyError(err) {
  return err instanceof ApiError && KEY_ERRORS.has(err.code);
}

// RFC 3986 percent-encoding, as the signature's canonical form needs.
export function percentEncode(s) {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}

function utf8(s) {
  return new TextEncoder().encode(s);
}

function base64(bytes) {
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

async function hmacSha1(key, message) {
  const subtle = globalThis.crypto && globalThis.crypto.subtle;
  if (subtle) {
    const k = await subtle.importKey('raw', utf8(key), { name: 'HMAC', hash: 'SHA-1' }, false, ['sign']);
    return new Uint8Array(await subtle.sign('HMAC', k, utf8(message)));
  }
  return hmac(sha1, utf8(key), utf8(message));
}

function nonce() {
  const b = new Uint8Array(16);
  globalThis.crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

function timestamp() {
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
}

// The canonical query of `params` (sorted by key, both sides encoded) and
// its V1 signature with `secret`.
export async function signV1(method, params, secret) {
  const canonical = Object.keys(params)
    .sort()
    .map((k) => percentEncode(k) + '=' + percentEncode(String(params[k])))
    .join('&');
  const toSign = method + '&' + percentEncode('/') + '&' + percentEncode(canonical);
  return { canonical, signature: base64(await hmacSha1(secret + '&', toSign)) };
}

// Calls `action` with `params` (undefined and '' values are left out) as
// `key` ({ id, secret }); params.Version overrides the ECS version. Resolves to the response body; rejects with an
// ApiError for an API error, or an Error when the server cannot be reached.
export async function call(key, action, params = {}) {
  const all = {
    Format: 'JSON',
    Version: API_VERSION,
    AccessKeyId: key.id,
    SignatureMethod: 'HMAC-SHA1',
    SignatureVersion: '1.0',
    SignatureNonce: nonce(),
    Timestamp: timestamp(),
    Action: action,
  };
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') all[k] = String(v);
  }
  const { canonical, signature } = await signV1('POST', all, key.secret);
  let response;
  try {
    response = await fetch('/', {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: canonical + '&Signature=' + percentEncode(signature),
      credentials: 'omit',
      cache: 'no-store',
    });
  } catch (e) {
    throw new Error('The server could not be reached (' + e.message + ').');
  }
  const text = await response.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ApiError({
      code: 'InvalidResponse',
      message: 'The server answered HTTP ' + response.status + ' with a body that is not JSON.',
      httpStatus: response.status,
    });
  }
  if (!response.ok) {
    throw new ApiError({
      code: (body && body.Code) || 'HTTP' + response.status,
      message: (body && body.Message) || '',
      requestId: body && body.RequestId,
      httpStatus: response.status,
    });
  }
  return body;
}

// Repeated parameters: { 'AddAccount': ['1', '2'] } -> AddAccount.1, AddAccount.2.
export function listParams(name, values) {
  const out = {};
  values.forEach((v, i) => {
    out[name + '.' + (i + 1)] = v;
  });
  return out;
}
