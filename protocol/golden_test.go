package protocol_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"guidecall/protocol"
)

// example is one JSON line of a ```json block in docs/protocol.md.
type example struct {
	line int
	text string
	// sender is "server" or "client" when the text before the block says
	// ("Server → guide:", "Shopper → server:"); empty when it does not.
	sender string
}

// arrow is a line announcing who sends the next block.
var arrow = regexp.MustCompile(`^(Server|Shopper|Guide) → `)

func docExamples(t *testing.T) []example {
	t.Helper()
	f, err := os.Open("../docs/protocol.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		out     []example
		inJSON  bool
		inOther bool
		sender  string
		n       int
	)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		n++
		line := sc.Text()
		switch {
		case inJSON && strings.HasPrefix(line, "```"):
			inJSON = false
		case inJSON:
			if strings.TrimSpace(line) != "" {
				out = append(out, example{line: n, text: line, sender: sender})
			}
		case inOther && strings.HasPrefix(line, "```"):
			inOther = false
		case inOther:
		case line == "```json":
			inJSON = true
		case strings.HasPrefix(line, "```"):
			inOther = true
		case strings.HasPrefix(line, "#"):
			// A new section says again who sends what.
			sender = ""
		case arrow.MatchString(line):
			sender = "client"
			if strings.HasPrefix(line, "Server") {
				sender = "server"
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatal("no JSON examples found in docs/protocol.md")
	}
	return out
}

// payloadFor picks the Go type of an example: by who sends it when the
// document says, else by the only side that sends its type. A message
// both sides send and that has no from is a client's: the server sets from
// on everything it relays.
func payloadFor(env protocol.Envelope, sender string) (any, string) {
	client, server := protocol.ClientPayload(env.Type), protocol.ServerPayload(env.Type)
	switch {
	case env.From != "":
		sender = "server"
	case sender != "":
	case client == nil:
		sender = "server"
	default:
		sender = "client"
	}
	if sender == "server" {
		return server, sender
	}
	return client, sender
}

func canonical(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return v
}

// TestDocExamplesRoundTrip decodes every example of docs/protocol.md into
// its envelope and payload type and encodes it back: a field the document
// shows and the type lacks (or the reverse) fails here.
func TestDocExamplesRoundTrip(t *testing.T) {
	seen := map[protocol.Type]bool{}
	for _, ex := range docExamples(t) {
		var env protocol.Envelope
		dec := json.NewDecoder(strings.NewReader(ex.text))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&env); err != nil {
			t.Errorf("protocol.md:%d: not an envelope: %v\n%s", ex.line, err, ex.text)
			continue
		}
		if env.V != protocol.Version {
			t.Errorf("protocol.md:%d: v=%d, want %d", ex.line, env.V, protocol.Version)
		}
		payload, sender := payloadFor(env, ex.sender)
		if payload == nil {
			t.Errorf("protocol.md:%d: %s sends %q, which has no Go type", ex.line, sender, env.Type)
			continue
		}
		seen[env.Type] = true
		if len(env.Data) > 0 {
			pd := json.NewDecoder(bytes.NewReader(env.Data))
			pd.DisallowUnknownFields()
			if err := pd.Decode(payload); err != nil {
				t.Errorf("protocol.md:%d: %s data into %T: %v", ex.line, env.Type, payload, err)
				continue
			}
		}
		var got []byte
		var err error
		if env.From == "" {
			var data any
			if len(env.Data) > 0 {
				data = payload
			}
			got, err = protocol.Encode(env.Type, env.CallID, data)
		} else {
			// Relayed: the server encodes its envelope around the data.
			env.Data, err = json.Marshal(payload)
			if err == nil {
				got, err = env.Marshal()
			}
		}
		if err != nil {
			t.Errorf("protocol.md:%d: encode: %v", ex.line, err)
			continue
		}
		if !reflect.DeepEqual(canonical(t, got), canonical(t, []byte(ex.text))) {
			t.Errorf("protocol.md:%d: %s as %T does not round-trip\n doc: %s\n Go:  %s", ex.line, env.Type, payload, ex.text, got)
		}
	}
	for _, typ := range allTypes {
		if !seen[typ] {
			t.Errorf("docs/protocol.md has no example of %q", typ)
		}
	}
}

// allTypes are every message type of the protocol.
var allTypes = []protocol.Type{
	protocol.TypeAuth, protocol.TypePresence, protocol.TypeOfferAccept, protocol.TypeOfferDecline,
	protocol.TypeQueueCancel, protocol.TypeSDP, protocol.TypeICE, protocol.TypeICERestart,
	protocol.TypeCallConnected, protocol.TypeCallEnd, protocol.TypeCallQuality, protocol.TypeCallTransfer, protocol.TypeCallHold,
	protocol.TypeWelcome, protocol.TypeError, protocol.TypeQueuePosition, protocol.TypeQueueRequeued,
	protocol.TypeQueueLeft, protocol.TypeOffer, protocol.TypeOfferRevoked, protocol.TypeCallMatched,
	protocol.TypeCallState, protocol.TypeCallPeer, protocol.TypeCallEnded, protocol.TypePaymentLink,
	protocol.TypeChatSend, protocol.TypeProductShare, protocol.TypeCartUpdate,
	protocol.TypeChatMessage, protocol.TypeProductCard, protocol.TypeCart,
	protocol.TypeCallbackChanged,
}

func TestEveryTypeHasAPayload(t *testing.T) {
	for _, typ := range allTypes {
		if protocol.ClientPayload(typ) == nil && protocol.ServerPayload(typ) == nil {
			t.Errorf("%q has no payload type in either direction", typ)
		}
	}
	if protocol.ClientPayload("teleport") != nil || protocol.ServerPayload("teleport") != nil {
		t.Error("an unknown type has a payload")
	}
}

// The shapes the document promises beyond its examples.
func TestServerShapes(t *testing.T) {
	for _, tc := range []struct {
		name string
		typ  protocol.Type
		data any
		want string
	}{
		{"welcome out of a call has call null", protocol.TypeWelcome,
			protocol.Welcome{Role: protocol.RoleShopper, WelcomeShopper: &protocol.WelcomeShopper{EntryID: "e_1", State: "waiting"}, HeartbeatMS: 15000},
			`{"role":"shopper","entry_id":"e_1","state":"waiting","resumed":false,"heartbeat_ms":15000,"call":null}`},
		{"a guide welcome keeps an empty name", protocol.TypeWelcome,
			protocol.Welcome{Role: protocol.RoleGuide, WelcomeGuide: &protocol.WelcomeGuide{GuideID: "g", Status: "away"}},
			`{"role":"guide","guide_id":"g","name":"","status":"away","resumed":false,"heartbeat_ms":0,"call":null}`},
		{"payment.link items are never null", protocol.TypePaymentLink,
			protocol.PaymentLink{LinkID: "pl_1", Amount: 100, Currency: "EUR", Status: "open"},
			`{"link_id":"pl_1","amount":100,"currency":"EUR","status":"open","description":"","checkout_url":"","items":[]}`},
		{"payment.link by pointer too", protocol.TypePaymentLink,
			&protocol.PaymentLink{LinkID: "pl_1"},
			`{"link_id":"pl_1","amount":0,"currency":"","status":"","description":"","checkout_url":"","items":[]}`},
		{"presence always has its reason", protocol.TypePresence,
			protocol.Presence{Status: "available"}, `{"status":"available","reason":""}`},
		{"a guide peer has no visit", protocol.TypeCallMatched,
			protocol.CallMatched{Role: protocol.RoleShopper, Initiator: protocol.RoleGuide, Peer: protocol.Peer{Name: "Ada", Role: protocol.RoleGuide}},
			`{"role":"shopper","initiator":"guide","peer":{"name":"Ada","role":"guide"}}`},
		{"a shopper peer keeps empty visit fields", protocol.TypeCallMatched,
			protocol.CallMatched{Role: protocol.RoleGuide, Initiator: protocol.RoleGuide,
				Peer: protocol.Peer{Role: protocol.RoleShopper, ShopperContext: &protocol.ShopperContext{Locale: "en"}}},
			`{"role":"guide","initiator":"guide","peer":{"name":"","role":"shopper","locale":"en","currency":"","page_url":""}}`},
		{"reconnected has no grace", protocol.TypeCallPeer,
			protocol.CallPeer{Status: "reconnected"}, `{"status":"reconnected"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := protocol.Encode(tc.typ, "", tc.data)
			if err != nil {
				t.Fatal(err)
			}
			var env protocol.Envelope
			if err := json.Unmarshal(b, &env); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(canonical(t, env.Data), canonical(t, []byte(tc.want))) {
				t.Fatalf("got  %s\nwant %s", env.Data, tc.want)
			}
		})
	}
}

func TestDecodeReportsBadMessage(t *testing.T) {
	env := protocol.Envelope{V: 1, Type: protocol.TypeCallEnd, Data: json.RawMessage(`{"reason":5}`)}
	var p protocol.CallEnd
	err := env.Decode(&p)
	pe, ok := err.(*protocol.Error)
	if !ok || pe.Code != protocol.CodeBadMessage {
		t.Fatalf("Decode of a wrong shape: %v, want a bad_message *Error", err)
	}
}
