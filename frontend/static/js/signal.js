// signal.js: the WebSocket client of docs/protocol.md (v1).
//
//  - The token never goes in the URL: the first frame is always `auth`.
//  - Frames are dispatched by `type` to handlers registered with on().
//  - After an unexpected drop it reconnects with exponential backoff and
//    jitter, sends the same `auth` again (token() is asked each time, so a
//    refreshed guide token is used), and the server's `welcome` then says
//    resumed:true; handlers see that welcome like any other message.
//  - Frames sent before the socket is authenticated are queued and flushed
//    after `welcome` (stale `ice` candidates are dropped instead).

export const PROTOCOL_VERSION = 1;

const NO_RECONNECT_CODES = new Set([
  4401, // unauthorized: the token is bad or expired
  4403, // access revoked: the account was disabled
  4409, // replaced by a newer connection of the same party (another tab)
]);

export class Signal {
  /**
   * @param {object} opts
   * @param {string} opts.url WebSocket URL (ws_url from the API)
   * @param {string|function():string} opts.token access token or a getter
   * @param {number} [opts.minDelay=500] first reconnect delay, ms
   * @param {number} [opts.maxDelay=15000] longest reconnect delay, ms
   * @param {number} [opts.maxAttempts=Infinity] reconnect attempts before giving up
   */
  constructor({ url, token, minDelay = 500, maxDelay = 15000, maxAttempts = Infinity }) {
    this.url = url;
    this.token = typeof token === "function" ? token : () => token;
    this.minDelay = minDelay;
    this.maxDelay = maxDelay;
    this.maxAttempts = maxAttempts;
    this.handlers = new Map();
    this.statusHandlers = new Set();
    this.ws = null;
    this.ready = false; // authenticated (welcome received)
    this.closedByUser = false;
    this.attempt = 0;
    this.timer = null;
    this.outbox = [];
    this.welcomes = 0;
    this.lastWelcome = null;
    this.status = "idle";
  }

  /** Registers fn for a message type ("*" for all). Returns an unsubscribe function. */
  on(type, fn) {
    if (!this.handlers.has(type)) this.handlers.set(type, new Set());
    this.handlers.get(type).add(fn);
    return () => this.handlers.get(type)?.delete(fn);
  }

  /**
   * Registers fn({status, code, reason, attempt, delay}) for connection
   * status changes: connecting, authenticating, ready, reconnecting, closed.
   */
  onStatus(fn) {
    this.statusHandlers.add(fn);
    return () => this.statusHandlers.delete(fn);
  }

  connect() {
    this.closedByUser = false;
    this._open();
    return this;
  }

  /** Sends a message; queued until authenticated. */
  send(type, data, callId) {
    const msg = { v: PROTOCOL_VERSION, type };
    if (callId) msg.call_id = callId;
    if (data !== undefined) msg.data = data;
    if (this.ready && this.ws?.readyState === WebSocket.OPEN) {
      this._write(msg);
      return true;
    }
    if (type !== "ice") this.outbox.push(msg);
    if (this.outbox.length > 100) this.outbox.shift();
    return false;
  }

  /** Closes for good (no reconnect). */
  close(code = 1000, reason = "bye") {
    this.closedByUser = true;
    clearTimeout(this.timer);
    this.outbox = [];
    const ws = this.ws;
    this.ws = null;
    this.ready = false;
    if (ws && ws.readyState <= WebSocket.OPEN) ws.close(code, reason);
    this._setStatus("closed", { code, reason });
  }

  /** Reconnects now (e.g. after the browser comes back online). */
  reconnectNow() {
    if (this.closedByUser) return;
    if (this.ws && this.ws.readyState <= WebSocket.OPEN && this.ready) return;
    clearTimeout(this.timer);
    if (this.ws) { try { this.ws.close(4000, "reconnect"); } catch { /* ignore */ } }
    this.ws = null;
    this._open();
  }

  _open() {
    clearTimeout(this.timer);
    this.ready = false;
    this._setStatus("connecting", { attempt: this.attempt });
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch (err) {
      console.error("signal: cannot open", err);
      this._scheduleReconnect(0, String(err));
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      if (ws !== this.ws) return;
      this._setStatus("authenticating");
      this._write({ v: PROTOCOL_VERSION, type: "auth", data: { token: this.token() } });
    };
    ws.onmessage = (ev) => {
      if (ws !== this.ws) return;
      let msg;
      try {
        msg = JSON.parse(ev.data);
      } catch {
        console.warn("signal: non-JSON frame dropped");
        return;
      }
      if (!msg || typeof msg.type !== "string") return;
      if (msg.type === "welcome") {
        this.ready = true;
        this.attempt = 0;
        this.welcomes++;
        this.lastWelcome = msg.data || {};
        this._setStatus("ready", { resumed: !!msg.data?.resumed });
        const queued = this.outbox;
        this.outbox = [];
        // Dispatch welcome first so resume handling runs before stale frames.
        this._dispatch(msg);
        for (const m of queued) this._write(m);
        return;
      }
      this._dispatch(msg);
    };
    ws.onerror = () => { /* a close event always follows */ };
    ws.onclose = (ev) => {
      if (ws !== this.ws) return;
      this.ws = null;
      this.ready = false;
      if (this.closedByUser) return;
      if (NO_RECONNECT_CODES.has(ev.code)) {
        this._setStatus("closed", { code: ev.code, reason: ev.reason });
        return;
      }
      this._scheduleReconnect(ev.code, ev.reason);
    };
  }

  _scheduleReconnect(code, reason) {
    if (this.attempt >= this.maxAttempts) {
      this._setStatus("closed", { code, reason });
      return;
    }
    // 1001 means the node is shutting down: any other node will do, go fast.
    const base = code === 1001 && this.attempt === 0 ? 100 : this.minDelay * 2 ** this.attempt;
    const capped = Math.min(this.maxDelay, base);
    const delay = Math.round(capped / 2 + Math.random() * capped / 2);
    this.attempt++;
    this._setStatus("reconnecting", { code, reason, attempt: this.attempt, delay });
    this.timer = setTimeout(() => this._open(), delay);
  }

  _write(msg) {
    try {
      this.ws.send(JSON.stringify(msg));
    } catch (err) {
      console.warn("signal: send failed", err);
    }
  }

  _dispatch(msg) {
    for (const key of [msg.type, "*"]) {
      for (const fn of this.handlers.get(key) || []) {
        try {
          fn(msg);
        } catch (err) {
          console.error(`signal: handler for ${msg.type} failed`, err);
        }
      }
    }
  }

  _setStatus(status, extra = {}) {
    this.status = status;
    for (const fn of this.statusHandlers) {
      try { fn({ status, ...extra }); } catch (err) { console.error(err); }
    }
  }
}

/** Derives the WebSocket URL of this origin, for when the API gave none. */
export function defaultWsUrl(loc = location) {
  return `${loc.protocol === "https:" ? "wss:" : "ws:"}//${loc.host}/api/v1/ws`;
}
