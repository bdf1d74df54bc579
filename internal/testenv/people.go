package testenv

import (
	"fmt"
	"math/rand/v2"
)

// NationalID returns a random valid national ID code (کد ملی), so tests
// running side by side never bind the same one to two accounts.
func NationalID() string {
	for {
		d := make([]int, 10)
		sum := 0
		for i := 0; i < 9; i++ {
			d[i] = rand.IntN(10)
			sum += d[i] * (10 - i)
		}
		if r := sum % 11; r < 2 {
			d[9] = r
		} else {
			d[9] = 11 - r
		}
		s := ""
		for _, x := range d {
			s += fmt.Sprint(x)
		}
		if s != "0000000000" && s[1:] != s[:9] {
			return s
		}
	}
}
