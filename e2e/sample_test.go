package e2e

import (
	"time"

	"github.com/pion/webrtc/v4/pkg/media"
)

func sampleOf(b []byte) media.Sample {
	return media.Sample{Data: b, Duration: 33 * time.Millisecond}
}
