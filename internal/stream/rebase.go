package stream

import (
	"math"
	"time"

	"github.com/shoal-live/shoal/internal/flv"
)

// Bounds of the gap a takeover leaves between the last timestamp the
// subscribers got and the new publisher's first one.
const (
	// minRebaseGap is the least gap: about one frame at 30 fps, so the
	// first packet of the new publisher never lands on the last one of the
	// old.
	minRebaseGap = 33 * time.Millisecond
	// maxRebaseGap keeps the gap below 2^31 ms, beyond which a 32-bit
	// timestamp reads as a step back.
	maxRebaseGap = math.MaxInt32 * time.Millisecond
)

// rebaseState is where a stream is in shifting a new publisher's
// timestamps after a takeover.
type rebaseState uint8

const (
	rebaseOff   rebaseState = iota // timestamps pass through unchanged
	rebaseStart                    // a takeover: packets take base(); the first frame decides
	rebaseOn                       // every packet is shifted by tsOffset
)

// startRebase prepares the timestamps of a new publisher; takeover says
// whether subscribers of the last publisher are still attached. st.mu must
// be held.
func (st *stream) startRebase(takeover bool) {
	st.tsOffset = 0
	if takeover && st.hasTS {
		st.rebase = rebaseStart
		st.rebaseFrom = st.lastTS
		return
	}
	st.rebase = rebaseOff
	st.hasTS = false // a fresh start: nothing to stay ahead of
}

// rebaseTS sets pkt's timestamp in place while st.rebase is not
// rebaseOff; st.mu must be held. Until the new publisher's first audio or
// video frame, packets (metadata, sequence headers) take base(). The first
// frame takes it too and fixes the offset that shifts every later packet,
// so that they keep their distances to it; unless the frame is at or past
// base() already (a relay whose origin went on counting), in which case
// the publisher's timestamps are kept.
func (st *stream) rebaseTS(pkt *flv.Packet) {
	if st.rebase == rebaseOn {
		pkt.Timestamp += st.tsOffset // wraps like the timestamps
		return
	}
	base := st.base()
	if (pkt.Type == flv.PacketAudio || pkt.Type == flv.PacketVideo) && !pkt.SequenceHeader {
		if int32(pkt.Timestamp-base) >= 0 {
			st.rebase = rebaseOff
			st.r.logger.Info("stream timestamps kept after a publisher takeover: they go on increasing",
				"stream", st.key, "last_ms", st.rebaseFrom, "first_ms", pkt.Timestamp)
			return
		}
		st.tsOffset = base - pkt.Timestamp
		st.rebase = rebaseOn
		st.r.logger.Info("stream timestamps rebased after a publisher takeover",
			"stream", st.key, "last_ms", st.rebaseFrom, "first_ms", pkt.Timestamp, "offset_ms", st.tsOffset)
	}
	pkt.Timestamp = base
}

// base is the timestamp a new publisher's packets start at: the last
// timestamp the subscribers got before the takeover plus the time since
// the last publisher left, measured on the monotonic clock and bounded by
// minRebaseGap and maxRebaseGap.
func (st *stream) base() uint32 {
	gap := min(max(time.Since(st.unpublishedAt), minRebaseGap), maxRebaseGap)
	return st.rebaseFrom + uint32(gap.Milliseconds())
}

// noteTS records ts as the last timestamp delivered if it is later than
// the last one, comparing as 32-bit serial numbers so that it follows the
// timestamps across their wrap; st.mu must be held.
func (st *stream) noteTS(ts uint32) {
	if !st.hasTS || int32(ts-st.lastTS) > 0 {
		st.lastTS, st.hasTS = ts, true
	}
}
