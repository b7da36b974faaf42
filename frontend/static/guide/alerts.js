// alerts.js: offers a guide cannot miss. A chime (WebAudio, synthesised:
// no asset to load) repeats while an offer waits, unless the guide turned
// sound off (remembered in this browser); a desktop notification comes up
// when the console's tab is hidden (permission is asked at sign-in, the one
// moment there is a click to ask it from).
import { onLocaleChange, t } from "./i18n.js";

const SOUND_KEY = "guidecall.console.sound";
const REPEAT_MS = 4000;

export class OfferAlerts {
  constructor() {
    this.audio = null; // AudioContext, made on the first gesture (autoplay rules)
    this.repeat = null;
    this.notes = new Map(); // offer_id -> Notification
    this.sound = readSound();
    this.onFocusOffer = null;
    this.asking = null;
    this.shown = null; // {offer, inCall} while an offer waits
    // An offer that came while the tab was in front still needs a
    // notification if the guide then switches away from it.
    document.addEventListener("visibilitychange", () => {
      const o = this.shown;
      if (document.visibilityState === "hidden" && o && !this.notes.has(o.offer.offer_id)) this.notify(o.offer, o.inCall);
    });
  }

  get soundOn() { return this.sound; }

  setSound(on) {
    this.sound = Boolean(on);
    try { localStorage.setItem(SOUND_KEY, this.sound ? "on" : "off"); } catch { /* private mode */ }
    if (this.sound) this.unlock();
    else this.stopRepeat();
  }

  // unlock makes (or resumes) the audio context; call it from a click or a
  // key press, when browsers allow sound to start.
  unlock() {
    try {
      if (!this.audio) {
        const Ctx = window.AudioContext || window.webkitAudioContext;
        if (!Ctx) return;
        this.audio = new Ctx();
      }
      if (this.audio.state === "suspended") this.audio.resume().catch(() => {});
    } catch (e) {
      console.warn("audio unavailable", e);
    }
  }

  // askPermission asks for desktop notifications once, from the sign-in
  // click; a guide who said no is not asked again.
  askPermission() {
    this.unlock();
    if (typeof Notification === "undefined" || Notification.permission !== "default") return;
    try {
      this.asking = Notification.requestPermission().catch(() => {});
    } catch { /* old API */ }
  }

  // showPermission tells the guide, in el, when offers cannot reach it
  // behind another tab.
  async showPermission(el) {
    await this.asking;
    const state = typeof Notification === "undefined" ? "unsupported" : Notification.permission;
    const draw = () => {
      el.textContent = state === "denied" ? t("alerts.notify_denied") : state === "unsupported" ? t("alerts.notify_unsupported") : "";
      el.hidden = !el.textContent;
    };
    // The latest hint is drawn again in a new language (one listener a page).
    if (!this.drawHint) onLocaleChange(() => this.drawHint());
    this.drawHint = draw;
    draw();
  }

  // offer alerts for an offer just shown: the chime now and every few
  // seconds while it waits, and a notification if the tab is hidden.
  offer(offer, { inCall = false } = {}) {
    this.stopRepeat();
    this.chime();
    this.repeat = setInterval(() => this.chime(), REPEAT_MS);
    this.shown = { offer, inCall };
    if (document.visibilityState === "hidden") this.notify(offer, inCall);
  }

  // done stops the alerts of that offer (answered, revoked, expired).
  done(offerId) {
    this.stopRepeat();
    if (this.shown?.offer.offer_id === offerId) this.shown = null;
    const n = this.notes.get(offerId);
    if (n) {
      n.close();
      this.notes.delete(offerId);
    }
  }

  stopRepeat() {
    clearInterval(this.repeat);
    this.repeat = null;
  }

  chime() {
    if (!this.sound) return;
    this.unlock();
    const ctx = this.audio;
    if (!ctx) return;
    // Two short rising tones, soft enough for a shop floor.
    const now = ctx.currentTime;
    for (const [i, freq] of [660, 880].entries()) {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.type = "sine";
      osc.frequency.value = freq;
      const start = now + i * 0.18;
      gain.gain.setValueAtTime(0.0001, start);
      gain.gain.exponentialRampToValueAtTime(0.25, start + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, start + 0.16);
      osc.connect(gain).connect(ctx.destination);
      osc.start(start);
      osc.stop(start + 0.17);
    }
  }

  notify(offer, inCall) {
    if (typeof Notification === "undefined" || Notification.permission !== "granted") return;
    const sh = offer.shopper || {};
    const body = [sh.name || t("offer.anonymous"), sh.queue, sh.locale].filter(Boolean).join(" · ");
    try {
      const n = new Notification(inCall ? t("offer.title_in_call") : t("offer.title"), {
        body,
        tag: `offer-${offer.offer_id}`,
        requireInteraction: true,
        silent: !this.sound,
      });
      n.onclick = () => {
        window.focus();
        n.close();
        this.onFocusOffer?.(offer.offer_id);
      };
      this.notes.set(offer.offer_id, n);
    } catch (e) {
      console.warn("notification failed", e);
    }
  }
}

function readSound() {
  try { return localStorage.getItem(SOUND_KEY) !== "off"; } catch { return true; }
}

/** Wires a checkbox to the alerts' sound setting. */
export function mountSoundToggle(input, alerts) {
  input.checked = alerts.soundOn;
  input.addEventListener("change", () => {
    alerts.setSound(input.checked);
    if (input.checked) alerts.chime(); // the guide hears what it will sound like
  });
}
