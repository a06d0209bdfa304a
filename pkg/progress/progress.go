package progress

// Recorder appends entries, in the order they end, to the slice it was made with, and
// reports each to its report function (none: nothing is reported).
type Recorder[T any] struct {
	into   *[]T
	report func(T)
}

// New records into *into and reports to report (may be nil).
func New[T any](into *[]T, report func(T)) Recorder[T] {
	return Recorder[T]{into: into, report: report}
}

// Record adds e and reports it.
func (r Recorder[T]) Record(e T) {
	*r.into = append(*r.into, e)
	if r.report != nil {
		r.report(e)
	}
}

// Len is how many entries are recorded (the next one's position, from 0).
func (r Recorder[T]) Len() int { return len(*r.into) }
