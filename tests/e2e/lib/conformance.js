'use strict';
// Official-SDK conformance machinery: one table row per ECS action and case,
// run through every SDK client, with the raw JSON body of each answer walked
// against the response model @alicloud/ecs20140526 declares for the action.
//
// The models (node_modules/@alicloud/ecs20140526/dist/models/*) carry
// static names() (camelCase property -> wire name) and types() (property ->
// 'string' | 'number' | 'boolean' | 'any' | 'map' | a nested Model class |
// {type: 'array', itemType} | {type: 'map', keyType, valueType}). The SDK's
// own decoder ($dara.cast) is lenient: it turns "60" into 60 and 'true' into
// true, and silently drops keys it does not know. checkShape() is strict:
// every field Ferry sends must be declared, with exactly the declared JSON
// type, so a misspelt key, a list without its wrapper or a number sent as a
// string is reported with its path.
//
// Clients (CLIENTS): pop-core 1.8.0 (HMAC-SHA1, form-body POST, raw JSON) and
// ecs20140526 7.11.6 with its default ACS3-HMAC-SHA256 signature and with
// signatureAlgorithm 'v2' (HMAC-SHA1, everything in the query). Every call
// takes the same PascalCase wire parameters; for ecs20140526 they are turned
// into the action's typed request model (toEcsRequest), which fails on a
// parameter the SDK's request model does not declare: the request shapes the
// table uses are the SDK's own.

const assert = require('node:assert/strict');
const RPCClient = require('@alicloud/pop-core');
const Ecs = require('@alicloud/ecs20140526');
const OpenApi = require('@alicloud/openapi-core');
const $dara = require('@darabonba/typescript');

const { $OpenApiUtil, OpenApiUtil } = OpenApi;
const API_VERSION = '2014-05-26';
const TIMEOUT_MS = 30_000;
const REQUEST_ID = /^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$/;
const JSON_CONTENT_TYPE = /^application\/json/;

// ---------------------------------------------------------------------------
// Models

function isModelClass(type) {
  return typeof type === 'function' && typeof type.names === 'function' && typeof type.types === 'function';
}

// A stand-in model for actions the ECS SDK does not know (Ferry's own), in
// the same names()/types() form: `fields` maps wire name -> type.
function localModel(name, fields) {
  const names = {};
  const types = {};
  for (const [wire, type] of Object.entries(fields)) {
    const prop = wire.charAt(0).toLowerCase() + wire.slice(1);
    names[prop] = wire;
    types[prop] = type;
  }
  const model = class extends $dara.Model {
    static names() { return names; }
    static types() { return types; }
  };
  Object.defineProperty(model, 'name', { value: name });
  return model;
}

function responseModel(action) {
  const model = Ecs[`${action}ResponseBody`];
  if (!isModelClass(model)) throw new Error(`@alicloud/ecs20140526 has no model ${action}ResponseBody`);
  return model;
}

function requestModel(action) {
  const model = Ecs[`${action}Request`];
  if (!isModelClass(model)) throw new Error(`@alicloud/ecs20140526 has no model ${action}Request`);
  return model;
}

// wire name -> {prop, type} for one model class.
function wireFields(model) {
  const names = model.names();
  const types = model.types();
  const out = new Map();
  for (const [prop, wire] of Object.entries(names)) out.set(wire, { prop, type: types[prop] });
  return out;
}

function typeName(type) {
  if (typeof type === 'string') return type;
  if (isModelClass(type)) return `object ${type.name}`;
  if (type && type.type === 'array') return `array of ${typeName(type.itemType)}`;
  if (type && type.type === 'map') return `map of ${typeName(type.valueType)}`;
  return JSON.stringify(type);
}

// JSON.stringify that also prints BigInt (pop-core's integers beyond 2^53).
function show(value) {
  return JSON.stringify(value, (key, v) => (typeof v === 'bigint' ? v.toString() : v));
}

function jsonKind(value) {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

// Walks `value` (raw JSON) against `type`; pushes "path: problem" strings
// onto `problems`. `extensions` maps a generic path (list indexes as []) to
// the type of a field Ferry adds on purpose beyond the model.
function checkShape(value, type, path, problems, extensions = {}) {
  if (value === null) {
    problems.push(`${path}: null (declared ${typeName(type)}); omit the field or send a value`);
    return;
  }
  if (typeof type === 'string') {
    if (type === 'any') return;
    if (type === 'map') {
      if (jsonKind(value) !== 'object') problems.push(`${path}: ${jsonKind(value)}, declared map`);
      return;
    }
    if (typeof value !== type && !(type === 'number' && typeof value === 'bigint')) {
      problems.push(`${path}: ${jsonKind(value)} ${show(value)}, declared ${type}`);
    } else if (type === 'number' && typeof value === 'number' && !Number.isFinite(value)) {
      problems.push(`${path}: ${value} is not a finite number`);
    }
    return;
  }
  if (type && type.type === 'array') {
    if (!Array.isArray(value)) {
      problems.push(`${path}: ${jsonKind(value)}, declared ${typeName(type)}`);
      return;
    }
    value.forEach((item, i) => checkShape(item, type.itemType, `${path}[${i}]`, problems, extensions));
    return;
  }
  if (type && type.type === 'map') {
    if (jsonKind(value) !== 'object') {
      problems.push(`${path}: ${jsonKind(value)}, declared ${typeName(type)}`);
      return;
    }
    for (const [key, item] of Object.entries(value)) {
      checkShape(item, type.valueType, `${path}.${key}`, problems, extensions);
    }
    return;
  }
  if (isModelClass(type)) {
    if (jsonKind(value) !== 'object') {
      problems.push(`${path}: ${jsonKind(value)} ${show(value)}, declared ${typeName(type)}`);
      return;
    }
    const fields = wireFields(type);
    for (const [key, item] of Object.entries(value)) {
      const childPath = path ? `${path}.${key}` : key;
      const field = fields.get(key);
      if (field) {
        checkShape(item, field.type, childPath, problems, extensions);
        continue;
      }
      const generic = childPath.replace(/\[\d+\]/g, '[]');
      if (Object.prototype.hasOwnProperty.call(extensions, generic)) {
        checkShape(item, extensions[generic], childPath, problems, extensions);
        continue;
      }
      const near = [...fields.keys()].find((name) => name.toLowerCase() === key.toLowerCase());
      problems.push(`${childPath}: not declared by ${type.name}` + (near ? ` (did you mean ${near}?)` : ''));
    }
    return;
  }
  problems.push(`${path}: unsupported declared type ${show(type)}`);
}

// Fields `model` declares that `raw` does not carry, as generic paths (list
// elements as []): not errors (the models declare many optional fields), but
// worth listing in the test output.
function declaredAbsent(raw, type, path = '', out = new Set()) {
  if (type && type.type === 'array' && Array.isArray(raw)) {
    for (const item of raw) declaredAbsent(item, type.itemType, `${path}[]`, out);
  } else if (isModelClass(type) && jsonKind(raw) === 'object') {
    for (const [wire, { type: fieldType }] of wireFields(type)) {
      const childPath = path ? `${path}.${wire}` : wire;
      if (raw[wire] === undefined) out.add(childPath);
      else declaredAbsent(raw[wire], fieldType, childPath, out);
    }
  }
  return out;
}

function assertShape(raw, model, extensions, label) {
  const problems = [];
  checkShape(raw, model, '', problems, extensions);
  assert.deepEqual(problems, [], `${label}: response fields differ from ${model.name}:\n  ${problems.join('\n  ')}` +
    `\nbody: ${show(raw)}`);
}

// The typed body ecs20140526 decoded must hold every field of the raw body
// under its camelCase name, with the same value (checkShape has already made
// sure the types match, so the SDK had nothing to convert).
function assertTypedMatchesRaw(typed, raw, type, path = '') {
  if (isModelClass(type)) {
    assert.ok(typed instanceof type, `${path || 'body'}: decoded as ${typed?.constructor?.name}, not ${type.name}`);
    for (const [wire, { prop, type: fieldType }] of wireFields(type)) {
      if (raw[wire] === undefined) continue;
      assert.notEqual(typed[prop], undefined, `${path}${wire}: in the body but ${type.name}.${prop} is empty`);
      assertTypedMatchesRaw(typed[prop], raw[wire], fieldType, `${path}${wire}.`);
    }
    return;
  }
  if (type && type.type === 'array') {
    assert.equal(typed.length, raw.length, `${path}: decoded ${typed.length} items, body has ${raw.length}`);
    raw.forEach((item, i) => assertTypedMatchesRaw(typed[i], item, type.itemType, `${path}[${i}].`));
    return;
  }
  assert.deepEqual(typed, raw, `${path}: decoded ${show(typed)}, body has ${show(raw)}`);
}

// ---------------------------------------------------------------------------
// Requests: flat PascalCase wire parameters -> the SDK's typed request model.

function convertScalar(value, type, path) {
  if (type === 'number') {
    const n = Number(value);
    assert.ok(Number.isFinite(n), `${path}: ${value} is not a number`);
    return n;
  }
  if (type === 'boolean') return value === true || value === 'true';
  if (type === 'string' || type === 'any') return String(value);
  throw new Error(`${path}: cannot build a request value of type ${typeName(type)}`);
}

// entries: [[segments[], value]] relative to `model`.
function buildModel(model, entries, path) {
  const fields = wireFields(model);
  const groups = new Map();
  for (const [segments, value] of entries) {
    const [head, ...rest] = segments;
    if (!groups.has(head)) groups.set(head, []);
    groups.get(head).push([rest, value]);
  }
  const map = {};
  for (const [wire, group] of groups) {
    const field = fields.get(wire);
    const fieldPath = path ? `${path}.${wire}` : wire;
    if (!field) {
      throw new Error(`request shape: ${model.name} declares no parameter ${fieldPath} ` +
                      `(it has ${[...fields.keys()].join(', ')})`);
    }
    map[field.prop] = buildValue(field.type, group, fieldPath);
  }
  return new model(map);
}

function buildValue(type, entries, path) {
  if (type && type.type === 'array') {
    const byIndex = new Map();
    for (const [segments, value] of entries) {
      const [index, ...rest] = segments;
      assert.match(String(index), /^[1-9]\d*$/, `${path}: list parameters are ${path}.N (N from 1)`);
      if (!byIndex.has(index)) byIndex.set(index, []);
      byIndex.get(index).push([rest, value]);
    }
    return [...byIndex.keys()].sort((a, b) => a - b)
      .map((index) => buildValue(type.itemType, byIndex.get(index), `${path}.${index}`));
  }
  if (isModelClass(type)) return buildModel(type, entries, path);
  assert.equal(entries.length, 1, `${path}: one value expected`);
  assert.equal(entries[0][0].length, 0, `${path}: ${typeName(type)} has no sub-parameters`);
  return convertScalar(entries[0][1], type, path);
}

function toEcsRequest(action, params) {
  const entries = Object.entries(params).map(([key, value]) => [key.split('.'), value]);
  return buildModel(requestModel(action), entries, '');
}

// ---------------------------------------------------------------------------
// Clients. Each has call(action, params) -> {raw, typed?, statusCode,
// contentType} or throws the SDK's own error, and checkError(err, expected).

function lowerFirst(s) {
  return s.charAt(0).toLowerCase() + s.slice(1);
}

// pop-core parses bodies with json-bigint: objects without a prototype, and
// integers beyond 15 digits (ImageOwnerId) as BigNumber objects. Back to
// plain JSON values, so the shape walk sees what was on the wire (a
// BigNumber was a JSON number there).
function plainJson(value) {
  if (Array.isArray(value)) return value.map(plainJson);
  if (value !== null && typeof value === 'object') {
    if (value._isBigNumber === true || value.constructor?.name === 'BigNumber') {
      const n = Number(value.toString());
      return Number.isSafeInteger(n) ? n : BigInt(value.toFixed());
    }
    const out = {};
    for (const key of Object.keys(value)) out[key] = plainJson(value[key]);
    return out;
  }
  return value;
}

function popCoreClient(server, keys = {}) {
  const client = new RPCClient({
    accessKeyId: keys.accessKeyId ?? server.accessKeyId,
    accessKeySecret: keys.accessKeySecret ?? server.accessKeySecret,
    endpoint: server.endpoint,
    apiVersion: API_VERSION,
    opts: { method: 'POST', timeout: TIMEOUT_MS },
  }, /* verbose: resolve [json, entry] */ true);
  return {
    name: 'pop-core',
    typed: false,
    async call(action, params) {
      const [body, entry] = await client.request(action, params, { method: 'POST', timeout: TIMEOUT_MS });
      return { raw: plainJson(body), statusCode: entry.response.statusCode, contentType: entry.response.headers['content-type'] };
    },
    // pop-core throws a plain Error named <Code>Error with code, data (the
    // whole JSON body) and entry.response.statusCode.
    checkError(err, { code, status }) {
      assert.ok(err instanceof Error, `pop-core threw ${err}`);
      assert.equal(err.name, `${code}Error`, `pop-core error name (${err.message})`);
      assert.equal(err.code, code);
      assert.equal(err.entry?.response?.statusCode, status, `HTTP status of ${code}`);
      assert.match(err.entry.response.headers['content-type'], JSON_CONTENT_TYPE);
      checkErrorBody(plainJson(err.data), code);
      assert.equal(err.message, `${err.data.Message}, URL: ${server.endpoint}/`);
    },
  };
}

// `signatureAlgorithm`: undefined (ACS3-HMAC-SHA256, the default) or 'v2'
// (HMAC-SHA1).
function ecsClient(server, { signatureAlgorithm, ...keys } = {}) {
  const client = new Ecs.default(new $OpenApiUtil.Config({
    accessKeyId: keys.accessKeyId ?? server.accessKeyId,
    accessKeySecret: keys.accessKeySecret ?? server.accessKeySecret,
    endpoint: server.host,
    protocol: 'http',
    regionId: 'cn-hangzhou',
    readTimeout: TIMEOUT_MS,
    connectTimeout: TIMEOUT_MS,
    ...(signatureAlgorithm ? { signatureAlgorithm } : {}),
  }));
  // The generated methods pass callApi's raw answer ({statusCode, headers,
  // body: the JSON as sent}) to $dara.cast; keep it for the shape check.
  let last;
  const callApi = client.callApi.bind(client);
  client.callApi = async (...args) => {
    last = undefined;
    last = await callApi(...args);
    return last;
  };
  return {
    name: signatureAlgorithm ? `ecs20140526 (${signatureAlgorithm}, HMAC-SHA1)` : 'ecs20140526 (ACS3-HMAC-SHA256)',
    typed: true,
    async call(action, params, { model } = {}) {
      const method = lowerFirst(action);
      if (typeof client[method] === 'function' && !model) {
        const res = await client[method](toEcsRequest(action, params));
        return { raw: last.body, typed: res.body, statusCode: res.statusCode, contentType: last.headers['content-type'] };
      }
      // An action the SDK has no method for (Ferry's own): the same runtime
      // and signer through the generic callApi.
      const res = await client.callApi(new $OpenApiUtil.Params({
        action, version: API_VERSION, protocol: 'HTTPS', pathname: '/', method: 'POST', authType: 'AK',
        style: 'RPC', reqBodyType: 'formData', bodyType: 'json',
      }), new $OpenApiUtil.OpenApiRequest({ query: OpenApiUtil.query(params) }), new $dara.RuntimeOptions({}));
      const typed = $dara.cast(res.body, new model({}));
      return { raw: res.body, typed, statusCode: res.statusCode, contentType: res.headers['content-type'] };
    },
    // openapi-core: ClientError for 4xx, ServerError for 5xx, ThrottlingError
    // for any code containing "Throttling"; code, statusCode, requestId and
    // data (the whole JSON body).
    checkError(err, { code, status }) {
      const expectedClass = code.includes('Throttling') ? OpenApi.ThrottlingError
        : status < 500 ? OpenApi.ClientError : OpenApi.ServerError;
      assert.ok(err instanceof expectedClass, `ecs20140526 threw ${err?.name}: ${err?.message}, expected ${expectedClass.name}`);
      assert.equal(err.name, expectedClass.name);
      assert.equal(err.code, code);
      assert.equal(err.statusCode, status, `HTTP status of ${code}`);
      checkErrorBody(err.data, code);
      assert.equal(err.requestId, err.data.RequestId);
      assert.equal(err.message, `${code}: code: ${status}, ${err.data.Message} request id: ${err.data.RequestId}`);
    },
  };
}

// The error body every client reads: {RequestId, HostId, Code, Message,
// Recommend}, all strings, nothing else. HostId is Ferry's own host:port and
// Recommend (kept for clients that read it) links nowhere.
function checkErrorBody(body, code) {
  assert.equal(jsonKind(body), 'object', `error body: ${show(body)}`);
  assert.deepEqual(Object.keys(body).sort(), ['Code', 'HostId', 'Message', 'Recommend', 'RequestId'],
    `error body keys: ${show(body)}`);
  assert.equal(body.Code, code, `error body: ${show(body)}`);
  assert.match(body.RequestId, REQUEST_ID);
  assert.match(body.HostId, /^[\w.-]+:\d+$|^\[[0-9a-f:]+\]:\d+$/, body.HostId);
  assert.match(body.Message, /\S/);
  assert.equal(body.Recommend, '', body.Recommend);
}

// Factories for the clients every row runs through.
const CLIENTS = [
  { key: 'pop-core', make: (server, keys) => popCoreClient(server, keys) },
  { key: 'ecs-v3', make: (server, keys) => ecsClient(server, keys) },
  { key: 'ecs-v2', make: (server, keys) => ecsClient(server, { ...keys, signatureAlgorithm: 'v2' }) },
];

// ---------------------------------------------------------------------------
// Running rows

// Values at a path like 'Images.Image[].DiskDeviceMappings' (every element
// of a list at []). Fails when a step is missing.
function valuesAt(raw, path) {
  let values = [raw];
  for (const part of path.split('.')) {
    const isList = part.endsWith('[]');
    const key = isList ? part.slice(0, -2) : part;
    const next = [];
    for (const value of values) {
      assert.ok(value !== null && typeof value === 'object' && Object.prototype.hasOwnProperty.call(value, key),
        `field ${path}: ${key} missing in ${show(value)}`);
      if (isList) {
        assert.ok(Array.isArray(value[key]), `field ${path}: ${key} is not a list`);
        next.push(...value[key]);
      } else {
        next.push(value[key]);
      }
    }
    values = next;
  }
  return values;
}

// Ferry's extensions that may appear in any answer (README): what the
// inspector found in an imported disk, and why an image or task failed.
const FERRY_EXTENSIONS = {
  'Images.Image[].DiskDeviceMappings.DiskDeviceMapping[].DetectedFormat': 'string',
  'Images.Image[].DiskDeviceMappings.DiskDeviceMapping[].DetectedContent': 'string',
  'Images.Image[].CreateFailedReason': 'string',
  'TaskSet.Task[].ErrorCode': 'string',
  'TaskSet.Task[].ErrorMsg': 'string',
};

// A success row through one client: the call, HTTP 200 + JSON, RequestId,
// the shape walk, the typed decode, the fields `present` requires and the
// row's own `expect`.
async function runSuccess(client, row, ctx) {
  const params = typeof row.params === 'function' ? row.params(ctx) : (row.params ?? {});
  const model = row.model ?? responseModel(row.action);
  const res = await client.call(row.action, params, { model: row.model });
  assert.equal(res.statusCode, 200);
  assert.match(res.contentType, JSON_CONTENT_TYPE);
  assert.match(res.raw.RequestId, REQUEST_ID, 'RequestId is an upper-case UUID');
  assertShape(res.raw, model, { ...FERRY_EXTENSIONS, ...(row.extensions ?? {}) }, `${client.name} ${row.action}`);
  if (client.typed) assertTypedMatchesRaw(res.typed, res.raw, model);
  for (const path of ['RequestId', ...(row.present ?? [])]) valuesAt(res.raw, path);
  if (row.expect) await row.expect(res.raw, ctx, client);
  if (ctx.diagnostic) {
    const absent = [...declaredAbsent(res.raw, model)].filter((p) => !/^(Owner|ResourceOwner)/.test(p));
    if (absent.length) ctx.diagnostic(`${model.name} fields not sent: ${absent.join(', ')}`);
  }
  return res.raw;
}

async function runError(client, row, ctx) {
  const params = typeof row.params === 'function' ? row.params(ctx) : (row.params ?? {});
  let result;
  try {
    result = await client.call(row.action, params, { model: row.model });
  } catch (err) {
    if (err?.code === 'ERR_ASSERTION' || /^request shape:/.test(err?.message)) throw err;
    client.checkError(err, row.error);
    if (row.expectError) await row.expectError(err, ctx);
    return err;
  }
  throw new Error(`${row.action}: expected ${row.error.code} (${row.error.status}), got success ${show(result.raw)}`);
}

module.exports = {
  Ecs, CLIENTS, REQUEST_ID, localModel, declaredAbsent, show, responseModel, requestModel, checkShape, assertShape,
  assertTypedMatchesRaw, toEcsRequest, valuesAt, runSuccess, runError, popCoreClient, ecsClient,
};
