// media.js: the shopper's microphone and camera on the guide's tile. The
// widget sends media.state when the shopper mutes or turns the camera off
// (and again when the connection comes up, for a reloaded console); the
// tile says so in words, since silence and a black picture look like a
// fault otherwise.
import { onLocaleChange, t } from "./i18n.js";

const $ = (sel) => document.querySelector(sel);

export class PeerMedia {
  constructor() {
    this.byCall = new Map(); // call_id -> {audio, video}
    this.callId = null;
    onLocaleChange(() => this.render());
  }

  /** A media.state message from the shopper of one of the guide's calls. */
  update(callId, data) {
    if (!callId || !data) return;
    this.byCall.set(callId, { audio: data.audio === true, video: data.video === true });
    if (callId === this.callId) this.render();
  }

  /** The call on screen changed (or none is: null). */
  show(callId) {
    this.callId = callId;
    this.render();
  }

  forget(callId) {
    this.byCall.delete(callId);
    if (callId === this.callId) this.show(null);
  }

  render() {
    const el = $("#peer-media");
    const st = this.byCall.get(this.callId);
    const muted = st ? !st.audio : false;
    const dark = st ? !st.video : false;
    el.dataset.audio = st ? String(st.audio) : "";
    el.dataset.video = st ? String(st.video) : "";
    $("#mic-off-icon").hidden = !muted;
    $("#cam-off-icon").hidden = !dark;
    $("#peer-media-text").textContent = muted && dark ? t("media.muted_camera_off")
      : muted ? t("media.muted") : dark ? t("media.camera_off") : "";
    el.hidden = !muted && !dark;
  }
}
