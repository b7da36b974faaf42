// Package e2e holds the end-to-end tests: a real guidecall node started
// in-process on loopback, driven by pion/webrtc peers and by headless
// Chromium. It has no code outside its tests.
package e2e
