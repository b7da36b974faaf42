// call.js: the RTCPeerConnection lifecycle of one call, for both roles.
//
// The guide is the initiator: it fetches ICE servers, adds its tracks and
// sends the SDP offer. The shopper creates its connection on call.matched
// (also with fresh ICE servers), waits for the offer and answers. Both
// trickle ICE; candidates that arrive before the remote description are
// queued. Everything touching SDP runs through one promise chain, so
// messages are applied in arrival order.
//
// Recovery: when the connection fails (or stays disconnected), or after a
// WebSocket resume, the initiator fetches fresh ICE servers, applies them
// with setConfiguration(), calls restartIce() and sends a new offer; the
// shopper asks for that with an `ice.restart` message. A shopper whose page
// was reloaded has a new connection (new DTLS): it sends `ice.restart` with
// fresh:true and the initiator replaces its connection instead.
//
// Renegotiation mid-call (a shopper who joined with the camera off turns it
// on): the side whose tracks changed offers, in the "perfect negotiation"
// pattern of the WebRTC spec. The shopper is the polite peer: when its
// offer crosses one of the guide's, it rolls back and answers the guide's,
// and the browser asks it to offer again once stable. The guide, impolite,
// ignores a shopper's offer that crosses its own.
//
// The page state follows connectionState and iceConnectionState, whichever
// changes: an ICE restart on a healthy connection may leave connectionState
// at "connected" throughout, so no single "connected" event is awaited.

/** Page-visible call states (the text of #call-state). */
export const STATES = ["waiting", "matched", "connecting", "connected", "ended"];

/** How often a side reports its getStats() summary (call.quality). */
export const QUALITY_EVERY_MS = 10000;

const DISCONNECTED_GRACE_MS = 3000;
const RESTART_MIN_INTERVAL_MS = 4000;

/**
 * Fetches /api/v1/ice-servers with a bearer token and returns an
 * RTCConfiguration. iceTransportPolicy is taken from the answer when present.
 */
export async function fetchIceConfig(token, { url = "/api/v1/ice-servers" } = {}) {
  const res = await fetch(url, { headers: { Authorization: `Bearer ${token}`, Accept: "application/json" }, cache: "no-store" });
  if (!res.ok) throw new Error(`ice-servers: HTTP ${res.status}`);
  const body = await res.json();
  const config = { iceServers: Array.isArray(body.iceServers) ? body.iceServers : [] };
  // The TURN credentials die after ttl seconds (and when the call ends);
  // Call renews them before that with an ICE restart.
  if (Number(body.ttl) > 0) Object.defineProperty(config, "ttl", { value: Number(body.ttl), enumerable: false });
  if (body.iceTransportPolicy === "relay" || body.iceTransportPolicy === "all") {
    config.iceTransportPolicy = body.iceTransportPolicy;
  }
  return config;
}

export class Call {
  /**
   * @param {object} o
   * @param {import("./signal.js").Signal} o.signal
   * @param {string} o.callId
   * @param {"guide"|"shopper"} o.role
   * @param {boolean} o.initiator true for the side that sends offers (the guide)
   * @param {MediaStream|null} o.localStream
   * @param {function():Promise<RTCConfiguration>} o.getIceConfig
   * @param {function(string):void} [o.onState] called with matched/connecting/connected/ended
   * @param {function(MediaStream):void} [o.onRemoteStream]
   * @param {function(object):void} [o.onPeer] call.peer data (disconnected/reconnected)
   * @param {function(object):void} [o.onEnded] {reason, by}
   * @param {boolean} [o.fresh] the call existed before this page: ask the
   *   initiator for a new connection rather than wait for its first offer
   * @param {boolean} [o.audioOnly] receive no video either (the answerer
   *   marks the offered video inactive)
   */
  constructor(o) {
    this.signal = o.signal;
    this.callId = o.callId;
    this.role = o.role;
    this.initiator = !!o.initiator;
    this.localStream = o.localStream || null;
    this.getIceConfig = o.getIceConfig;
    this.onState = o.onState || (() => {});
    this.onRemoteStream = o.onRemoteStream || (() => {});
    this.onPeer = o.onPeer || (() => {});
    this.onEnded = o.onEnded || (() => {});
    this.fresh = !!o.fresh;
    this.audioOnly = !!o.audioOnly;
    this.restartsCompleted = 0; // ICE restarts whose offer/answer completed
    this.offersAnswered = 0;
    this.offeredRestart = false;
    this.restarting = false;
    this.pc = null;
    this.state = null; // start() moves it to "matched"
    this.closed = false;
    this.pendingCandidates = [];
    this.chain = Promise.resolve();
    this.reportedConnected = false;
    this.lastRestart = 0;
    this.disconnectTimer = null;
    this.remoteStream = null;
    this.endReason = null;
    this.qualityTimer = null;
    this.makingOffer = false;
    this.renegotiate = false; // addVideo asked for an offer of ours
  }

  /**
   * Starts sending a camera track mid-call (the shopper joined with the
   * camera off or audio only): the transceiver the guide's video came on
   * now sends too, and the renegotiation that follows is the shopper's
   * offer (see the top of this file).
   */
  addVideo(track) {
    if (this.closed || !this.localStream) return;
    this.localStream.addTrack(track);
    this.audioOnly = false;
    this.renegotiate = true;
    if (!this.pc) return; // the next connection takes the stream's tracks
    const tr = this.pc.getTransceivers().find((x) => x.receiver.track?.kind === "video" && !x.sender.track && !x.stopped);
    if (tr) {
      tr.sender.setStreams?.(this.localStream);
      tr.sender.replaceTrack(track);
      tr.direction = "sendrecv";
    } else {
      this.pc.addTrack(track, this.localStream);
    }
  }

  /** Creates the peer connection; the initiator also sends the first offer. */
  start() {
    this._setState("matched");
    return this._enqueue(async () => {
      const config = await this._iceConfig();
      this._createPc(config);
      if (this.initiator) await this._sendOffer(false);
      else if (this.fresh) this.signal.send("ice.restart", { fresh: true }, this.callId);
    });
  }

  /** Feeds a signaling message (sdp, ice, ice.restart, call.*) to the call. */
  handle(msg) {
    if (this.closed || (msg.call_id && msg.call_id !== this.callId)) return;
    const data = msg.data || {};
    switch (msg.type) {
      case "sdp":
        this._enqueue(() => this._onSdp(data));
        break;
      case "ice":
        this._enqueue(() => this._onIce(data));
        break;
      case "ice.restart":
        // Shoppers cannot offer; a restart asked of them is for the guide.
        if (this.initiator && data.fresh) this.rebuild();
        else if (this.initiator) this.restart("asked");
        break;
      case "call.peer":
        this.onPeer(data);
        if (data.status === "reconnected" && this.initiator && this.pc?.connectionState !== "connected") {
          this.restart("peer_reconnected");
        }
        break;
      case "call.state":
        if (data.state === "ended") this.close(data.reason || "ended");
        break;
      case "call.ended":
        this.close(data.reason || "hangup", data.by);
        break;
      default:
        break;
    }
  }

  /** The WebSocket came back with resumed:true while this call is live. */
  resumed() {
    if (this.closed) return;
    this.restart("resume", { force: true });
  }

  /**
   * Re-runs ICE. The initiator restarts itself; the shopper asks the
   * initiator with `ice.restart`.
   */
  restart(why = "failed", { force = false } = {}) {
    if (this.closed) return;
    const now = Date.now();
    if (!force && now - this.lastRestart < RESTART_MIN_INTERVAL_MS) return;
    this.lastRestart = now;
    console.info(`call ${this.callId}: ICE restart (${why})`);
    this.restarting = true;
    if (!this.initiator) {
      this.signal.send("ice.restart", {}, this.callId);
      return;
    }
    this._enqueue(async () => {
      if (!this.pc || this.closed) return;
      try {
        const config = await this._iceConfig();
        const next = { ...this.pc.getConfiguration(), iceServers: config.iceServers };
        if (config.iceTransportPolicy) next.iceTransportPolicy = config.iceTransportPolicy;
        this.pc.setConfiguration(next);
      } catch (err) {
        console.warn("call: could not refresh ICE servers", err);
      }
      if (this.pc.signalingState === "have-local-offer") {
        // The answer to our last offer may have been lost with the socket.
        await this.pc.setLocalDescription({ type: "rollback" });
      }
      this.pc.restartIce();
      await this._sendOffer(true);
    });
  }

  /**
   * The other side has a brand-new peer connection (its page reloaded):
   * replace ours and send a first offer, since an ICE restart would keep
   * a DTLS session the other side no longer has.
   */
  rebuild() {
    if (this.closed || !this.initiator) return;
    console.info(`call ${this.callId}: new peer connection for a reloaded peer`);
    this.lastRestart = Date.now();
    this._enqueue(async () => {
      if (this.closed) return;
      this._createPc(await this._iceConfig());
      this._setState("connecting");
      await this._sendOffer(false);
    });
  }

  /** Hangs up: tells the server and closes locally. */
  end(reason = "hangup") {
    if (this.closed) return;
    this.signal.send("call.end", { reason }, this.callId);
    this.close(reason, this.role);
  }

  /** Closes the peer connection (idempotent). */
  close(reason = "hangup", by) {
    if (this.closed) return;
    this.closed = true;
    this.endReason = reason;
    clearTimeout(this.disconnectTimer);
    clearInterval(this.qualityTimer);
    clearTimeout(this.renewTimer);
    if (this.pc) {
      this.pc.onicecandidate = null;
      this.pc.ontrack = null;
      this.pc.onconnectionstatechange = null;
      this.pc.oniceconnectionstatechange = null;
      this.pc.close();
    }
    this._setState("ended");
    this.onEnded({ reason, by });
  }

  /**
   * Stats for tests and the quality display: the selected candidate pair's
   * candidate types, inbound video framesDecoded, outbound video framesSent.
   */
  async stats() {
    const out = {
      connectionState: this.pc ? this.pc.connectionState : "new",
      iceConnectionState: this.pc ? this.pc.iceConnectionState : "new",
      state: this.state,
      restartsCompleted: this.restartsCompleted,
      localCandidateType: null,
      remoteCandidateType: null,
      framesDecoded: 0,
      framesSent: 0,
    };
    if (!this.pc) return out;
    const report = await this.pc.getStats();
    const byId = new Map();
    report.forEach((s) => byId.set(s.id, s));
    let pair = null;
    report.forEach((s) => {
      if (s.type === "transport" && s.selectedCandidatePairId && !pair) pair = byId.get(s.selectedCandidatePairId) || null;
    });
    if (!pair) {
      report.forEach((s) => {
        if (s.type === "candidate-pair" && (s.selected || (s.nominated && s.state === "succeeded")) && !pair) pair = s;
      });
    }
    if (pair) {
      out.localCandidateType = byId.get(pair.localCandidateId)?.candidateType ?? null;
      out.remoteCandidateType = byId.get(pair.remoteCandidateId)?.candidateType ?? null;
    }
    report.forEach((s) => {
      const kind = s.kind || s.mediaType;
      if (kind !== "video") return;
      if (s.type === "inbound-rtp") out.framesDecoded += s.framesDecoded || 0;
      if (s.type === "outbound-rtp") out.framesSent += s.framesSent || 0;
    });
    return out;
  }

  /**
   * The call.quality report (docs/protocol.md): the selected pair's
   * round-trip time and candidate types, and the inbound video's jitter,
   * losses, frames, freezes and resolution. Counters are totals so far;
   * what the browser does not report is 0.
   */
  async quality() {
    const q = {
      rtt_ms: 0, jitter_ms: 0, packets_lost: 0, frames_decoded: 0, frames_dropped: 0, freeze_count: 0,
      frame_width: 0, frame_height: 0, local_candidate: "", remote_candidate: "",
    };
    if (!this.pc) return q;
    const report = await this.pc.getStats();
    const byId = new Map();
    report.forEach((s) => byId.set(s.id, s));
    let pair = null;
    report.forEach((s) => {
      if (s.type === "transport" && s.selectedCandidatePairId && !pair) pair = byId.get(s.selectedCandidatePairId) || null;
    });
    if (!pair) {
      report.forEach((s) => {
        if (s.type === "candidate-pair" && (s.selected || (s.nominated && s.state === "succeeded")) && !pair) pair = s;
      });
    }
    if (pair) {
      q.rtt_ms = Math.max(0, (pair.currentRoundTripTime || 0) * 1000);
      q.local_candidate = byId.get(pair.localCandidateId)?.candidateType || "";
      q.remote_candidate = byId.get(pair.remoteCandidateId)?.candidateType || "";
    }
    report.forEach((s) => {
      if (s.type !== "inbound-rtp" || (s.kind || s.mediaType) !== "video") return;
      q.jitter_ms = Math.max(0, (s.jitter || 0) * 1000);
      q.packets_lost = Math.max(0, s.packetsLost || 0);
      q.frames_decoded = s.framesDecoded || 0;
      q.frames_dropped = s.framesDropped || 0;
      q.freeze_count = s.freezeCount || 0;
      q.frame_width = s.frameWidth || 0;
      q.frame_height = s.frameHeight || 0;
    });
    return q;
  }

  async _reportQuality() {
    if (this.closed) return;
    try {
      const q = await this.quality();
      if (!this.closed) this.signal.send("call.quality", q, this.callId);
    } catch (err) {
      console.debug("call: no quality report", err?.message);
    }
  }

  // --- internals ---

  _enqueue(fn) {
    this.chain = this.chain.then(() => (this.closed ? undefined : fn())).catch((err) => {
      console.error(`call ${this.callId}:`, err);
    });
    return this.chain;
  }

  async _iceConfig() {
    try {
      const config = await this.getIceConfig();
      if (config.ttl > 0) {
        // Relays allocated with these credentials stop being refreshable
        // when they expire: restart ICE with fresh ones at 80% of their life.
        clearTimeout(this.renewTimer);
        this.renewTimer = setTimeout(() => this.restart("turn credentials renewal", { force: true }), config.ttl * 800);
      }
      return config;
    } catch (err) {
      console.warn("call: no ICE servers, trying host candidates only", err);
      return { iceServers: [] };
    }
  }

  _createPc(config) {
    if (this.pc) {
      this.pc.onicecandidate = null;
      this.pc.ontrack = null;
      this.pc.onconnectionstatechange = null;
      this.pc.oniceconnectionstatechange = null;
      this.pc.close();
    }
    const pc = new RTCPeerConnection(config);
    this.pc = pc;
    this.pendingCandidates = [];
    this.offersAnswered = 0;
    const tracks = this.localStream ? this.localStream.getTracks() : [];
    for (const track of tracks) pc.addTrack(track, this.localStream);
    if (this.initiator) {
      // What we do not send, we still want to receive. (The answerer gets a
      // receiving transceiver for every section of the offer anyway.)
      for (const kind of ["audio", "video"]) {
        if (!tracks.some((t) => t.kind === kind)) pc.addTransceiver(kind, { direction: "recvonly" });
      }
    }
    pc.onicecandidate = (ev) => {
      const c = ev.candidate;
      if (!c || !c.candidate) return; // end of candidates
      this.signal.send("ice", {
        candidate: c.candidate,
        sdpMid: c.sdpMid,
        sdpMLineIndex: c.sdpMLineIndex,
        usernameFragment: c.usernameFragment,
      }, this.callId);
    };
    pc.ontrack = (ev) => {
      if (!this.remoteStream) this.remoteStream = new MediaStream();
      const stream = ev.streams && ev.streams[0];
      if (stream && stream !== this.remoteStream) {
        this.remoteStream = stream;
      } else if (!this.remoteStream.getTracks().includes(ev.track)) {
        this.remoteStream.addTrack(ev.track);
      }
      this.onRemoteStream(this.remoteStream);
    };
    // The guide offers on its own schedule (start, restarts); the shopper
    // only for a change of its own (addVideo), until its answer comes: the
    // event also fires for the tracks it adds before the guide's first offer.
    if (!this.initiator) {
      pc.onnegotiationneeded = () => this._enqueue(async () => {
        if (pc !== this.pc || !this.renegotiate || !pc.remoteDescription || pc.signalingState !== "stable") return;
        await this._sendOffer(false);
      });
    }
    const onChange = () => this._onConnectionState(pc);
    pc.onconnectionstatechange = onChange;
    pc.oniceconnectionstatechange = onChange;
    return pc;
  }

  /**
   * Derives the page state from both connection states. ICE can leave
   * "checking" after a restart while connectionState never left
   * "connected"; either one reporting a live path means connected.
   */
  _onConnectionState(pc) {
    if (pc !== this.pc || this.closed) return;
    const ice = pc.iceConnectionState;
    let st = pc.connectionState || ice;
    if (st === "connected" && (ice === "disconnected" || ice === "failed")) st = ice;
    if ((st === "connecting" || st === "new") && (ice === "connected" || ice === "completed")) st = "connected";
    if (st !== "disconnected") clearTimeout(this.disconnectTimer);
    switch (st) {
      case "connected":
      case "completed":
        this._setState("connected");
        if (!this.reportedConnected) {
          this.reportedConnected = true;
          this.signal.send("call.connected", {}, this.callId);
          // One report at once, so even a short call has one, then every
          // QUALITY_EVERY_MS until the call closes.
          this._reportQuality();
          this.qualityTimer = setInterval(() => this._reportQuality(), QUALITY_EVERY_MS);
        }
        break;
      case "connecting":
      case "checking":
        if (this.state !== "connected") this._setState("connecting");
        break;
      case "disconnected":
        this._setState("connecting");
        clearTimeout(this.disconnectTimer);
        this.disconnectTimer = setTimeout(() => {
          if (pc === this.pc && !this.closed && pc.connectionState === "disconnected") this.restart("disconnected");
        }, DISCONNECTED_GRACE_MS);
        break;
      case "failed":
        this._setState("connecting");
        this.restart("failed", { force: true });
        break;
      default:
        break;
    }
  }

  async _sendOffer(iceRestart) {
    const pc = this.pc;
    this.makingOffer = true;
    try {
      const offer = await pc.createOffer(iceRestart ? { iceRestart: true } : undefined);
      this.offeredRestart = iceRestart;
      if (pc !== this.pc || this.closed) return;
      await pc.setLocalDescription(offer);
    } finally {
      this.makingOffer = false;
    }
    if (this.state !== "connected") this._setState("connecting");
    this.signal.send("sdp", { type: pc.localDescription.type, sdp: pc.localDescription.sdp }, this.callId);
  }

  async _onSdp(data) {
    if (data.type === "offer") {
      const colliding = this.makingOffer || (this.pc && this.pc.signalingState !== "stable");
      if (this.initiator) {
        // The shopper's tracks changed. Impolite: a crossing offer of
        // ours wins, and the shopper answers it and offers again.
        if (!this.pc || colliding) {
          console.info(`call ${this.callId}: the shopper's offer crossed ours; ignored`);
          return;
        }
        await this.pc.setRemoteDescription({ type: "offer", sdp: data.sdp });
        await this._flushCandidates();
        await this.pc.setLocalDescription(await this.pc.createAnswer());
        this.signal.send("sdp", { type: "answer", sdp: this.pc.localDescription.sdp }, this.callId);
        this._restartDone(false);
        return;
      }
      if (!this.pc) this._createPc(await this._iceConfig());
      // Polite: our own offer yields to the guide's.
      if (colliding && this.pc.signalingState === "have-local-offer") await this.pc.setLocalDescription({ type: "rollback" });
      const desc = { type: "offer", sdp: data.sdp };
      let rebuilt = false;
      try {
        await this.pc.setRemoteDescription(desc);
      } catch (err) {
        // E.g. the guide reloaded its page and offers from a new connection
        // (new DTLS fingerprint): start over with a fresh one.
        console.warn("call: offer refused, rebuilding the peer connection", err);
        this._createPc(await this._iceConfig());
        rebuilt = true;
        await this.pc.setRemoteDescription(desc);
      }
      await this._flushCandidates();
      if (this.audioOnly) {
        for (const tr of this.pc.getTransceivers()) {
          if (tr.receiver.track?.kind === "video") tr.direction = tr.sender.track ? "sendonly" : "inactive";
        }
      }
      const answer = await this.pc.createAnswer();
      await this.pc.setLocalDescription(answer);
      if (this.state !== "connected") this._setState("connecting");
      this.signal.send("sdp", { type: "answer", sdp: this.pc.localDescription.sdp }, this.callId);
      this.offersAnswered += 1;
      this._restartDone(this.offersAnswered > 1 && !rebuilt);
    } else if (data.type === "answer") {
      if (!this.pc || this.pc.signalingState !== "have-local-offer") {
        console.warn("call: unexpected answer ignored");
        return;
      }
      await this.pc.setRemoteDescription({ type: "answer", sdp: data.sdp });
      if (!this.initiator) this.renegotiate = false;
      await this._flushCandidates();
      this._restartDone(this.offeredRestart);
    }
  }

  async _onIce(data) {
    if (!data || !data.candidate) return;
    const cand = {
      candidate: data.candidate,
      sdpMid: data.sdpMid ?? null,
      sdpMLineIndex: data.sdpMLineIndex ?? null,
    };
    if (data.usernameFragment) cand.usernameFragment = data.usernameFragment;
    if (!this.pc || !this.pc.remoteDescription) {
      this.pendingCandidates.push(cand);
      return;
    }
    await this._addCandidate(cand);
  }

  async _flushCandidates() {
    const queued = this.pendingCandidates;
    this.pendingCandidates = [];
    for (const c of queued) await this._addCandidate(c);
  }

  async _addCandidate(c) {
    try {
      await this.pc.addIceCandidate(c);
    } catch (err) {
      // Candidates of an earlier ICE generation are expected to fail.
      console.debug("call: candidate not added", err?.message);
    }
  }

  /** An offer/answer round finished: the state is whatever the connection now says. */
  _restartDone(wasRestart) {
    if (wasRestart) this.restartsCompleted += 1;
    this.restarting = false;
    this._onConnectionState(this.pc);
  }

  _setState(state) {
    if (this.state === "ended" && state !== "ended") return;
    if (this.state === state) return;
    this.state = state;
    this.onState(state);
  }
}
