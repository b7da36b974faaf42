package turnserver

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/pion/logging"
)

// levelTrace sits below slog's Debug: pion logs every datagram at Debug and
// some internals at Trace, and operators who turn on Debug for us should not
// also get pion's trace firehose.
const levelTrace = slog.LevelDebug - 4

// slogFactory routes pion's leveled logs into slog, tagged with pion's scope.
type slogFactory struct{ l *slog.Logger }

var _ logging.LoggerFactory = slogFactory{}

func (f slogFactory) NewLogger(scope string) logging.LeveledLogger {
	return slogLogger{l: f.l.With("pion", scope)}
}

type slogLogger struct{ l *slog.Logger }

// logf formats only when the level is enabled: pion calls Debugf for every
// packet it handles, and the Sprintf would otherwise dominate the hot path.
func (s slogLogger) logf(level slog.Level, format string, args ...any) {
	ctx := context.Background()
	if !s.l.Enabled(ctx, level) {
		return
	}
	s.l.Log(ctx, level, fmt.Sprintf(format, args...))
}

func (s slogLogger) log(level slog.Level, msg string) { s.l.Log(context.Background(), level, msg) }

func (s slogLogger) Trace(msg string)                  { s.log(levelTrace, msg) }
func (s slogLogger) Tracef(format string, args ...any) { s.logf(levelTrace, format, args...) }
func (s slogLogger) Debug(msg string)                  { s.log(slog.LevelDebug, msg) }
func (s slogLogger) Debugf(format string, args ...any) { s.logf(slog.LevelDebug, format, args...) }
func (s slogLogger) Info(msg string)                   { s.log(slog.LevelInfo, msg) }
func (s slogLogger) Infof(format string, args ...any)  { s.logf(slog.LevelInfo, format, args...) }
func (s slogLogger) Warn(msg string)                   { s.log(slog.LevelWarn, msg) }
func (s slogLogger) Warnf(format string, args ...any)  { s.logf(slog.LevelWarn, format, args...) }
func (s slogLogger) Error(msg string)                  { s.log(slog.LevelError, msg) }
func (s slogLogger) Errorf(format string, args ...any) { s.logf(slog.LevelError, format, args...) }
