// Package rtmp runs RTMP sessions on top of the handshake, chunk and message
// layers: the server side (Server, ServerConn, ServerStream) that takes
// publishers, players and shared-object clients, and the client side
// (ClientConn) that tests, benchmarks and edges pulling from origins use.
//
// A server connection moves through these states:
//
//	handshake ──ok──▶ connecting ──connect accepted──▶ connected ──close/error──▶ closed
//	    │                  │                               │
//	    └──bad input───────┴──rejected / bad input─────────┘
//
// A connected connection has message streams (createStream); each stream
// either publishes (its media goes to the Handler's Publisher) or plays (a
// goroutine per playing stream reads batches from the Handler's Source and
// writes each batch with one vectored write). Bad input from a client ends
// only that client's connection, logged once with the reason.
//
// Stream addresses are normalised so that ffmpeg ("app" + "room/stream")
// and Flash ("app/room" + "stream") name the same stream: the scope is
// everything but the last path segment, the name is the last segment
// without query string or mp4:/flv: prefix.
package rtmp
