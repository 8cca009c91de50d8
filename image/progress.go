package image

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/berth-project/berth/internal/ids"
	"github.com/docker/go-units"
)

type stage int

const (
	stageWaiting stage = iota
	stageExists
	stageDownloading
	stageDownloaded
	stageExtracted
	stageComplete
)

// progress receives per-layer events from the layer pipeline. Implementations are safe for
// concurrent use.
type progress interface {
	update(index int, st stage, n int64)
}

// noProgress discards every event (quiet pulls, load).
type noProgress struct{}

func (noProgress) update(int, stage, int64) {}

// layerProgress prints Docker's pull progress: one plain line per event when out is not a
// terminal, a live block of per-layer bars when it is.
type layerProgress struct {
	mu       sync.Mutex
	out      io.Writer
	terminal bool
	names    []string
	total    []int64
	done     []int64
	stages   []stage
	drawn    int // lines drawn by the last redraw (terminal)
	stop     chan struct{}
	stopped  chan struct{}
}

// newLayerProgress starts progress for layers named by their blob digests; exists marks layers
// already stored ("Already exists").
func newLayerProgress(out io.Writer, terminal bool, names []string, sizes []int64, exists []bool) *layerProgress {
	p := &layerProgress{out: out, terminal: terminal, names: make([]string, len(names)),
		total: sizes, done: make([]int64, len(names)), stages: make([]stage, len(names))}
	for i, n := range names {
		p.names[i] = ids.Truncate(n)
		if exists[i] {
			p.stages[i] = stageExists
		}
	}
	if terminal {
		p.redraw()
		p.stop, p.stopped = make(chan struct{}), make(chan struct{})
		go p.loop()
		return p
	}
	for i, n := range p.names {
		if exists[i] {
			fmt.Fprintf(out, "%s: Already exists\n", n)
		} else {
			fmt.Fprintf(out, "%s: Pulling fs layer\n", n)
		}
	}
	return p
}

func (p *layerProgress) loop() {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	defer close(p.stopped)
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			p.mu.Lock()
			p.redraw()
			p.mu.Unlock()
		}
	}
}

// finish draws the final state of a terminal display.
func (p *layerProgress) finish() {
	if p == nil || !p.terminal {
		return
	}
	close(p.stop)
	<-p.stopped
	p.mu.Lock()
	p.redraw()
	p.mu.Unlock()
}

func (p *layerProgress) update(i int, st stage, n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if st == stageDownloading {
		p.done[i] += n
		if p.stages[i] < stageDownloading {
			p.stages[i] = stageDownloading
		}
		return
	}
	if st <= p.stages[i] && st != stageComplete {
		return
	}
	if st == stageExtracted && p.stages[i] < stageDownloaded {
		// The tar ended before the compressed stream: count it as downloaded.
		p.stages[i] = stageExtracted
		return
	}
	p.stages[i] = st
	if p.terminal {
		return
	}
	switch st {
	case stageDownloaded:
		fmt.Fprintf(p.out, "%s: Download complete\n", p.names[i])
	case stageComplete:
		fmt.Fprintf(p.out, "%s: Pull complete\n", p.names[i])
	}
}

// redraw rewrites the block of layer lines in place (terminal mode); the caller holds mu.
func (p *layerProgress) redraw() {
	var b strings.Builder
	if p.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", p.drawn)
	}
	for i, n := range p.names {
		b.WriteString("\x1b[2K")
		b.WriteString(n + ": " + p.line(i) + "\n")
	}
	p.drawn = len(p.names)
	io.WriteString(p.out, b.String())
}

func (p *layerProgress) line(i int) string {
	switch p.stages[i] {
	case stageExists:
		return "Already exists"
	case stageWaiting:
		return "Pulling fs layer"
	case stageDownloading:
		return "Downloading " + bar(p.done[i], p.total[i])
	case stageDownloaded, stageExtracted:
		return "Extracting  " + bar(p.done[i], p.total[i])
	}
	return "Pull complete"
}

// bar renders Docker's progress bar: "[=====>      ]  12.3MB/45.6MB".
func bar(done, total int64) string {
	const width = 50
	if total <= 0 {
		return units.HumanSizeWithPrecision(float64(done), 3)
	}
	if done > total {
		done = total
	}
	n := int(float64(width) * float64(done) / float64(total))
	s := strings.Repeat("=", n)
	if n < width {
		s += ">" + strings.Repeat(" ", width-n-1)
	}
	return fmt.Sprintf("[%s]  %s/%s", s, units.HumanSizeWithPrecision(float64(done), 3),
		units.HumanSizeWithPrecision(float64(total), 3))
}
