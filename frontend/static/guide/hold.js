// hold.js: a guide holding several calls talks in one at a time. The call
// on screen gets the guide's camera and microphone and is the only one
// played; every other live call is on hold, and its shopper is told so with
// call.hold (docs/protocol.md) until the guide switches to it.
//
// Each call sends its own clones of the guide's tracks, so holding one is
// disabling its clones: a held shopper gets black frames and silence, the
// call on screen is untouched, and a rebuilt peer connection (a shopper's
// reload) takes the same clones, still held. The guide's mute and camera
// buttons act on the source tracks; sync() carries them to the clones.

export class Hold {
  /**
   * @param {object} o
   * @param {function(string, boolean, (boolean|undefined)):void} o.send sends call.hold for a call
   *   (with what the shopper was told before: undefined when unknown)
   */
  constructor({ send }) {
    this.send = send;
    this.calls = new Map(); // call_id -> {clones, held, told}; told: what the shopper last heard, undefined when unknown
    this.source = null;
  }

  /**
   * The stream a call sends: clones of the guide's tracks, kept with the
   * call. A resumed call (the guide's page reloaded) may have been told
   * anything before the reload, so its shopper is told again.
   */
  streamFor(callId, source, { resumed = false } = {}) {
    this.source = source || null;
    this.release(callId);
    const clones = source ? source.getTracks().map((tr) => tr.clone()) : [];
    this.calls.set(callId, { clones, held: false, told: resumed ? undefined : false });
    return source ? new MediaStream(clones) : null;
  }

  /**
   * Puts activeId on screen: it is resumed, every other live call held.
   * recs are the console's calls ({id, call, stream}).
   */
  focus(activeId, recs) {
    for (const rec of recs) {
      const c = this.calls.get(rec.id);
      if (!c || !rec.call || rec.call.closed) continue;
      c.held = rec.id !== activeId;
      // The held shopper's media plays nowhere; disabled, it cannot by accident.
      for (const tr of rec.stream?.getTracks() || []) tr.enabled = !c.held;
      if (c.told !== c.held) {
        const before = c.told;
        c.told = c.held;
        this.send(rec.id, c.held, before);
      }
    }
    this.sync();
  }

  /** A call's remote stream arrived or changed: a held one stays silent. */
  remote(callId, stream) {
    const c = this.calls.get(callId);
    if (c) for (const tr of stream?.getTracks() || []) tr.enabled = !c.held;
  }

  /** Carries the source tracks' enabled (mute, camera off) to every call. */
  sync() {
    const on = (kind) => (this.source?.getTracks() || []).filter((tr) => tr.kind === kind).every((tr) => tr.enabled);
    for (const c of this.calls.values()) {
      for (const tr of c.clones) tr.enabled = !c.held && on(tr.kind);
    }
  }

  /** The shopper of callId came back (reload, network): a held one hears it again. */
  peerBack(callId) {
    const c = this.calls.get(callId);
    if (c?.held) this.send(callId, true);
  }

  isHeld(callId) {
    return !!this.calls.get(callId)?.held;
  }

  /** The call ended: its clones stop (the guide's own tracks do not). */
  release(callId) {
    const c = this.calls.get(callId);
    if (!c) return;
    for (const tr of c.clones) tr.stop();
    this.calls.delete(callId);
  }

  releaseAll() {
    for (const id of [...this.calls.keys()]) this.release(id);
  }

  /** Hears the shoppers coming back on the console's socket. */
  attach(signal) {
    signal.on("call.peer", (msg) => {
      if (msg.data?.status === "reconnected") this.peerBack(msg.call_id);
    });
  }
}
