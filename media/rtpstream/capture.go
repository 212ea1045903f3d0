package rtpstream

// captureLead is how many frames the capture queue holds before the
// stream's clock takes the first of them (and again after it ran dry):
// the cushion that absorbs a capture callback a little late.
const captureLead = 2

// captureQueue holds the captured audio between the capture device's
// callbacks and the stream's clock. The two run on different clocks, and
// under load the callbacks come late or in bursts: a queue taken as soon
// as it holds one frame runs short whenever a callback is a little late,
// and a frame of silence (a 20 ms gap) goes out in the middle of speech.
// So the queue starts only once it holds captureLead frames, and takes
// frames from then on without a gap as long as the device keeps up. When
// it grows beyond its limit (the device's clock is faster), the oldest
// audio goes, down to the lead, in one cut rather than a little on every
// callback. It is not safe for concurrent use.
type captureQueue struct {
	pcm     []int16
	limit   int  // samples held at most (at least captureLead+2 frames)
	frame   int  // samples of the last frame taken; 0 before the first
	running bool // the lead was reached: frames are being taken

	underruns uint64 // times it ran dry while running
	dropped   uint64 // samples dropped at the limit
}

// write queues captured samples, dropping the oldest beyond the limit.
func (q *captureQueue) write(pcm []int16) {
	q.pcm = append(q.pcm, pcm...)
	limit := max(q.limit, (captureLead+2)*q.frame)
	if len(q.pcm) <= limit {
		return
	}
	keep := limit
	if q.frame > 0 {
		keep = captureLead * q.frame
	}
	over := len(q.pcm) - keep
	q.dropped += uint64(over)
	q.pcm = q.pcm[:copy(q.pcm, q.pcm[over:])]
}

// take fills frame with the next captured audio and reports true, or
// with silence and reports false while the queue waits for its lead.
func (q *captureQueue) take(frame []int16) bool {
	n := len(frame)
	q.frame = n
	if !q.running {
		if n == 0 || len(q.pcm) < captureLead*n {
			clear(frame)
			return false
		}
		q.running = true
	}
	if len(q.pcm) < n {
		// The device stopped or fell a whole lead behind: wait for the
		// lead again rather than sending one gap per frame from now on.
		q.running = false
		q.underruns++
		clear(frame)
		return false
	}
	copy(frame, q.pcm)
	q.pcm = q.pcm[:copy(q.pcm, q.pcm[n:])]
	return true
}
