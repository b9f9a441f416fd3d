// NodeSession: this browser window as one node of the relay (docs/API.md).
//
// It joins, holds the long-poll on its home relay, acknowledges what it has
// read through the cursor and drops a seq it has already seen, throws to a
// worker port, and leaves with a keepalive DELETE when the page goes away
// (else the relay's node TTL removes it). When the relay no longer knows the
// node (404 unknown_node, or 401 after a restart gave the id to nobody) it
// joins again; other failures back off exponentially with jitter.
//
// Where requests go: the join answer's `relay` names the node's home master
// (polls, leave) and a worker (throws); in a cluster the home is the relay
// the page joined at. A poll answered 307 is followed by the browser; the
// page then polls the new home directly (a browser may drop the token on a
// redirect to another origin, so a 401 right after a redirect is retried
// there with the token). A relay URL that names a loopback host while this
// page came from another host means "this page's host": a relay started with
// the defaults names 127.0.0.1, which is right only for a browser on the same
// machine (set --public-master/--public-worker otherwise).
//
// Everything the relay sends is treated as untrusted: the page checks the
// shape of each event before it uses it (play.js).

const BACKOFF_MIN_MS = 250;
const BACKOFF_MAX_MS = 8000;

function sameHostUrl(url, pageHost) {
  try {
    const u = new URL(url);
    const loopback = u.hostname === 'localhost' || u.hostname.startsWith('127.') || u.hostname === '[::1]';
    const pageLoopback = pageHost === 'localhost' || pageHost.startsWith('127.') || pageHost === '[::1]';
    if (loopback && !pageLoopback) u.hostname = pageHost;
    return u.origin;
  } catch {
    return null;
  }
}

async function errorOf(res) {
  try {
    const body = await res.json();
    return { error: String(body.error || res.status), message: String(body.message || '') };
  } catch {
    return { error: String(res.status), message: '' };
  }
}

export class NodeSession {
  // master: the URL to join at (the page's origin); group, name: as joined.
  // on: {joined(answer), event(ev), status(text, level)}.
  constructor({ master, group, name, on }) {
    this.joinAt = master;
    this.group = group;
    this.name = name;
    this.on = on;
    this.node = null;
    this.token = null;
    this.home = master;
    this.worker = null;
    this.cursor = 0;
    this.lastSeq = 0;
    this.failures = 0;
    this.stopped = false;
    this.generation = 0;  // bumped by every join: an old poll loop ends
    this.polls = 0;       // polls answered 200 (the tests wait on it)
    this.redirects = 0;   // polls that followed a 307
  }

  start() {
    this.join();
  }

  auth() {
    return { Authorization: `Bearer ${this.token}` };
  }

  async backoff(why) {
    this.failures++;
    const cap = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** Math.min(this.failures, 10));
    const wait = cap / 2 + Math.random() * (cap / 2);
    this.on.status(`${why}; retrying in ${(wait / 1000).toFixed(1)} s`, 'warn');
    await new Promise((r) => setTimeout(r, wait));
  }

  // Joins (again): one join at a time; the poll loop of an older node ends.
  async join() {
    if (this.joining) return;
    this.joining = true;
    const generation = ++this.generation;
    if (this.abort) this.abort.abort();
    this.node = null;
    try {
      await this.joinUntilDone(generation);
    } finally {
      this.joining = false;
    }
  }

  async joinUntilDone(generation) {
    while (!this.stopped) {
      let res;
      try {
        res = await fetch(`${this.joinAt}/v1/nodes`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ group: this.group, name: this.name }),
        });
      } catch {
        await this.backoff('cannot reach the relay');
        continue;
      }
      if (res.status === 201) {
        let answer;
        try {
          answer = await res.json();
        } catch {
          await this.backoff('the relay sent a join answer that is not JSON');
          continue;
        }
        if (typeof answer.node !== 'string' || typeof answer.token !== 'string') {
          await this.backoff('the relay sent a join answer without a node');
          continue;
        }
        const host = location.hostname;
        const relay = answer.relay && typeof answer.relay === 'object' ? answer.relay : {};
        this.node = answer.node;
        this.token = answer.token;
        this.home = (typeof relay.master === 'string' && sameHostUrl(relay.master, host)) || this.joinAt;
        this.worker = typeof relay.worker === 'string' ? sameHostUrl(relay.worker, host) : null;
        this.cursor = Number.isSafeInteger(answer.cursor) && answer.cursor >= 0 ? answer.cursor : 0;
        this.lastSeq = this.cursor;
        this.failures = 0;
        this.on.joined(answer);
        this.on.status(`joined as ${answer.node}`, 'ok');
        this.pollLoop(generation);
        return;
      }
      const { error, message } = await errorOf(res);
      if (res.status === 400) {
        this.on.status(`cannot join: ${error} (${message})`, 'error');
        return;  // the group or name is invalid: retrying cannot help
      }
      await this.backoff(`join refused: ${res.status} ${error}`);
    }
  }

  async pollLoop(generation) {
    let afterRedirect = false;
    while (!this.stopped && generation === this.generation) {
      this.abort = new AbortController();
      let res;
      const url = `${this.home}/v1/nodes/${encodeURIComponent(this.node)}/events?after=${this.cursor}`;
      try {
        res = await fetch(url, { headers: this.auth(), cache: 'no-store', signal: this.abort.signal });
      } catch {
        if (this.stopped || generation !== this.generation) return;
        await this.backoff('lost the connection to the relay');
        continue;
      }
      if (generation !== this.generation) return;
      if (res.redirected) {
        // Followed a 307 to the node's home: poll there from now on.
        this.home = new URL(res.url).origin;
        this.redirects++;
      }
      if (res.status === 200) {
        afterRedirect = false;
        let body;
        try {
          body = await res.json();
        } catch {
          await this.backoff('the relay sent events that are not JSON');
          continue;
        }
        this.failures = 0;
        this.polls++;
        this.take(body);
        continue;
      }
      const { error } = await errorOf(res);
      if (res.status === 401 && res.redirected && !afterRedirect) {
        afterRedirect = true;  // the token was dropped on the way: ask the home itself
        continue;
      }
      if (res.status === 404 || res.status === 401 || (res.status === 400 && error === 'invalid_cursor')) {
        this.on.status(`the relay no longer knows this node (${error}); joining again`, 'warn');
        this.join();
        return;
      }
      await this.backoff(`poll failed: ${res.status} ${error}`);
    }
  }

  take(body) {
    if (!body || !Array.isArray(body.events)) return;
    for (const ev of body.events) {
      if (!ev || !Number.isSafeInteger(ev.seq) || ev.seq <= this.lastSeq) continue;  // seen already
      this.lastSeq = ev.seq;
      this.on.event(ev);
    }
    if (Number.isSafeInteger(body.cursor) && body.cursor >= this.cursor) this.cursor = body.cursor;
  }

  // Throws `sprite` off the edge `direction`. Resolves to {ok: true, to} once
  // the sprite is in the receiver's mailbox, else {ok: false, status, error,
  // message}; never rejects.
  async throwSprite(direction, sprite, id) {
    if (!this.node || !this.worker) return { ok: false, status: 0, error: 'not_joined', message: 'not joined yet' };
    let res;
    try {
      res = await fetch(`${this.worker}/v1/nodes/${encodeURIComponent(this.node)}/sprites`, {
        method: 'POST',
        headers: { ...this.auth(), 'Content-Type': 'application/json' },
        body: JSON.stringify({ direction, sprite, id }),
      });
    } catch {
      return { ok: false, status: 0, error: 'network', message: 'cannot reach the worker port' };
    }
    if (res.status === 202) {
      let body = {};
      try {
        body = await res.json();
      } catch { /* the sprite is delivered whatever the body says */ }
      return { ok: true, to: body.to };
    }
    const { error, message } = await errorOf(res);
    if (res.status === 404 || res.status === 401) this.join();
    return { ok: false, status: res.status, error, message };
  }

  // Leaves the grid; `keepalive` lets the request outlive the page.
  leave() {
    this.stopped = true;
    if (this.abort) this.abort.abort();
    if (!this.node) return;
    try {
      fetch(`${this.home}/v1/nodes/${encodeURIComponent(this.node)}`, {
        method: 'DELETE',
        headers: this.auth(),
        keepalive: true,
      }).catch(() => {});
    } catch { /* the page is going away; the node TTL removes the node */ }
  }
}
