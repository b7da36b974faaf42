// panel.js: the markup of the shopper widget, rendered into its Shadow DOM.
// Text comes from the catalogs (data-i18n); ids are the widget's own, they
// cannot collide with the host page's inside the shadow root.

const CAMERA_ICON = `<svg aria-hidden="true" viewBox="0 0 24 24" width="20" height="20"><path fill="currentColor" d="M3 6.5A2.5 2.5 0 0 1 5.5 4h8A2.5 2.5 0 0 1 16 6.5v1.8l4.2-2.4A1.2 1.2 0 0 1 22 7v10a1.2 1.2 0 0 1-1.8 1.1L16 15.7v1.8a2.5 2.5 0 0 1-2.5 2.5h-8A2.5 2.5 0 0 1 3 17.5z"/></svg>`;

export const PANEL_HTML = `
<div class="gc" id="gc">
  <!-- Hidden until its handler is set, so an early click is never lost. -->
  <button id="launcher" type="button" class="launcher" hidden>${CAMERA_ICON}<span data-i18n="widget.call">Video call a guide</span></button>

  <section id="call-widget" class="panel" role="dialog" aria-modal="false" aria-labelledby="widget-title" hidden>
    <header class="widget-header">
      <h2 id="widget-title" data-i18n="widget.title">Live video with a guide</h2>
      <!-- #call-state keeps the machine state (idle/waiting/matched/connecting/connected/ended) for scripts and tests; people see the badge. -->
      <span id="call-state" class="machine-state" data-state="idle" aria-hidden="true">idle</span>
      <span id="call-state-label" class="state-badge" data-state="idle" aria-hidden="true"></span>
      <button id="minimise" type="button" class="icon-button" aria-label="Minimise" data-i18n-aria-label="widget.minimise" aria-expanded="true">
        <svg aria-hidden="true" viewBox="0 0 24 24" width="20" height="20"><path fill="currentColor" d="M5 17h14v2H5z"/></svg>
      </button>
      <button id="close-widget" type="button" class="icon-button" aria-label="Close" data-i18n-aria-label="widget.close">
        <svg aria-hidden="true" viewBox="0 0 24 24" width="20" height="20"><path fill="currentColor" d="M6.4 5 12 10.6 17.6 5 19 6.4 13.4 12l5.6 5.6-1.4 1.4L12 13.4 6.4 19 5 17.6 10.6 12 5 6.4z"/></svg>
      </button>
    </header>
    <p id="call-status" class="status" role="status" aria-live="polite"></p>
    <p id="widget-error" class="error" role="alert" hidden></p>

    <div id="precall-view" class="view" hidden>
      <p data-i18n="precall.intro">A product expert shows you the product live. You choose what they see of you.</p>
      <p id="availability" class="availability" role="status" hidden></p>
      <div id="precall-form">
        <label for="shopper-name" data-i18n="shop.name.label">Your name (optional)</label>
        <input id="shopper-name" name="name" type="text" autocomplete="given-name" maxlength="60">
      </div>
      <div id="preview" class="preview" hidden>
        <video id="preview-video" autoplay playsinline muted aria-label="Your camera preview" data-i18n-aria-label="precall.preview_video"></video>
      </div>
      <div id="device-pickers" class="device-pickers" hidden>
        <label for="camera-select" data-i18n="precall.camera">Camera</label>
        <select id="camera-select"></select>
        <label for="mic-select" data-i18n="precall.microphone">Microphone</label>
        <select id="mic-select"></select>
      </div>
      <button id="preview-toggle" type="button" class="button small" aria-pressed="false" data-i18n="precall.preview">Preview my camera</button>
      <div class="join-buttons">
        <button id="join-video" type="button" class="button primary wide" data-mode="video" aria-describedby="privacy-note" data-i18n="precall.join_video">Join with video</button>
        <button id="join-camera-off" type="button" class="button wide" data-mode="camera-off" aria-describedby="privacy-note" data-i18n="precall.join_camera_off">Join with my camera off</button>
        <button id="join-audio" type="button" class="button wide" data-mode="audio" aria-describedby="privacy-note" data-i18n="precall.join_audio">Audio only</button>
        <button id="callback-launch" type="button" class="button wide" hidden data-i18n="callback.open">Request a callback</button>
      </div>
      <p class="hint" data-i18n="precall.camera_later">Your camera and microphone turn on only when your guide joins.</p>
      <!-- Read before the camera is asked for (issue 7): what is kept, and the merchant's notice. -->
      <p id="privacy-note" class="hint privacy-note"><span id="privacy-text" data-i18n="shop.privacy.note_forever">Video calls are not recorded.</span> <a id="privacy-link" href="" target="_blank" rel="noopener" hidden data-i18n="shop.privacy.link">Privacy notice</a></p>
    </div>

    <div id="denied-view" class="view" hidden>
      <p id="denied-text" class="denied-text"></p>
      <p id="denied-help" class="hint"></p>
      <div class="join-buttons">
        <button id="denied-retry" type="button" class="button primary wide" data-i18n="denied.retry">Try again</button>
        <button id="denied-audio" type="button" class="button wide" data-mode="audio" data-i18n="denied.audio">Continue with audio only</button>
        <button id="denied-listen" type="button" class="button wide" data-mode="listen" data-i18n="denied.listen">Continue without camera and microphone</button>
      </div>
    </div>

    <div id="queue-view" class="view" hidden>
      <div class="spinner" aria-hidden="true"></div>
      <p id="queue-position" class="queue-position"></p>
      <button id="cancel-queue" type="button" class="button" data-i18n="widget.cancel">Leave the queue</button>
      <button id="callback-instead" type="button" class="button" hidden data-i18n="callback.instead">Request a callback instead</button>
    </div>

    <div id="callback-view" class="view" hidden>
      <h3 data-i18n="callback.title">Request a callback</h3>
      <form id="callback-form" novalidate>
        <p class="hint" data-i18n="callback.intro">Leave your details and a guide will call you back.</p>
        <label for="callback-name" data-i18n="callback.name">Your name</label>
        <input id="callback-name" type="text" autocomplete="name" maxlength="80" required>
        <label for="callback-phone" data-i18n="callback.phone">Phone</label>
        <input id="callback-phone" type="tel" autocomplete="tel" maxlength="32" aria-describedby="callback-contact-hint">
        <label for="callback-email" data-i18n="callback.email">Email</label>
        <input id="callback-email" type="email" autocomplete="email" maxlength="254" aria-describedby="callback-contact-hint">
        <p id="callback-contact-hint" class="hint" data-i18n="callback.contact_hint">A phone number or an email address</p>
        <label for="callback-from" data-i18n="callback.from">Call me from (optional)</label>
        <input id="callback-from" type="datetime-local">
        <label for="callback-to" data-i18n="callback.to">until</label>
        <input id="callback-to" type="datetime-local">
        <label for="callback-message" data-i18n="callback.message">What can we help with? (optional)</label>
        <textarea id="callback-message" rows="3" maxlength="1000"></textarea>
        <p id="callback-error" class="error" role="alert" hidden></p>
        <div class="join-buttons">
          <button id="callback-send" type="submit" class="button primary wide" data-i18n="callback.send">Send request</button>
        </div>
      </form>
      <p id="callback-done" class="ended-message" role="status" hidden data-i18n="callback.sent">Thank you! A guide will contact you.</p>
    </div>

    <div id="call-view" class="view" hidden>
      <div class="call-head">
        <p id="peer-name" class="peer-name"></p>
        <span id="quality" class="quality" data-level="" role="img" aria-label="" hidden><i></i><i></i><i></i></span>
      </div>
      <div class="videos" id="videos">
        <video id="remote-video" autoplay playsinline aria-label="Guide video" data-i18n-aria-label="widget.remote"></video>
        <video id="local-video" autoplay playsinline muted aria-label="Your camera" data-i18n-aria-label="widget.local"></video>
        <p id="audio-only-note" class="audio-only-note" hidden data-i18n="call.audio_only">Audio only</p>
        <button id="restore" type="button" class="restore" aria-label="Open the call panel" data-i18n-aria-label="widget.restore" hidden>
          <svg aria-hidden="true" viewBox="0 0 24 24" width="18" height="18"><path fill="currentColor" d="M4 4h7v2H7.4l4.3 4.3-1.4 1.4L6 7.4V11H4zm16 16h-7v-2h3.6l-4.3-4.3 1.4-1.4 4.3 4.3V13h2z"/></svg>
        </button>
      </div>
      <div class="controls" role="group" aria-label="Call controls" data-i18n-aria-label="widget.controls">
        <button id="mute" type="button" class="button round" aria-pressed="false" data-i18n="widget.mute">Mute</button>
        <button id="camera" type="button" class="button round" aria-pressed="false" data-i18n="widget.camera_off">Camera off</button>
        <button id="switch-camera" type="button" class="button round" hidden data-i18n="widget.switch_camera">Switch camera</button>
        <button id="fullscreen" type="button" class="button round" hidden data-i18n="widget.fullscreen">Full screen</button>
        <button id="end-call" type="button" class="button round danger" data-i18n="widget.end">End call</button>
      </div>
      <section id="chat" class="chat" aria-labelledby="chat-title" hidden>
        <h3 id="chat-title" class="chat-title" data-i18n="chat.title">Chat with your guide</h3>
        <div role="log" aria-live="polite"><ol id="chat-log" class="chat-log"></ol></div>
        <form id="chat-form" class="chat-form">
          <label for="chat-input" class="machine-state" data-i18n="chat.label">Message</label>
          <input id="chat-input" type="text" maxlength="2000" autocomplete="off" enterkeyhint="send">
          <button type="submit" class="button small primary" data-i18n="chat.send">Send</button>
        </form>
      </section>
    </div>


    <div id="ended-view" class="view" hidden>
      <p id="ended-message" class="ended-message"></p>
      <div id="summary" class="summary" hidden>
        <h3 data-i18n="summary.title">In this call</h3>
        <ul id="summary-list"></ul>
      </div>
      <form id="rating-form" class="rating-form" hidden>
        <fieldset>
          <legend data-i18n="rating.question">How was your call?</legend>
          <div class="stars">
            <input type="radio" name="rating" id="rate-1" value="1"><label for="rate-1"><span aria-hidden="true">★</span><span class="machine-state" data-i18n="rating.1">1 of 5, poor</span></label>
            <input type="radio" name="rating" id="rate-2" value="2"><label for="rate-2"><span aria-hidden="true">★</span><span class="machine-state" data-i18n="rating.2">2 of 5</span></label>
            <input type="radio" name="rating" id="rate-3" value="3"><label for="rate-3"><span aria-hidden="true">★</span><span class="machine-state" data-i18n="rating.3">3 of 5</span></label>
            <input type="radio" name="rating" id="rate-4" value="4"><label for="rate-4"><span aria-hidden="true">★</span><span class="machine-state" data-i18n="rating.4">4 of 5</span></label>
            <input type="radio" name="rating" id="rate-5" value="5"><label for="rate-5"><span aria-hidden="true">★</span><span class="machine-state" data-i18n="rating.5">5 of 5, excellent</span></label>
          </div>
        </fieldset>
        <label for="rating-comment" data-i18n="rating.comment">Anything to add? (optional)</label>
        <textarea id="rating-comment" rows="2" maxlength="2000"></textarea>
        <button id="rating-submit" type="submit" class="button primary wide" data-i18n="rating.submit">Send rating</button>
      </form>
      <p id="rating-done" class="rating-done" role="status" tabindex="-1" hidden data-i18n="rating.thanks">Thank you for your rating.</p>
      <div class="join-buttons">
        <button id="call-again" type="button" class="button wide" data-i18n="ended.call_again">Call again</button>
        <button id="continue-shopping" type="button" class="button wide" data-i18n="ended.continue">Continue shopping</button>
      </div>
    </div>

    <div id="product-cards" class="product-cards"></div>
    <div id="payment-cards" class="payment-cards"></div>
  </section>
  <button id="mini-restore" type="button" class="mini-pill" hidden>
    <span id="mini-text"></span>
  </button>
</div>
`;
