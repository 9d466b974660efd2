package cluster

import (
	"fmt"
	"log/slog"
)

// raftLogger adapts etcd raft's Logger to slog. raft's Info chatter goes to
// Debug, except elections, which the /status view alone cannot explain.
type raftLogger struct{ log *slog.Logger }

func (l raftLogger) Debug(v ...any)                 { l.log.Debug(fmt.Sprint(v...)) }
func (l raftLogger) Debugf(format string, v ...any) { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l raftLogger) Info(v ...any)                  { l.log.Debug(fmt.Sprint(v...)) }
func (l raftLogger) Infof(format string, v ...any)  { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l raftLogger) Warning(v ...any)               { l.log.Warn(fmt.Sprint(v...)) }
func (l raftLogger) Warningf(format string, v ...any) {
	l.log.Warn(fmt.Sprintf(format, v...))
}
func (l raftLogger) Error(v ...any)                 { l.log.Error(fmt.Sprint(v...)) }
func (l raftLogger) Errorf(format string, v ...any) { l.log.Error(fmt.Sprintf(format, v...)) }
func (l raftLogger) Fatal(v ...any)                 { l.log.Error(fmt.Sprint(v...)); panic(fmt.Sprint(v...)) }
func (l raftLogger) Fatalf(format string, v ...any) {
	l.log.Error(fmt.Sprintf(format, v...))
	panic(fmt.Sprintf(format, v...))
}
func (l raftLogger) Panic(v ...any) { l.log.Error(fmt.Sprint(v...)); panic(fmt.Sprint(v...)) }
func (l raftLogger) Panicf(format string, v ...any) {
	l.log.Error(fmt.Sprintf(format, v...))
	panic(fmt.Sprintf(format, v...))
}
