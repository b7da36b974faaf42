// presence.js: the presence card says what the guide really is: busy while
// it holds a call (the server's status stays "available" under a call, so
// that capacity above 1 keeps taking offers), wrap-up with the time it has
// left counting down, away with the reason when the server chose it, and
// a one-click way back after an automatic away.
import { t } from "./i18n.js";

const $ = (sel) => document.querySelector(sel);

// The states a guide is shown in; data-status carries the same names.
const STATES = {
  available: () => t("presence.state.available"),
  away: () => t("presence.state.away"),
  busy: () => t("presence.state.busy"),
  wrap_up: () => t("presence.state.wrap_up"),
};

const REASONS = {
  missed_offers: () => t("presence.reason.missed_offers"),
  call_ended: () => t("presence.reason.call_ended"),
  wrap_up_over: () => t("presence.reason.wrap_up_over"),
};

/** Formats a number of seconds as m:ss. */
export function clock(seconds) {
  const s = Math.max(0, Math.ceil(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

export class PresenceView {
  constructor() {
    this.status = "away"; // the server's: available, away, wrap_up
    this.reason = "";
    this.calls = 0; // live calls the console holds
    this.wrapUpEndsAt = 0; // performance.now() ms
    this.timer = null;
  }

  // set takes a presence (or welcome) from the server; wrapUpMs is what
  // its wrap-up has left, measured on this page's monotonic clock.
  set(status, reason, wrapUpMs) {
    this.status = status;
    this.reason = reason || "";
    this.wrapUpEndsAt = status === "wrap_up" && wrapUpMs > 0 ? performance.now() + wrapUpMs : 0;
    this.render();
  }

  setCalls(n) {
    if (n === this.calls) return;
    this.calls = n;
    this.render();
  }

  /** What the guide is, as shown: busy outranks the server's status. */
  shown() {
    if (this.calls > 0) return "busy";
    return STATES[this.status] ? this.status : "away";
  }

  /** Seconds of wrap-up left, or 0. */
  wrapUpLeft() {
    return this.wrapUpEndsAt ? Math.max(0, (this.wrapUpEndsAt - performance.now()) / 1000) : 0;
  }

  render() {
    clearInterval(this.timer);
    this.timer = null;
    const state = this.shown();
    const el = $("#presence-status");
    el.textContent = STATES[state]();
    el.dataset.status = state;
    el.dataset.serverStatus = this.status;
    el.dataset.reason = this.reason;
    const reason = $("#presence-reason");
    if (state === "busy") reason.textContent = t("presence.reason.in_call", { n: this.calls });
    else if (this.reason && this.reason !== "chosen") reason.textContent = (REASONS[this.reason] || (() => `(${this.reason.replace(/_/g, " ")})`))();
    else reason.textContent = "";
    const left = $("#wrap-up-left");
    if (state === "wrap_up" && this.wrapUpEndsAt) {
      const tick = () => {
        const secs = this.wrapUpLeft();
        left.textContent = t("presence.wrap_up_left", { time: clock(secs) });
        if (secs <= 0) clearInterval(this.timer); // presence wrap_up_over follows from the server
      };
      tick();
      this.timer = setInterval(tick, 500);
      left.hidden = false;
    } else {
      left.textContent = "";
      left.hidden = true;
    }
    // Set away by the server: say why, plainly, with the way back, until
    // the guide chooses again.
    const missed = state === "away" && this.reason === "missed_offers";
    $("#presence-alert-text").textContent = missed ? t("presence.alert.missed_offers") : "";
    $("#presence-alert").hidden = !missed;
    $("#go-available").setAttribute("aria-pressed", String(this.status === "available"));
    $("#go-away").setAttribute("aria-pressed", String(this.status === "away"));
    $("#go-available").textContent = this.status === "wrap_up" ? t("presence.end_wrap_up") : t("presence.go_available");
  }
}
