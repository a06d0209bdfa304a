// Command envprint prints its environment, sorted, and exits 1: a migration whose
// failure shows what the pre-flight gave it.
package main

import (
	"fmt"
	"os"
	"sort"
)

func main() {
	env := os.Environ()
	sort.Strings(env)
	for _, e := range env {
		fmt.Println(e)
	}
	os.Exit(1)
}
