package relay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/shoal-live/shoal/internal/rtmp"
	"github.com/shoal-live/shoal/internal/stream"
)

// errTaken: a local publisher holds the key, so the pull has nothing to do.
var errTaken = errors.New("published locally")

// run pulls until ctx is done (Run stops, or the pull went idle),
// reconnecting with backoff whenever the origin is lost.
func (p *pull) run(ctx context.Context) {
	r := p.r
	defer func() {
		r.mu.Lock()
		p.stopLocked()
		r.mu.Unlock()
	}()
	backoff := r.cfg.RetryMin
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			if !sleep(ctx, backoff) {
				return
			}
			backoff = min(2*backoff, r.cfg.RetryMax)
			p.relocate(ctx)
		}
		r.mu.Lock()
		u := p.url
		r.mu.Unlock()
		packets, err := p.pullOnce(ctx, u)
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, errTaken) {
			p.logger.Warn("relay pull stopped: the stream is published on this node", "origin_url", u)
			return
		}
		if packets > 0 {
			backoff = r.cfg.RetryMin // it worked for a while: start over
		}
		level := slog.LevelInfo
		if packets == 0 {
			level = slog.LevelDebug // still failing: logged at debug after the first loss
			if attempt == 0 {
				level = slog.LevelWarn
			}
		}
		p.logger.Log(ctx, level, "relay pull lost its origin, retrying", "origin_url", u, "packets", packets,
			"retry_in", backoff.String(), "err", err)
	}
}

// relocate asks the locator again where the stream is; the origin may
// have changed. A failed lookup keeps the last URL.
func (p *pull) relocate(ctx context.Context) {
	r := p.r
	lctx, cancel := context.WithTimeout(ctx, r.cfg.LookupTimeout)
	defer cancel()
	u, err := r.lookup(lctx, p.key)
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case errors.Is(err, ErrStreamNotFound):
		p.notFound = true
	case err != nil:
		p.logger.Debug("relay origin lookup failed, keeping the last origin", "err", err)
	default:
		p.notFound = false
		if u != p.url {
			p.logger.Info("relay origin moved", "from", p.url, "to", u)
			p.url = u
		}
	}
}

// pullOnce plays the stream from the origin at u and publishes it locally
// until the origin connection ends. It returns how many packets it
// forwarded and why it ended.
func (p *pull) pullOnce(ctx context.Context, u string) (int, error) {
	r := p.r
	app, name, err := splitURL(u)
	if err != nil {
		return 0, err
	}
	cctx, cancel := context.WithTimeout(ctx, r.cfg.ConnectTimeout)
	defer cancel()
	c, err := rtmp.Dial(cctx, app, rtmp.ClientOptions{
		FlashVer: FlashVer, ReadTimeout: r.cfg.ReadTimeout,
		Logger: p.logger,
	})
	if err != nil {
		return 0, err
	}
	defer func() { _ = c.Close() }()
	stop := context.AfterFunc(ctx, func() { _ = c.Close() }) // ends a blocked ReadPacket
	defer stop()
	if err := c.Play(cctx, name); err != nil {
		return 0, err
	}
	pub, err := r.reg.Publish(p.key)
	if errors.Is(err, stream.ErrStreamTaken) {
		return 0, errTaken
	}
	if err != nil {
		return 0, fmt.Errorf("publish locally: %w", err)
	}
	defer pub.Close()
	r.mu.Lock()
	p.connected, p.notFound = true, false
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		p.connected = false
		r.mu.Unlock()
	}()
	p.logger.Info("relay pulling from origin", "origin_url", u)
	n := 0
	for {
		pkt, err := c.ReadPacket()
		if err != nil {
			return n, err
		}
		pub.WritePacket(pkt)
		n++
	}
}

// sleep waits for d or until ctx is done; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
