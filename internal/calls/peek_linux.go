package calls

import (
	"errors"
	"net"
	"syscall"
)

// peerOpen reports whether the client of a hijacked stream still holds
// its end of the connection. It peeks at the socket without blocking and
// without taking any byte: no data yet (EAGAIN) or unread data means
// open; end of stream (the client closed) or an error such as a reset
// means gone. Connections that are not plain sockets (TLS) count as open;
// their failed writes end them.
func peerOpen(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return true
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	open := true
	var buf [1]byte
	err = raw.Read(func(fd uintptr) bool {
		n, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch {
		case errors.Is(err, syscall.EAGAIN), errors.Is(err, syscall.EINTR):
		case err != nil, n == 0:
			open = false
		}
		return true // never wait for the socket to become readable
	})
	return open && err == nil
}
