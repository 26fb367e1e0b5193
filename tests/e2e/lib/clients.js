'use strict';
// The two official Alibaba Cloud Node SDKs, configured for a local ferry.
//
// pop-core signs HMAC-SHA1 (V1) and, with method POST, sends every parameter
// in a form body. ecs20140526 signs ACS3-HMAC-SHA256 (V3) by default, with
// Action/Version in x-acs-* headers and parameters in the query string.
// Both get generous timeouts: their 3 s defaults are for a remote cloud API,
// not for a loaded CI machine.

const RPCClient = require('@alicloud/pop-core');
const Ecs = require('@alicloud/ecs20140526');
const { $OpenApiUtil } = require('@alicloud/openapi-core');

const REGION = 'cn-hangzhou';
const API_VERSION = '2014-05-26';
const TIMEOUT_MS = 30_000;

function popCoreClient(server, { accessKeyId = server.accessKeyId, accessKeySecret = server.accessKeySecret } = {}) {
  const client = new RPCClient({
    accessKeyId, accessKeySecret, endpoint: server.endpoint, apiVersion: API_VERSION,
    opts: { method: 'POST', timeout: TIMEOUT_MS },
  });
  // request(action, params) -> the raw JSON body (PascalCase keys).
  return { request: (action, params = {}) => client.request(action, params, { method: 'POST', timeout: TIMEOUT_MS }) };
}

function ecsClient(server, { accessKeyId = server.accessKeyId, accessKeySecret = server.accessKeySecret } = {}) {
  return new Ecs.default(new $OpenApiUtil.Config({
    accessKeyId, accessKeySecret,
    endpoint: server.host,   // host:port, no scheme
    protocol: 'http',
    regionId: REGION,
    readTimeout: TIMEOUT_MS,
    connectTimeout: TIMEOUT_MS,
  }));
}

// What each SDK throws on an error answer, reduced to {code, status}.
// pop-core: err.code and err.entry.response.statusCode; ecs20140526
// (openapi-core ClientError): err.code and err.statusCode.
function errorOf(err) {
  return {
    code: err.code,
    status: err.entry?.response?.statusCode ?? err.statusCode,
    message: err.message,
  };
}

// Resolves with {code, status, message} of the error `promise` rejects with;
// fails if it resolves.
async function expectApiError(promise) {
  let result;
  try {
    result = await promise;
  } catch (err) {
    return errorOf(err);
  }
  throw new Error(`expected an error, got success: ${JSON.stringify(result?.body ?? result)}`);
}

module.exports = { Ecs, REGION, popCoreClient, ecsClient, expectApiError };
