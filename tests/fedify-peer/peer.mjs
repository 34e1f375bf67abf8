// A real ActivityPub peer built on Fedify, for ferrodon's acceptance tests.
//
// Env: PEER_HOST (loopback address, default 127.0.0.2), PEER_PORT (default 8001),
//      PEER_FIRST_KNOCK ("rfc9421" | "draft-cavage-http-signatures-12", default "rfc9421"),
//      PEER_MANUAL_APPROVAL=1 (follows wait for POST /_test/accept), PEER_LOG (LogTape level, default "warning").
// The JSON control API under /_test/ is described in README.md.
import http from "node:http";
import { AsyncLocalStorage } from "node:async_hooks";
import { randomUUID } from "node:crypto";
import { configure, defaultTextFormatter } from "@logtape/logtape";
import { Temporal } from "@js-temporal/polyfill";
import { createFederation, generateCryptoKeyPair, MemoryKvStore } from "@fedify/fedify";
import {
  Accept, Activity, Announce, Block, Create, Delete, Endpoints, Flag, Follow, Image, isActor, Like, Mention, Move,
  Note, Person, PUBLIC_COLLECTION, Reject, Tombstone, Undo, Update,
} from "@fedify/fedify/vocab";

const HOST = process.env.PEER_HOST || "127.0.0.2";
const PORT = Number(process.env.PEER_PORT || 8001);
const FIRST_KNOCK = process.env.PEER_FIRST_KNOCK || "rfc9421";
const MANUAL = process.env.PEER_MANUAL_APPROVAL === "1";
const ORIGIN = `http://${HOST}:${PORT}`;
if (!/^127\.\d+\.\d+\.\d+$/.test(HOST)) throw new Error(`PEER_HOST must be a loopback address: ${HOST}`);

await configure({
  contextLocalStorage: new AsyncLocalStorage(),
  sinks: { stderr: (record) => process.stderr.write(defaultTextFormatter(record)) },
  loggers: [
    { category: "fedify", lowestLevel: process.env.PEER_LOG || "warning", sinks: ["stderr"] },
    { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["stderr"] },
  ],
});

// ---------------------------------------------------------------- state (all in memory)
const VALID_ID = /^[A-Za-z0-9_.-]{1,64}$/;
const actors = new Map();   // identifier -> { keys, followers, pending, following }
const received = [];        // activities that reached a listener
const requests = [];        // every HTTP request outside /_test/
const requestsById = new Map();
const notes = new Map();    // note URI -> { identifier, note, deleted, includeFollowers, extra, tos, ccs }
const sent = new Map();     // activity URI -> { identifier, activity, recipients, preferShared, json }
const followsById = new Map(); // received Follow id -> { target, follower }
const errors = [];
let seq = 0;
const STARTED = Temporal.Now.instant();

function state(identifier) {
  if (!VALID_ID.test(identifier)) throw new HttpError(400, `invalid actor identifier: ${identifier}`);
  let s = actors.get(identifier);
  if (!s) {
    s = {
      keys: Promise.all([generateCryptoKeyPair("RSASSA-PKCS1-v1_5"), generateCryptoKeyPair("Ed25519")]),
      followers: new Map(), // actor URI -> Recipient { id, inboxId, endpoints }
      pending: new Map(),   // actor URI -> { recipient, follow }
      following: new Map(), // actor URI -> { follow_id, state }
    };
    actors.set(identifier, s);
  }
  return s;
}

class HttpError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

function noteError(where, e) {
  errors.push({ at: new Date().toISOString(), where, error: String(e?.stack || e) });
  console.error(`[peer ${ORIGIN}] ${where}:`, e);
}

// ---------------------------------------------------------------- federation
const federation = createFederation({
  kv: new MemoryKvStore(),
  origin: ORIGIN,
  allowPrivateAddress: true,
  firstKnock: FIRST_KNOCK,
  circuitBreaker: false, // a failing test must not make later deliveries silently drop
});

federation.setActorDispatcher("/users/{identifier}", async (ctx, identifier) => {
  if (!VALID_ID.test(identifier)) return null;
  const keys = await ctx.getActorKeyPairs(identifier);
  return new Person({
    id: ctx.getActorUri(identifier),
    preferredUsername: identifier,
    name: `${identifier} (fedify peer)`,
    summary: `<p>Test actor ${identifier} on a Fedify peer at ${ORIGIN}</p>`,
    url: ctx.getActorUri(identifier),
    published: STARTED,
    inbox: ctx.getInboxUri(identifier),
    outbox: ctx.getOutboxUri(identifier),
    followers: ctx.getFollowersUri(identifier),
    following: ctx.getFollowingUri(identifier),
    endpoints: new Endpoints({ sharedInbox: ctx.getInboxUri() }),
    publicKey: keys[0].cryptographicKey,
    assertionMethods: keys.map((k) => k.multikey),
    manuallyApprovesFollowers: MANUAL,
    discoverable: true,
  });
})
  .mapHandle((_ctx, username) => (VALID_ID.test(username) ? username : null))
  .setKeyPairsDispatcher(async (_ctx, identifier) => (VALID_ID.test(identifier) ? await state(identifier).keys : []));

federation.setObjectDispatcher(Note, "/users/{identifier}/notes/{id}", (ctx, values) => {
  const entry = notes.get(ctx.getObjectUri(Note, values).href);
  return entry && !entry.deleted ? entry.note : null;
});

federation.setFollowersDispatcher("/users/{identifier}/followers", (_ctx, identifier) =>
  VALID_ID.test(identifier) ? { items: [...state(identifier).followers.values()] } : null,
).setCounter((_ctx, identifier) => (VALID_ID.test(identifier) ? state(identifier).followers.size : 0));

federation.setFollowingDispatcher("/users/{identifier}/following", (_ctx, identifier) => {
  if (!VALID_ID.test(identifier)) return null;
  const items = [...state(identifier).following].filter(([, f]) => f.state === "accepted").map(([uri]) => new URL(uri));
  return { items };
});

federation.setOutboxDispatcher("/users/{identifier}/outbox", (_ctx, identifier) => {
  if (!VALID_ID.test(identifier)) return null;
  const items = [...sent.values()]
    .filter((s) => s.identifier === identifier && (s.activity instanceof Create || s.activity instanceof Announce))
    .map((s) => s.activity).reverse();
  return { items };
});

federation.setNodeInfoDispatcher("/nodeinfo/2.1", () => ({
  software: { name: "ferrodon-fedify-peer", version: "2.3.6" },
  protocols: ["activitypub"],
  openRegistrations: false,
  usage: { users: { total: actors.size }, localPosts: notes.size, localComments: 0 },
}));

// ---------------------------------------------------------------- inbox
function localIdentifier(ctx, uri) {
  const parsed = uri ? ctx.parseUri(uri) : null;
  return parsed?.type === "actor" ? parsed.identifier : null;
}

/** Local actors an activity concerns (for the shared inbox, where Fedify gives no recipient). */
function concernedActors(json, senderUri) {
  const text = JSON.stringify(json);
  const out = [];
  for (const [identifier, s] of actors) {
    const uri = `${ORIGIN}/users/${identifier}`;
    if ([`"${uri}"`, `"${uri}/`, `"${uri}#`].some((p) => text.includes(p)) || (senderUri && s.following.has(senderUri))) {
      out.push(identifier);
    }
  }
  return out;
}

async function record(ctx, activity) {
  const req = ctx.data?.reqId != null ? requestsById.get(ctx.data.reqId) : null;
  let json = null;
  if (req) { try { json = JSON.parse(req.body); } catch { json = null; } }
  if (json == null) json = await activity.toJsonLd({ format: "compact", contextLoader: ctx.contextLoader });
  const obj = json.object;
  const actor = activity.actorId?.href ?? null;
  const rec = {
    seq: ++seq,
    id: activity.id?.href ?? null,
    type: typeof json.type === "string" ? json.type : activity.constructor.name,
    actor,
    object_type: obj && typeof obj === "object" ? (obj.type ?? null) : null,
    object_id: typeof obj === "string" ? obj : (obj?.id ?? activity.objectId?.href ?? null),
    to: activity.toIds.map((u) => u.href),
    cc: activity.ccIds.map((u) => u.href),
    recipient: ctx.recipient,
    for: ctx.recipient != null ? [ctx.recipient] : concernedActors(json, actor),
    inbox: req?.path ?? (ctx.recipient != null ? `/users/${ctx.recipient}/inbox` : "/inbox"),
    signature: req?.signature ?? null,
    request_seq: req?.seq ?? null,
    received_at: new Date().toISOString(),
    json,
  };
  received.push(rec);
  if (req) req.activity_id = rec.id;
  return rec;
}

async function remoteLoader(identifier) {
  return { documentLoader: await federation.createContext(new URL(ORIGIN), {}).getDocumentLoader({ identifier }) };
}

function recipientOf(actor) {
  return { id: actor.id, inboxId: actor.inboxId, endpoints: { sharedInbox: actor.endpoints?.sharedInbox ?? null } };
}

async function acceptFollow(identifier, recipient, follow) {
  const ctx = federation.createContext(new URL(ORIGIN), {});
  const s = state(identifier);
  s.pending.delete(recipient.id.href);
  s.followers.set(recipient.id.href, recipient);
  const accept = new Accept({ id: newId(identifier), actor: ctx.getActorUri(identifier), object: follow, to: recipient.id });
  await send(identifier, [recipient], accept, false);
  return accept;
}

const inbox = federation.setInboxListeners("/users/{identifier}/inbox", "/inbox");
inbox.on(Follow, async (ctx, follow) => {
  await record(ctx, follow);
  const target = localIdentifier(ctx, follow.objectId);
  if (target == null || follow.actorId == null) return;
  if (follow.id) followsById.set(follow.id.href, { target, follower: follow.actorId.href });
  const actor = await follow.getActor({ ...(await remoteLoader(target)), contextLoader: ctx.contextLoader });
  if (!actor?.id || !actor.inboxId) return noteError("Follow", `cannot resolve follower ${follow.actorId.href}`);
  const recipient = recipientOf(actor);
  if (MANUAL) { state(target).pending.set(actor.id.href, { recipient, follow }); return; }
  // Send the Accept after the inbox POST has been answered, as a server with a queue would.
  setTimeout(() => acceptFollow(target, recipient, follow).catch((e) => noteError("auto Accept", e)), 50);
});
for (const [cls, outcome] of [[Accept, "accepted"], [Reject, "rejected"]]) {
  inbox.on(cls, async (ctx, activity) => {
    await record(ctx, activity);
    const followId = activity.objectId?.href;
    for (const s of actors.values()) {
      for (const [target, f] of s.following) {
        if (f.follow_id === followId || (target === activity.actorId?.href && f.state === "pending")) f.state = outcome;
      }
    }
  });
}
inbox.on(Undo, async (ctx, undo) => {
  const rec = await record(ctx, undo);
  const obj = rec.json.object;
  const known = followsById.get(typeof obj === "string" ? obj : obj?.id);
  const isFollow = obj && typeof obj === "object" && obj.type === "Follow";
  const target = isFollow ? localIdentifier(ctx, new URL(obj.object?.id ?? obj.object)) : known?.target;
  if (target != null && undo.actorId) state(target).followers.delete(undo.actorId.href);
  if (target != null && undo.actorId) state(target).pending.delete(undo.actorId.href);
});
inbox.on(Block, async (ctx, block) => {
  await record(ctx, block);
  const target = localIdentifier(ctx, block.objectId);
  if (target != null && block.actorId) {
    state(target).followers.delete(block.actorId.href);
    state(target).following.delete(block.actorId.href);
  }
});
for (const cls of [Create, Update, Delete, Like, Announce, Move, Flag, Activity]) inbox.on(cls, record);
inbox.onUnverifiedActivity((ctx, _activity, reason) => {
  const req = ctx.data?.reqId != null ? requestsById.get(ctx.data.reqId) : null;
  if (req) req.unverified_reason = JSON.parse(JSON.stringify(reason));
});
inbox.onError((_ctx, e) => noteError("inbox listener", e));

// ---------------------------------------------------------------- sending
function newId(identifier) {
  return new URL(`${ORIGIN}/users/${identifier}/activities/${randomUUID()}`);
}

async function send(identifier, recipients, activity, preferShared) {
  const ctx = federation.createContext(new URL(ORIGIN), {});
  const json = await activity.toJsonLd({ format: "compact", contextLoader: ctx.contextLoader });
  sent.set(activity.id.href, { identifier, activity, recipients, preferShared, json });
  if (recipients.length === 0) return;
  await ctx.sendActivity({ identifier }, recipients, activity, { preferSharedInbox: preferShared });
}

async function lookup(identifier, uri) {
  if (typeof uri !== "string" || !uri) throw new HttpError(400, "missing object/target URI");
  const ctx = federation.createContext(new URL(ORIGIN), {});
  const obj = await ctx.lookupObject(uri, await remoteLoader(identifier));
  if (obj == null) throw new HttpError(502, `cannot look up ${uri}`);
  return obj;
}

async function lookupActor(identifier, uri) {
  const obj = uri instanceof URL ? await lookup(identifier, uri.href) : await lookup(identifier, uri);
  if (!isActor(obj) || !obj.id || !obj.inboxId) throw new HttpError(502, `${uri} is not an actor with an inbox`);
  return obj;
}

function dedupe(recipients) {
  const seen = new Map();
  for (const r of recipients) if (r?.id && !seen.has(r.id.href)) seen.set(r.id.href, r);
  return [...seen.values()];
}

function noteRecipients(entry) {
  return dedupe([...(entry.includeFollowers ? state(entry.identifier).followers.values() : []), ...entry.extra]);
}

function html(content) {
  const text = String(content ?? "");
  if (text.trimStart().startsWith("<")) return text;
  return `<p>${text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")}</p>`;
}

// ---------------------------------------------------------------- control API
const control = {
  "GET /_test/health": () => ({ ok: true, origin: ORIGIN, first_knock: FIRST_KNOCK, manual_approval: MANUAL }),
  "GET /_test/received": (q) => received.filter((r) =>
    (!q.get("actor") || r.for.includes(q.get("actor"))) && (!q.get("type") || r.type === q.get("type")) &&
    r.seq > Number(q.get("since") || 0)),
  "GET /_test/requests": (q) => requests.filter((r) => q.get("all") === "1" || r.inbox),
  "GET /_test/errors": () => errors,
  "GET /_test/followers": (q) => [...state(q.get("actor") || "").followers.keys()],
  "GET /_test/follow_requests": (q) => [...state(q.get("actor") || "").pending.keys()],
  "GET /_test/following": (q) => [...state(q.get("actor") || "").following].map(([target, f]) => ({ target, ...f })),
  "POST /_test/reset": () => { received.length = 0; requests.length = 0; requestsById.clear(); errors.length = 0; return { ok: true }; },
  "POST /_test/follow": async ({ actor, target }) => {
    const ctx = federation.createContext(new URL(ORIGIN), {});
    const remote = await lookupActor(actor, target);
    const follow = new Follow({ id: newId(actor), actor: ctx.getActorUri(actor), object: remote.id, to: remote.id });
    state(actor).following.set(remote.id.href, { follow_id: follow.id.href, state: "pending" });
    await send(actor, [recipientOf(remote)], follow, false);
    return { id: follow.id.href };
  },
  "POST /_test/unfollow": async ({ actor, target }) => {
    const f = state(actor).following.get(target);
    if (!f) throw new HttpError(404, `${actor} does not follow ${target}`);
    const result = await control["POST /_test/undo"]({ actor, activity: f.follow_id });
    state(actor).following.delete(target);
    return result;
  },
  "POST /_test/accept": async ({ actor, follower }) => {
    const p = state(actor).pending.get(follower);
    if (!p) throw new HttpError(404, `no pending follow request from ${follower}`);
    return { id: (await acceptFollow(actor, p.recipient, p.follow)).id.href };
  },
  "POST /_test/reject": async ({ actor, follower }) => {
    const s = state(actor);
    const p = s.pending.get(follower) ?? (s.followers.has(follower) ? { recipient: s.followers.get(follower), follow: null } : null);
    if (!p) throw new HttpError(404, `no follow request or follower ${follower}`);
    s.pending.delete(follower); s.followers.delete(follower);
    const reject = new Reject({ id: newId(actor), actor: new URL(`${ORIGIN}/users/${actor}`), object: p.follow ?? new Follow({ actor: new URL(follower), object: new URL(`${ORIGIN}/users/${actor}`) }), to: new URL(follower) });
    await send(actor, [p.recipient], reject, false);
    return { id: reject.id.href };
  },
  "POST /_test/post": async ({ actor, content, to = "public", inReplyTo, mentions = [], summary, sensitive, attachments = [] }) => {
    const ctx = federation.createContext(new URL(ORIGIN), {});
    state(actor);
    const followersUri = ctx.getFollowersUri(actor);
    const mentioned = await Promise.all(mentions.map((m) => lookupActor(actor, m)));
    const direct = Array.isArray(to) ? await Promise.all(to.map((m) => lookupActor(actor, m))) : [];
    let replied = [];
    if (inReplyTo) {
      const parent = await lookup(actor, inReplyTo).catch(() => null);
      if (parent?.attributionId) replied = [await lookupActor(actor, parent.attributionId).catch(() => null)].filter(Boolean);
    }
    const extraIds = dedupe([...mentioned, ...replied]).map((a) => a.id);
    const visibility = Array.isArray(to) ? "direct" : to;
    const addressing = {
      public: [[PUBLIC_COLLECTION], [followersUri, ...extraIds]],
      unlisted: [[followersUri], [PUBLIC_COLLECTION, ...extraIds]],
      followers: [[followersUri], extraIds],
      direct: [dedupe([...direct, ...mentioned, ...replied]).map((a) => a.id), []],
    }[visibility];
    if (!addressing) throw new HttpError(400, `bad "to": ${JSON.stringify(to)}`);
    const [tos, ccs] = addressing;
    const id = ctx.getObjectUri(Note, { identifier: actor, id: randomUUID() });
    // Attachments: files given as base64, served by this peer under /media/.
    const images = attachments.map(({ mediaType, name, data }) => {
      const url = new URL(`${ORIGIN}/media/${randomUUID()}`);
      media.set(url.pathname, { mediaType, bytes: Buffer.from(data, "base64") });
      return new Image({ mediaType, url, name: name ?? null });
    });
    const note = new Note({
      id, url: id, attribution: ctx.getActorUri(actor), content: html(content), tos, ccs, attachments: images,
      published: Temporal.Now.instant(), replyTarget: inReplyTo ? new URL(inReplyTo) : null,
      summary: summary ?? null, sensitive: Boolean(sensitive),
      tags: dedupe([...mentioned, ...direct]).map((a) => new Mention({ href: a.id, name: `@${a.preferredUsername}@${a.id.host}` })),
    });
    const entry = { identifier: actor, note, deleted: false, includeFollowers: visibility !== "direct",
      extra: dedupe([...mentioned, ...direct, ...replied]).map(recipientOf), tos, ccs };
    notes.set(id.href, entry);
    const create = new Create({ id: newId(actor), actor: ctx.getActorUri(actor), object: note, tos, ccs, published: note.published });
    await send(actor, noteRecipients(entry), create, visibility !== "direct");
    return { id: id.href, activity: create.id.href };
  },
  "POST /_test/like": async (body) => react(Like, body),
  "POST /_test/announce": async (body) => react(Announce, body),
  "POST /_test/undo": async ({ actor, activity }) => {
    const original = sent.get(activity);
    if (!original || original.identifier !== actor) throw new HttpError(404, `${actor} did not send ${activity}`);
    const undo = new Undo({ id: newId(actor), actor: new URL(`${ORIGIN}/users/${actor}`), object: original.activity,
      tos: original.activity.toIds, ccs: original.activity.ccIds });
    await send(actor, original.recipients, undo, original.preferShared);
    if (original.activity instanceof Follow) state(actor).following.delete(original.activity.objectId?.href);
    return { id: undo.id.href };
  },
  "POST /_test/delete": async ({ actor, object }) => {
    const entry = notes.get(object);
    if (!entry || entry.identifier !== actor || entry.deleted) throw new HttpError(404, `no live note ${object} of ${actor}`);
    const del = new Delete({ id: newId(actor), actor: new URL(`${ORIGIN}/users/${actor}`),
      object: new Tombstone({ id: new URL(object) }), tos: entry.tos, ccs: entry.ccs });
    entry.deleted = true;
    await send(actor, noteRecipients(entry), del, entry.includeFollowers);
    return { id: del.id.href };
  },
  "POST /_test/update": async ({ actor, object, content }) => {
    const entry = notes.get(object);
    if (!entry || entry.identifier !== actor || entry.deleted) throw new HttpError(404, `no live note ${object} of ${actor}`);
    entry.note = entry.note.clone({ content: html(content), updated: Temporal.Now.instant() });
    const update = new Update({ id: newId(actor), actor: new URL(`${ORIGIN}/users/${actor}`), object: entry.note, tos: entry.tos, ccs: entry.ccs });
    await send(actor, noteRecipients(entry), update, entry.includeFollowers);
    return { id: update.id.href };
  },
  "POST /_test/send": async ({ actor, to = [], activity }) => {
    // Any activity, given as JSON-LD; id and actor are filled in when missing.
    const json = { "@context": "https://www.w3.org/ns/activitystreams", ...activity };
    json.id ??= newId(actor).href;
    json.actor ??= `${ORIGIN}/users/${actor}`;
    const parsed = await Activity.fromJsonLd(json, { contextLoader: federation.createContext(new URL(ORIGIN), {}).contextLoader });
    const recipients = await Promise.all(to.map((u) => lookupActor(actor, u)));
    await send(actor, recipients.map(recipientOf), parsed, false);
    return { id: parsed.id.href };
  },
};

async function react(cls, { actor, object }) {
  const ctx = federation.createContext(new URL(ORIGIN), {});
  const target = await lookup(actor, object);
  if (!target.attributionId) throw new HttpError(502, `${object} has no attributedTo`);
  const author = await lookupActor(actor, target.attributionId);
  const isAnnounce = cls === Announce;
  const activity = new cls({
    id: newId(actor), actor: ctx.getActorUri(actor), object: new URL(object), published: Temporal.Now.instant(),
    tos: isAnnounce ? [PUBLIC_COLLECTION] : [author.id], ccs: isAnnounce ? [author.id, ctx.getFollowersUri(actor)] : [],
  });
  const recipients = dedupe([recipientOf(author), ...(isAnnounce ? state(actor).followers.values() : [])]);
  await send(actor, recipients, activity, isAnnounce);
  return { id: activity.id.href };
}

// ---------------------------------------------------------------- node:http adapter
function reply(res, status, body, type = "application/json") {
  const data = typeof body === "string" ? body : JSON.stringify(body);
  res.writeHead(status, { "content-type": type, "content-length": Buffer.byteLength(data) });
  res.end(data);
}

function signatureOf(headers) {
  const h = (name) => headers[name] ?? null;
  const scheme = h("signature-input") ? "rfc9421" : h("signature") ? "draft-cavage" : null;
  return { scheme, signature: h("signature"), "signature-input": h("signature-input"), digest: h("digest"), "content-digest": h("content-digest") };
}

const INBOX_PATH = /^\/(inbox|users\/[^/]+\/inbox)\/?$/;

/** Files of posts' attachments, by path. */
const media = new Map();

async function handle(req, res) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const body = Buffer.concat(chunks);
  const url = new URL(req.url, ORIGIN);
  const file = req.method === "GET" && media.get(url.pathname);
  if (file) {
    res.writeHead(200, { "content-type": file.mediaType, "content-length": file.bytes.length });
    return res.end(file.bytes);
  }
  if (url.pathname.startsWith("/_test/")) {
    const fn = control[`${req.method} ${url.pathname.replace(/\/$/, "")}`];
    if (!fn) return reply(res, 404, { error: `no control endpoint ${req.method} ${url.pathname}` });
    try {
      const arg = req.method === "GET" ? url.searchParams : JSON.parse(body.toString("utf8") || "{}");
      if (req.method === "POST" && url.pathname !== "/_test/reset") {
        if (typeof arg.actor !== "string") throw new HttpError(400, 'missing "actor"');
        state(arg.actor);
      }
      return reply(res, 200, await fn(arg));
    } catch (e) {
      if (!(e instanceof HttpError)) noteError(`${req.method} ${url.pathname}`, e);
      return reply(res, e instanceof HttpError ? e.status : e instanceof SyntaxError ? 400 : 502, { error: String(e?.message || e) });
    }
  }
  const rec = {
    seq: ++seq, method: req.method, path: url.pathname + url.search, inbox: INBOX_PATH.test(url.pathname),
    headers: req.headers, body: body.toString("utf8"), status: null, signature: signatureOf(req.headers),
    unverified_reason: null, activity_id: null, received_at: new Date().toISOString(),
  };
  requests.push(rec);
  requestsById.set(rec.seq, rec);
  const stored = sent.get(`${ORIGIN}${url.pathname}`);
  const note = notes.get(`${ORIGIN}${url.pathname}`);
  if (req.method === "GET" && note?.deleted) {
    rec.status = 410;
    return reply(res, 410, { "@context": "https://www.w3.org/ns/activitystreams", id: `${ORIGIN}${url.pathname}`, type: "Tombstone" }, "application/activity+json");
  }
  if (req.method === "GET" && stored) {
    rec.status = 200;
    return reply(res, 200, stored.json, "application/activity+json");
  }
  const request = new Request(url, {
    method: req.method,
    headers: Object.entries(req.headers).flatMap(([k, v]) => (Array.isArray(v) ? v.map((x) => [k, x]) : [[k, v]])),
    body: req.method === "GET" || req.method === "HEAD" ? undefined : body,
  });
  const response = await federation.fetch(request, {
    contextData: { reqId: rec.seq },
    onNotFound: () => new Response("Not Found", { status: 404 }),
    onNotAcceptable: () => new Response("Not Acceptable", { status: 406 }),
  });
  rec.status = response.status;
  const out = Buffer.from(await response.arrayBuffer());
  res.writeHead(response.status, Object.fromEntries(response.headers));
  res.end(out);
}

const server = http.createServer((req, res) => {
  handle(req, res).catch((e) => {
    noteError(`${req.method} ${req.url}`, e);
    if (!res.headersSent) reply(res, 500, { error: String(e?.message || e) });
    else res.end();
  });
});
server.listen(PORT, HOST, () => console.log(`fedify peer listening on ${ORIGIN} (firstKnock=${FIRST_KNOCK}, manual=${MANUAL})`));
for (const sig of ["SIGINT", "SIGTERM"]) {
  process.on(sig, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
    setTimeout(() => process.exit(0), 500).unref();
  });
}
