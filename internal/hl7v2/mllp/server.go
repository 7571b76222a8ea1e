package mllp

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"
)

// Handler answers one message with its acknowledgment. It is called for
// the messages of one connection one at a time, in order; a nil answer
// closes the connection (a sender then sends the message again, so a
// handler answers nil only when it cannot say anything, not even AR).
type Handler func(ctx context.Context, msg []byte, from net.Addr) (ack []byte)

type connKey struct{}

// Conn returns the connection a message handed to a Handler came on (a
// *tls.Conn when the listener is TLS's, its handshake done), or nil.
func Conn(ctx context.Context) net.Conn {
	c, _ := ctx.Value(connKey{}).(net.Conn)
	return c
}

// ErrServerClosed is what Serve returns after Shutdown.
var ErrServerClosed = errors.New("mllp: server closed")

// Server receives messages on TCP connections and answers each with the
// handler's acknowledgment.
type Server struct {
	Handler Handler
	// MaxMessage bounds a message (DefaultMaxMessage when 0). A larger one
	// closes its connection without an answer: the stream cannot be read
	// past it.
	MaxMessage int
	// IdleTimeout closes a connection that sends nothing for this long,
	// and bounds the wait for the rest of a message (5 minutes when 0).
	IdleTimeout time.Duration
	// WriteTimeout bounds sending an acknowledgment (30 s when 0).
	WriteTimeout time.Duration
	// Log receives connection errors (slog.Default() when nil).
	Log *slog.Logger

	mu        sync.Mutex
	listeners map[net.Listener]bool
	conns     map[net.Conn]bool // true while handling a message
	closing   bool
	active    sync.WaitGroup
}

func (s *Server) init() {
	if s.listeners == nil {
		s.listeners, s.conns = map[net.Listener]bool{}, map[net.Conn]bool{}
	}
}

func (s *Server) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

// Serve accepts connections on l until Shutdown, and then returns
// ErrServerClosed; it returns other errors of l at once.
func (s *Server) Serve(l net.Listener) error {
	s.mu.Lock()
	s.init()
	if s.closing {
		s.mu.Unlock()
		l.Close()
		return ErrServerClosed
	}
	s.listeners[l] = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, l)
		s.mu.Unlock()
	}()
	var delay time.Duration
	for {
		conn, err := l.Accept()
		if err != nil {
			if s.isClosing() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				// Out of descriptors and the like: wait, as net/http does.
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				s.log().Warn("mllp: accept failed; retrying", "error", err, "in", delay)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		if !s.track(conn) {
			conn.Close()
			return ErrServerClosed
		}
		go s.serveConn(conn)
	}
}

func (s *Server) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

func (s *Server) track(conn net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.conns[conn] = false
	s.active.Add(1)
	return true
}

// waitForMessage marks conn as waiting for a message, with idle to wait;
// false when the server is closing, and conn is to be closed. Under the
// same lock as Shutdown, which ends the wait of the connections marked
// so: one of the two sets the last read deadline.
func (s *Server) waitForMessage(conn net.Conn, idle time.Duration) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.conns[conn] = false
	if s.closing {
		return false
	}
	conn.SetReadDeadline(time.Now().Add(idle))
	return true
}

// handling marks conn as handling a message: Shutdown waits for its
// acknowledgment.
func (s *Server) handling(conn net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.conns[conn] = true
}

func (s *Server) serveConn(conn net.Conn) {
	defer func() {
		conn.Close()
		s.mu.Lock()
		delete(s.conns, conn)
		s.mu.Unlock()
		s.active.Done()
	}()
	idle, write := s.IdleTimeout, s.WriteTimeout
	if idle <= 0 {
		idle = 5 * time.Minute
	}
	if write <= 0 {
		write = 30 * time.Second
	}
	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), connKey{}, conn))
	defer cancel()
	r := NewReader(conn, s.MaxMessage)
	from := conn.RemoteAddr()
	for {
		if !s.waitForMessage(conn, idle) {
			return
		}
		msg, err := r.ReadMessage()
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !errors.Is(err, os.ErrDeadlineExceeded) {
				s.log().Warn("mllp: connection closed", "from", from, "error", err)
			}
			return
		}
		s.handling(conn)
		ack := s.Handler(ctx, msg, from)
		if ack == nil {
			return
		}
		conn.SetWriteDeadline(time.Now().Add(write))
		if err := WriteMessage(conn, ack); err != nil {
			s.log().Warn("mllp: sending an acknowledgment failed", "from", from, "error", err)
			return
		}
	}
}

// Shutdown stops accepting, ends the connections waiting for a message,
// and waits for those handling one to send its acknowledgment (then they
// close), or for ctx to end, when it closes them too and returns ctx's
// error. A message read but not yet acknowledged is finished, so that
// what a sender saw acknowledged has been handled.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.init()
	s.closing = true
	for l := range s.listeners {
		l.Close()
	}
	for c, busy := range s.conns {
		if !busy {
			// Ends the wait; a message read just before is still
			// handled and acknowledged (the write has its own deadline).
			c.SetReadDeadline(time.Now())
		}
	}
	s.mu.Unlock()
	finished := make(chan struct{})
	go func() {
		s.active.Wait()
		close(finished)
	}()
	select {
	case <-finished:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		for c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		<-finished
		return ctx.Err()
	}
}
