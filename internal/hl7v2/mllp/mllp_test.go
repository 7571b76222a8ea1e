package mllp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emr-project/emr/internal/hl7v2"
)

func frame(msg string) string { return "\x0b" + msg + "\x1c\r" }

func TestReader(t *testing.T) {
	in := frame("MSH|a\rPID|1\r") + "\r\n" + frame("MSH|b\r") + frame("")
	r := NewReader(strings.NewReader(in), 0)
	for _, want := range []string{"MSH|a\rPID|1\r", "MSH|b\r", ""} {
		got, err := r.ReadMessage()
		if err != nil || string(got) != want {
			t.Fatalf("ReadMessage = %q, %v; want %q", got, err, want)
		}
	}
	if _, err := r.ReadMessage(); err != io.EOF {
		t.Errorf("at the end: %v", err)
	}
	for in, want := range map[string]error{
		"x" + frame("MSH|a"):              ErrFraming,
		"\x0bMSH|a\x1cX":                  ErrFraming,
		"\x0bMSH|\x0ba\x1c\r":             ErrFraming,
		"\x0bMSH|a":                       io.ErrUnexpectedEOF,
		"\x0bMSH|a\x1c":                   io.ErrUnexpectedEOF,
		frame(strings.Repeat("x", 1025)):  ErrTooLarge,
		frame(strings.Repeat("x", 70000)): ErrTooLarge,
	} {
		_, err := NewReader(strings.NewReader(in), 1024).ReadMessage()
		if !errors.Is(err, want) {
			t.Errorf("%q: %v, want %v", truncate(in), err, want)
		}
	}
	// A message longer than the reader's buffer, at the limit.
	long := strings.Repeat("y", 200000)
	if got, err := NewReader(strings.NewReader(frame(long)), len(long)).ReadMessage(); err != nil || string(got) != long {
		t.Errorf("a 200,000-byte message: %d bytes, %v", len(got), err)
	}
	var buf bytes.Buffer
	if err := WriteMessage(&buf, []byte("a\x1cb")); !errors.Is(err, ErrFraming) {
		t.Errorf("WriteMessage of a framing byte: %v", err)
	}
}

func truncate(s string) string {
	if len(s) > 30 {
		return s[:30] + "…"
	}
	return s
}

// acker answers each message with hl7v2.Ack (AA), or AR when it does not
// parse; hold, when set, makes it wait until the channel is closed.
type acker struct {
	mu   sync.Mutex
	got  []string
	hold chan struct{}
}

func (a *acker) handle(_ context.Context, msg []byte, _ net.Addr) []byte {
	if a.hold != nil {
		<-a.hold
	}
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	m, err := hl7v2.Parse(msg)
	if err != nil {
		return hl7v2.Reject(msg, "R", now, hl7v2.Problem{Code: hl7v2.ErrApplicationInternal, Text: err.Error()}).Encode()
	}
	a.mu.Lock()
	a.got = append(a.got, m.ControlID())
	a.mu.Unlock()
	return hl7v2.Ack(m, hl7v2.AA, "ACK-"+m.ControlID(), now).Encode()
}

func startServer(t *testing.T, s *Server) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
		if err := <-served; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v", err)
		}
	})
	return l.Addr().String()
}

func message(id string) []byte {
	return []byte("MSH|^~\\&|LAB|NORTH|EMR|CLINIC|20261124093000||ORU^R01|" + id + "|P|2.5.1\rPID|1||123^^^MRN\r")
}

// TestServerAcknowledges sends messages on four connections at once, each
// waiting for every acknowledgment: each echoes its message's control id,
// and a message that does not parse is answered AR.
func TestServerAcknowledges(t *testing.T) {
	a := &acker{}
	addr := startServer(t, &Server{Handler: a.handle})
	ctx := context.Background()
	var wg sync.WaitGroup
	for c := range 4 {
		wg.Go(func() {
			client, err := Dial(ctx, addr)
			if err != nil {
				t.Error(err)
				return
			}
			defer client.Close()
			for i := range 50 {
				id := fmt.Sprintf("C%d-%d", c, i)
				raw, err := client.Send(ctx, message(id))
				if err != nil {
					t.Error(err)
					return
				}
				ack, err := hl7v2.Parse(raw)
				if err != nil || ack.Get("MSA-1") != hl7v2.AA || ack.Get("MSA-2") != id || ack.ControlID() != "ACK-"+id {
					t.Errorf("ack of %s: %q, %v", id, raw, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if len(a.got) != 200 {
		t.Errorf("handled %d messages, want 200", len(a.got))
	}
	client, err := Dial(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	raw, err := client.Send(ctx, []byte("not a message"))
	if ack, perr := hl7v2.Parse(raw); err != nil || perr != nil || ack.Get("MSA-1") != hl7v2.AR {
		t.Errorf("answer to garbage: %q, %v, %v", raw, err, perr)
	}
}

// TestServerSlowSender: a message arriving a few bytes at a time, and two
// messages in one write, are read whole.
func TestServerSlowSender(t *testing.T) {
	a := &acker{}
	addr := startServer(t, &Server{Handler: a.handle})
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	f := []byte(frame(string(message("SLOW"))))
	for i := 0; i < len(f); i += 7 {
		conn.Write(f[i:min(i+7, len(f))])
		time.Sleep(time.Millisecond)
	}
	r := NewReader(conn, 0)
	if ack, err := r.ReadMessage(); err != nil || !bytes.Contains(ack, []byte("MSA|AA|SLOW")) {
		t.Fatalf("%q, %v", ack, err)
	}
	conn.Write([]byte(frame(string(message("TWO-1"))) + frame(string(message("TWO-2")))))
	for _, id := range []string{"TWO-1", "TWO-2"} {
		if ack, err := r.ReadMessage(); err != nil || !bytes.Contains(ack, []byte("MSA|AA|"+id)) {
			t.Fatalf("%q, %v", ack, err)
		}
	}
}

// TestServerClosesBadConnections: a message over the limit and a framing
// error close the connection without an answer; so does a connection
// silent past the idle time-out.
func TestServerClosesBadConnections(t *testing.T) {
	a := &acker{}
	addr := startServer(t, &Server{Handler: a.handle, MaxMessage: 1000, IdleTimeout: 200 * time.Millisecond})
	for _, send := range []string{frame(strings.Repeat("x", 2000)), "garbage", ""} {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conn.Write([]byte(send))
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := conn.Read(make([]byte, 100))
		if n != 0 || err != io.EOF {
			t.Errorf("after %q: read %d bytes, %v; want the connection closed", truncate(send), n, err)
		}
		conn.Close()
	}
}

// TestShutdownFinishesMessages: a message being handled when Shutdown
// begins is still acknowledged, then its connection closes; an idle
// connection closes at once; Shutdown returns when both are done.
func TestShutdownFinishesMessages(t *testing.T) {
	a := &acker{hold: make(chan struct{})}
	s := &Server{Handler: a.handle}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	ctx := context.Background()
	idle, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	busy, err := Dial(ctx, l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	acked := make(chan error, 1)
	go func() {
		raw, err := busy.Send(ctx, message("LAST"))
		if err == nil && !bytes.Contains(raw, []byte("MSA|AA|LAST")) {
			err = fmt.Errorf("answer %q", raw)
		}
		acked <- err
	}()
	for {
		s.mu.Lock()
		n := 0
		for _, handling := range s.conns {
			if handling {
				n++
			}
		}
		s.mu.Unlock()
		if n == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	shut := make(chan error, 1)
	go func() { shut <- s.Shutdown(ctx) }()
	idle.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := idle.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("idle connection: %v, want it closed", err)
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned (%v) before the message was acknowledged", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(a.hold)
	if err := <-acked; err != nil {
		t.Errorf("the message in hand: %v", err)
	}
	if err := <-shut; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if err := <-served; !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve: %v", err)
	}
	if _, err := net.Dial("tcp", l.Addr().String()); err == nil {
		t.Error("still accepting after Shutdown")
	}
}

// FuzzReader: any stream gives messages or an error, never a panic, and
// a message never holds a framing byte; what WriteMessage frames reads
// back the same.
func FuzzReader(f *testing.F) {
	f.Add([]byte(frame("MSH|a\r") + "\n" + frame("")))
	f.Add([]byte("\x0bMSH|\x0ba\x1c\r"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(bytes.NewReader(data), 4096)
		for range 100 {
			msg, err := r.ReadMessage()
			if err != nil {
				break
			}
			if bytes.IndexByte(msg, StartBlock) >= 0 || bytes.IndexByte(msg, EndBlock) >= 0 {
				t.Fatalf("message %q holds a framing byte", msg)
			}
		}
		var buf bytes.Buffer
		if err := WriteMessage(&buf, data); err != nil {
			return
		}
		back, err := NewReader(&buf, len(data)).ReadMessage()
		if err != nil || !bytes.Equal(back, data) {
			t.Fatalf("%q framed and read back: %q, %v", data, back, err)
		}
	})
}
