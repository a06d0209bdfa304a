// Package errmsg shows an error with another message (secrets replaced, temporary paths
// named as the user knows them) while errors.Is and errors.As still see the original.
package errmsg

// Replace returns err shown as replace(err.Error()); err itself when the text is the same.
func Replace(err error, replace func(string) string) error {
	msg := replace(err.Error())
	if msg == err.Error() {
		return err
	}
	return &shown{msg: msg, err: err}
}

type shown struct {
	msg string
	err error
}

func (e *shown) Error() string { return e.msg }
func (e *shown) Unwrap() error { return e.err }
