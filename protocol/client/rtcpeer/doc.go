// Package rtcpeer is one side of a call written with pion: a peer
// connection that negotiates over a protocol/client socket (SDP and
// trickled ICE, holding its own candidates until its description is on
// the wire), sends a small VP8 track, counts the RTP it receives and
// summarises its getStats() as the protocol's call.quality report. The
// probe (`guidecall probe`) and the end-to-end tests both use it.
//
// It owns the WebRTC side of a synthetic call. It does not own the call's
// flow (joining, offers, payments: the caller drives those) or test
// assertions: failures are returned, or passed to Config.OnError for the
// ones that happen on pion's goroutines.
package rtcpeer
